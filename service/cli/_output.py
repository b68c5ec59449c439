"""Where a command's output goes, in which format, and what it says when it found nothing.

Every command that writes a document or data goes through here, so the rules are one set:

- the format is ``--format``; without it, the extension of ``--output`` (:data:`EXTENSIONS`);
  without either, the command's default. A ``--format`` that contradicts the extension, or an
  extension no format of the command has, is an input error (exit 2);
- a binary format (:data:`BINARY_FORMATS`: PDF, XLSX) is never written to a terminal: without
  ``--output`` and with standard output a terminal the command refuses, before it computes
  anything; redirected standard output gets the bytes. No file is ever written that the user did
  not name;
- a command that found nothing (a month without data, a filter matching no row) says so on
  stderr and exits 2 (:data:`NOTHING_FOUND_EXIT`), or 0 with ``--allow-empty``
  (:func:`nothing_found`).
"""

from __future__ import annotations

import sys
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import typer

from service.errors import InputError

__all__ = [
    "BINARY_FORMATS",
    "EXTENSIONS",
    "NOTHING_FOUND_EXIT",
    "Destination",
    "destination",
    "nothing_found",
]

#: Output file extension → format.
EXTENSIONS: Mapping[str, str] = {
    ".csv": "csv",
    ".htm": "html",
    ".html": "html",
    ".json": "json",
    ".pdf": "pdf",
    ".txt": "text",
    ".xlsx": "xlsx",
}
#: Formats that are bytes, not text: never written to a terminal.
BINARY_FORMATS = frozenset({"pdf", "xlsx"})
#: Exit code of a command that found nothing (without ``--allow-empty``): as an input error.
NOTHING_FOUND_EXIT = InputError.exit_code


@dataclass(frozen=True)
class Destination:
    """A command's resolved output: its format and file (None: standard output)."""

    fmt: str
    path: Path | None

    @property
    def binary(self) -> bool:
        """Whether the format is bytes (PDF, XLSX)."""
        return self.fmt in BINARY_FORMATS

    def write(self, data: bytes) -> None:
        """Write the whole output: to the named file, else to standard output."""
        if self.path is None:
            if self.binary:
                sys.stdout.flush()
                sys.stdout.buffer.write(data)
                sys.stdout.buffer.flush()
            else:
                sys.stdout.write(data.decode("utf-8"))
            return
        try:
            self.path.write_bytes(data)
        except OSError as exc:
            raise InputError(f"无法写入 / cannot write {self.path}: {exc}") from exc
        _written(self.path)

    def write_text(self, chunks: Iterable[str]) -> None:
        """Write text chunk by chunk (a long export): to the named file, else standard output."""
        if self.path is None:
            for chunk in chunks:
                sys.stdout.write(chunk)
            return
        try:
            with self.path.open("w", encoding="utf-8", newline="") as file:
                for chunk in chunks:
                    file.write(chunk)
        except OSError as exc:
            raise InputError(f"无法写入 / cannot write {self.path}: {exc}") from exc
        _written(self.path)


def _written(path: Path) -> None:
    typer.echo(f"已写入 / written: {path}", err=True)


def destination(
    fmt: str | None,
    output: Path | None,
    *,
    allowed: Collection[str],
    default: str,
    is_tty: bool | None = None,
) -> Destination:
    """Resolve ``--format`` and ``--output`` of a command, or refuse them.

    Parameters
    ----------
    fmt : str or None
        ``--format`` as given; None when it was not.
    output : Path or None
        ``--output``; None for standard output.
    allowed : collection of str
        The command's formats.
    default : str
        The format when neither ``--format`` nor a known extension says one.
    is_tty : bool or None
        Whether standard output is a terminal; None: ask ``sys.stdout``.

    Raises
    ------
    InputError
        ``--format`` contradicts the extension of ``--output``; the extension is not one of
        the command's formats; a binary format would go to a terminal.
    """
    choices = ", ".join(sorted(allowed))
    if fmt is not None and fmt not in allowed:
        raise InputError(f"--format 必须是 {choices} 之一 / --format must be one of {choices}")
    suffix = output.suffix.lower() if output is not None else ""
    inferred = EXTENSIONS.get(suffix)
    if fmt is not None and inferred is not None and fmt != inferred:
        raise InputError(
            f"--format {fmt} 与 --output 的扩展名 {suffix} 不符 / --format {fmt} contradicts "
            f"the extension {suffix} of --output"
        )
    if fmt is None and suffix and (inferred is None or inferred not in allowed):
        raise InputError(
            f"无法由 --output 的扩展名 {suffix} 确定格式（可用：{choices}），请给出 --format "
            f"/ the extension {suffix} of --output is not a format of this command "
            f"({choices}): give --format"
        )
    resolved = fmt or inferred or default
    if output is None and resolved in BINARY_FORMATS:
        terminal = sys.stdout.isatty() if is_tty is None else is_tty
        if terminal:
            raise InputError(
                f"{resolved} 是二进制格式，不向终端输出；请用 --output 文件名，或重定向标准输出 "
                f"/ {resolved} is binary and is not written to a terminal: give --output FILE "
                f"or redirect standard output"
            )
    return Destination(fmt=resolved, path=output)


def nothing_found(message: str, *, allow_empty: bool) -> None:
    """Say on stderr that the command found nothing; exit 2 unless ``allow_empty``.

    ``message`` says what was looked for, in Chinese then English
    (``2025-03 没有监测数据 / no data in 2025-03``).
    """
    typer.echo(f"无数据 / nothing found: {message}", err=True)
    if not allow_empty:
        raise typer.Exit(NOTHING_FOUND_EXIT)
