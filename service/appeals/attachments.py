"""What an appeal may carry: a few bounded files of known kinds, recognised by their content.

An attachment is a laboratory report (PDF or a scan), a flow or operation record (Excel, Word,
CSV) or a photograph. Its kind is read from the bytes, not from the name the browser sent
(:mod:`filetype`; text must be UTF-8 or GB 18030); its name is cut to a plain file name. The
limits bound what one appeal can store [A].
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from typing import Final

import filetype

from service.errors import InputError

__all__ = [
    "ALLOWED_KINDS",
    "MAX_ATTACHMENTS",
    "MAX_ATTACHMENT_BYTES",
    "MAX_FILING_BYTES",
    "MAX_TOTAL_BYTES",
    "Attachment",
    "checked_attachment",
]

MAX_ATTACHMENTS: Final = 5
"""Files per appeal [A]."""
MAX_ATTACHMENT_BYTES: Final = 10 * 1024 * 1024
"""Bytes per file [A]: a scanned multi-page report fits."""
MAX_TOTAL_BYTES: Final = 20 * 1024 * 1024
"""Bytes of all files of one appeal [A]."""
MAX_FILING_BYTES: Final = MAX_TOTAL_BYTES + 256 * 1024
"""The largest request that files an appeal: its files and the form around them."""

ALLOWED_KINDS: Final = {
    "application/pdf": "PDF",
    "image/png": "PNG 图片",
    "image/jpeg": "JPEG 图片",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "Excel（xlsx）",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "Word（docx）",
    "text/csv": "CSV 文本",
    "text/plain": "文本",
}
"""Media types an attachment may have → how the page names them."""

_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\:*?\"<>|]+")


@dataclass(frozen=True)
class Attachment:
    """A checked file, ready to store."""

    filename: str
    media_type: str
    content: bytes

    @property
    def sha256(self) -> str:
        """The SHA-256 of the content (hex)."""
        return hashlib.sha256(self.content).hexdigest()


def _plain_name(name: str) -> str:
    """The last part of a path, without control or reserved characters, at most 128 characters."""
    base = re.split(r"[/\\]", unicodedata.normalize("NFC", name))[-1]
    cleaned = _UNSAFE.sub("_", base).strip(" .")
    if len(cleaned) > 128:
        stem, dot, suffix = cleaned.rpartition(".")
        cleaned = (
            (stem[: 127 - len(suffix)] + dot + suffix)
            if dot and len(suffix) <= 10
            else (cleaned[:128])
        )
    return cleaned or "附件"


def _text_kind(content: bytes, name: str) -> str | None:
    for encoding in ("utf-8", "gb18030"):
        try:
            text = content.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "\x00" in text:
            return None
        return "text/csv" if name.lower().endswith(".csv") else "text/plain"
    return None


def checked_attachment(name: str, content: bytes) -> Attachment:
    """An attachment from what was uploaded, or a clear refusal.

    Raises
    ------
    InputError
        An empty file, one over :data:`MAX_ATTACHMENT_BYTES`, or content of a kind not in
        :data:`ALLOWED_KINDS` (whatever its name says).
    """
    filename = _plain_name(name)
    if not content:
        raise InputError(f"附件“{filename}”为空 / the attachment is empty")
    if len(content) > MAX_ATTACHMENT_BYTES:
        raise InputError(
            f"附件“{filename}”超过 {MAX_ATTACHMENT_BYTES // (1024 * 1024)} MB / "
            "the attachment is too large"
        )
    guessed = filetype.guess(content)
    media_type = guessed.mime if guessed is not None else _text_kind(content, filename)
    if media_type not in ALLOWED_KINDS:
        kinds = "、".join(dict.fromkeys(ALLOWED_KINDS.values()))
        raise InputError(
            f"附件“{filename}”的类型不受支持（{media_type or '无法识别'}），可上传：{kinds} / "
            "unsupported attachment type"
        )
    return Attachment(filename, media_type, content)
