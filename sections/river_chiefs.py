"""The river-chief registry (河长制): river reaches, their chiefs, alert channels and operators.

Who receives an early warning for a section, and who comes next when nobody acknowledges it. Like
the section registry (:mod:`sections.registry`), the registry is a TOML data file the bureau
edits (``sections/data/river_chiefs.toml`` ships with Qingliu); it is loaded and validated into
frozen dataclasses, and any bad entry raises :class:`~sections.errors.RiverChiefsError` naming
the table, the entry and the field. Nothing here sends anything or reads the environment.

File layout::

    [[reaches]]    id, river, county, sections, confirmed, from, to, township, note
    [[chiefs]]     id, post, level, confirmed, reaches, channels, escalate_to, name, mobile,
                   email, note
    [[channels]]   id, kind, confirmed, url, secret, to, template, note
    [[operators]]  id, post, sections, confirmed, channels, name, mobile, email, note

- A **reach** (河段) is a stretch of one river (or a lake) in one county (``county`` = a unit id
  of the section registry), holding the monitoring ``sections`` on it; ``from``/``to`` describe
  its ends in words. A section may lie in several reaches (a border section).
- A **chief** (河长, 湖长 for a lake) is a *post* (``"滏阳河市级河长"``) at a ``level``
  (``省 市 县 乡 村``); ``name``, ``mobile`` and ``email`` are filled in from the public board
  (河长公示牌) [V: Hebei boards list names and phones]. ``reaches`` are the reaches the post is
  responsible for; ``escalate_to`` names the chief an unacknowledged alert goes to next, always
  at a **higher** level, so an escalation chain climbs and can never loop. A chief without
  reaches is allowed only as someone's escalation target (e.g. a 总河长).
- A **channel** is where a message goes: ``wecom`` or ``dingtalk`` group robots (``url``; a
  DingTalk ``secret`` for signed robots), ``sms`` through an HTTP gateway (``url``, ``template``)
  or ``email`` (the SMTP server is a setting of the sender, not of this file). ``to`` lists fixed
  recipients of an ``sms`` (mobiles) or ``email`` (addresses) channel; otherwise such a channel
  reaches a chief through the chief's own ``mobile`` or ``email``. A robot reaches the group.
- An **operator** (运维) receives the data-outage alerts of the stations at its ``sections``
  (domain.md §7: a silent or flat-lined station is the operator's business, not the river
  chiefs'). Operators are kept apart from chiefs: they are never in an escalation chain.

Secrets are never stored: ``url``, ``secret``, ``template`` and ``to`` may hold ``${VAR}``
placeholders (:data:`PLACEHOLDER`), kept verbatim here and resolved from the environment by the
sender at the service edge. A ``secret`` must be one placeholder, and so must a credential in a
URL (query ``key``, ``access_token``, ``token``, ``secret``, ``sign``, a password).

A chief or operator that no channel reaches is allowed, but listed in ``unreachable`` and in
``warnings``, as are reaches without a chief and, when the registry is given, assessed sections
in no reach.

References
----------
.. [1] domain.md §1 (river chiefs at county and township level) and §7 (who gets which alert).
.. [2] feeds.md §3 (WeCom, DingTalk, SMS, e-mail) and §4 (河长制: levels, public boards).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import IntEnum
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeAlias, TypeVar, get_args
from urllib.parse import parse_qsl, urlsplit

from sections._entries import check_keys, entries, label
from sections.errors import RiverChiefsError

if TYPE_CHECKING:
    from sections.registry import Registry

__all__ = [
    "BUNDLED_RIVER_CHIEFS",
    "PLACEHOLDER",
    "ChannelEntry",
    "ChannelKind",
    "Chief",
    "ChiefLevel",
    "Operator",
    "Reach",
    "Recipient",
    "RiverChiefs",
    "load_river_chiefs",
    "parse_river_chiefs",
    "placeholders",
]

BUNDLED_RIVER_CHIEFS = "river_chiefs.toml"

ChannelKind = Literal["wecom", "dingtalk", "email", "sms"]
_KINDS: tuple[ChannelKind, ...] = get_args(ChannelKind)

PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
"""A ``${VAR}`` placeholder for a value the sender takes from the environment."""

_MOBILE = re.compile(r"1[3-9]\d{9}")  # 11-digit mainland mobile numbers
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")
#: URL query parameters and parts that carry a credential: only ever a placeholder.
_CREDENTIAL_PARAMETERS = frozenset({"key", "access_token", "token", "secret", "sign", "password"})


class ChiefLevel(IntEnum):
    """A level of the river-chief system (河长制), village (1) to province (5) [V].

    Escalation goes up: a greater value is a higher level. ``label`` is the one-character form
    used in the file (``省 市 县 乡 村``); ``title`` adds 级.
    """

    VILLAGE = 1
    TOWNSHIP = 2
    COUNTY = 3
    CITY = 4
    PROVINCE = 5

    @property
    def label(self) -> str:
        """省, 市, 县, 乡 (乡镇/街道) or 村."""
        return _LEVEL_LABELS[self.value]

    @property
    def title(self) -> str:
        """The label with 级: 县级."""
        return self.label + "级"


_LEVEL_LABELS = {1: "村", 2: "乡", 3: "县", 4: "市", 5: "省"}
_LEVEL_ALIASES = {label: ChiefLevel(value) for value, label in _LEVEL_LABELS.items()} | {
    "乡镇": ChiefLevel.TOWNSHIP,
    "镇": ChiefLevel.TOWNSHIP,
    "街道": ChiefLevel.TOWNSHIP,
}


def placeholders(text: str) -> tuple[str, ...]:
    """The names of the ``${VAR}`` placeholders in a text, in order.

    Examples
    --------
    >>> placeholders("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=${QINGLIU_WECOM_KEY}")
    ('QINGLIU_WECOM_KEY',)
    """
    return tuple(PLACEHOLDER.findall(text))


@dataclass(frozen=True, slots=True)
class Reach:
    """A river reach (河段) of one river or lake in one county, with its sections.

    Attributes
    ----------
    id : str
        Stable identifier, e.g. ``"fuyang-jizhou"``.
    river : str
        River or lake, as the sections' ``river``.
    county : str
        Id of the county (assessed unit of the section registry) the reach lies in.
    sections : tuple of str
        Ids of the monitoring sections on the reach.
    confirmed : bool
        Whether the reach is confirmed by the bureau's records.
    from_, to : str or None
        Where the reach starts and ends, in words (TOML keys ``from`` and ``to``).
    township : str or None
        Township (乡镇/街道) of a township-level reach.
    note : str
        Free text shown to users, e.g. which facts are assumptions.
    """

    id: str
    river: str
    county: str
    sections: tuple[str, ...]
    confirmed: bool
    from_: str | None = None
    to: str | None = None
    township: str | None = None
    note: str = ""


@dataclass(frozen=True, slots=True)
class Chief:
    """A river chief (河长) or lake chief (湖长): a post at a level, with its reaches.

    Attributes
    ----------
    id : str
        Stable identifier, e.g. ``"fuyang-city"``.
    post : str
        The post, e.g. ``"滏阳河市级河长"``; the post is what the registry is built on.
    level : ChiefLevel
        Level of the post; escalation goes to a higher one.
    confirmed : bool
        Whether the entry is confirmed by the public board (河长公示牌).
    reaches : tuple of str
        Ids of the reaches the post is responsible for.
    channels : tuple of str
        Ids of the channels that carry its alerts (may be empty: then it is ``unreachable``).
    escalate_to : str or None
        Id of the chief an unacknowledged alert goes to next (a higher level).
    name, mobile, email : str or None
        The holder of the post, from the public board; ``mobile`` is an 11-digit mobile number.
    note : str
        Free text shown to users.
    """

    id: str
    post: str
    level: ChiefLevel
    confirmed: bool
    reaches: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    escalate_to: str | None = None
    name: str | None = None
    mobile: str | None = None
    email: str | None = None
    note: str = ""


@dataclass(frozen=True, slots=True)
class Operator:
    """A station operator (运维) that receives the data-outage alerts of its sections' stations.

    Attributes
    ----------
    id : str
        Stable identifier, e.g. ``"station-ops"``.
    post : str
        Who it is, e.g. ``"水质自动站运维单位"``.
    sections : tuple of str
        Ids of the sections whose stations it runs.
    confirmed : bool
        Whether the entry is confirmed by the bureau's records.
    channels : tuple of str
        Ids of the channels that carry its alerts.
    name, mobile, email : str or None
        Contact, when known.
    note : str
        Free text shown to users.
    """

    id: str
    post: str
    sections: tuple[str, ...]
    confirmed: bool
    channels: tuple[str, ...] = ()
    name: str | None = None
    mobile: str | None = None
    email: str | None = None
    note: str = ""


Recipient: TypeAlias = Chief | Operator
"""Whoever an alert is addressed to."""


@dataclass(frozen=True, slots=True)
class ChannelEntry:
    """Where messages go: a group robot, an SMS gateway or e-mail (feeds.md §3).

    ``url``, ``secret``, ``template`` and ``to`` are kept as written, ``${VAR}`` placeholders
    included; the sender resolves them from the environment.

    Attributes
    ----------
    id : str
        Stable identifier, e.g. ``"wecom-jizhou"``.
    kind : {'wecom', 'dingtalk', 'email', 'sms'}
        The transport.
    confirmed : bool
        Whether the channel is set up and confirmed.
    url : str or None
        Robot webhook or SMS gateway URL (http/https); none for e-mail.
    secret : str or None
        DingTalk signing secret: always one ``${VAR}`` placeholder.
    to : tuple of str
        Fixed recipients of an ``sms`` (mobiles) or ``email`` (addresses) channel.
    template : str or None
        SMS template id.
    note : str
        Free text shown to users.
    """

    id: str
    kind: ChannelKind
    confirmed: bool
    url: str | None = None
    secret: str | None = None
    to: tuple[str, ...] = ()
    template: str | None = None
    note: str = ""

    @property
    def variables(self) -> tuple[str, ...]:
        """Names of the environment variables its placeholders need, in order, once each."""
        texts = [self.url or "", self.secret or "", self.template or "", *self.to]
        return tuple(dict.fromkeys(name for text in texts for name in placeholders(text)))

    def delivers_to(self, recipient: Recipient) -> bool:
        """Whether a message for ``recipient`` through this channel reaches somebody.

        A robot posts to its group; SMS and e-mail need the recipient's ``mobile`` or ``email``,
        or fixed ``to`` recipients on the channel.
        """
        if self.kind in ("wecom", "dingtalk") or self.to:
            return True
        return (recipient.email if self.kind == "email" else recipient.mobile) is not None


@dataclass(frozen=True, slots=True)
class RiverChiefs:
    """The reaches, chiefs, channels and operators of one file, in file order.

    Attributes
    ----------
    unreachable : tuple of str
        Ids of the chiefs and operators that no channel reaches.
    uncovered : tuple of str
        Assessed sections of the registry in no reach (empty when loaded without a registry).
    warnings : tuple of str
        One bilingual line per problem that is allowed but should be fixed.
    """

    reaches: tuple[Reach, ...]
    chiefs: tuple[Chief, ...]
    channels: tuple[ChannelEntry, ...] = ()
    operators: tuple[Operator, ...] = ()
    source: str = BUNDLED_RIVER_CHIEFS
    unreachable: tuple[str, ...] = ()
    uncovered: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    def reach(self, reach_id: str) -> Reach:
        """The reach with this id; ``KeyError`` naming the valid ids otherwise."""
        return _find(self.reaches, reach_id, "reach")

    def chief(self, chief_id: str) -> Chief:
        """The chief with this id; ``KeyError`` naming the valid ids otherwise."""
        return _find(self.chiefs, chief_id, "chief")

    def channel(self, channel_id: str) -> ChannelEntry:
        """The channel with this id; ``KeyError`` naming the valid ids otherwise."""
        return _find(self.channels, channel_id, "channel")

    def operator(self, operator_id: str) -> Operator:
        """The operator with this id; ``KeyError`` naming the valid ids otherwise."""
        return _find(self.operators, operator_id, "operator")

    def reaches_for_section(self, section_id: str) -> tuple[Reach, ...]:
        """The reaches a section lies in (none for a section in no reach)."""
        return tuple(r for r in self.reaches if section_id in r.sections)

    def chiefs_for_reach(self, reach_id: str) -> tuple[Chief, ...]:
        """The chiefs responsible for a reach, lowest level first (file order within a level)."""
        self.reach(reach_id)
        return _by_level(c for c in self.chiefs if reach_id in c.reaches)

    def chiefs_for_section(self, section_id: str) -> tuple[Chief, ...]:
        """The chiefs whose reaches hold the section, lowest level first, each once.

        Within a level, chiefs come in file order. A section in no reach (a reference section)
        has none.

        Examples
        --------
        >>> chiefs = parse_river_chiefs(_EXAMPLE)
        >>> [c.post for c in chiefs.chiefs_for_section("s")]
        ['某河某县县级河长', '某河市级河长']
        """
        reaches = {r.id for r in self.reaches_for_section(section_id)}
        return _by_level(c for c in self.chiefs if reaches.intersection(c.reaches))

    def escalation_chain(self, chief_id: str) -> tuple[Chief, ...]:
        """The chief, then whom an unacknowledged alert goes to, level by level up.

        Examples
        --------
        >>> chiefs = parse_river_chiefs(_EXAMPLE)
        >>> [(c.id, c.level.label) for c in chiefs.escalation_chain("county")]
        [('county', '县'), ('city', '市')]
        """
        chain = [self.chief(chief_id)]
        while chain[-1].escalate_to is not None:  # strictly up a level each step: it ends
            chain.append(self.chief(chain[-1].escalate_to))
        return tuple(chain)

    def sections_of_chief(self, chief_id: str) -> frozenset[str]:
        """The sections whose alerts may reach a chief: those of their own reaches, and those
        of every chief whose escalation chain passes through them.

        Examples
        --------
        >>> chiefs = parse_river_chiefs(_EXAMPLE)
        >>> sorted(chiefs.sections_of_chief("city")), sorted(chiefs.sections_of_chief("county"))
        (['s'], ['s'])
        """
        me = self.chief(chief_id)
        below = [c for c in self.chiefs if me in self.escalation_chain(c.id)]
        reaches = {reach for chief in below for reach in chief.reaches}
        return frozenset(s for r in self.reaches if r.id in reaches for s in r.sections)

    def operators_for_section(self, section_id: str) -> tuple[Operator, ...]:
        """The operators of the station at a section (data-outage alerts go to them)."""
        return tuple(o for o in self.operators if section_id in o.sections)

    def channels_of(self, recipient: Recipient) -> tuple[ChannelEntry, ...]:
        """The channels of a chief or operator, in its order."""
        return tuple(self.channel(c) for c in recipient.channels)


def load_river_chiefs(
    path: str | Path | None = None, *, registry: Registry | None = None
) -> RiverChiefs:
    """Load and validate a river-chief file; the bundled Hengshui file when ``path`` is None.

    Parameters
    ----------
    path : str or Path, optional
        The TOML file.
    registry : Registry, optional
        The section registry in use: reaches' sections and counties, and operators' sections,
        must exist in it, and its assessed sections in no reach are reported in ``uncovered``.

    Raises
    ------
    RiverChiefsError
        When the file cannot be read or parsed, or an entry is invalid.
    """
    if path is None:
        data = resources.files("sections").joinpath("data", BUNDLED_RIVER_CHIEFS)
        text = data.read_text("utf-8")
        source = BUNDLED_RIVER_CHIEFS
    else:
        source = str(path)
        try:
            text = Path(path).read_text("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise RiverChiefsError(
                f"无法读取文件 / cannot read file: {exc}", entry=source
            ) from None
    return parse_river_chiefs(text, source=source, registry=registry)


def parse_river_chiefs(
    text: str, *, source: str = "<string>", registry: Registry | None = None
) -> RiverChiefs:
    """Parse and validate river-chief TOML text (see :func:`load_river_chiefs`)."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RiverChiefsError(f"TOML 语法错误 / TOML syntax error: {exc}", entry=source) from None
    _check_keys(document, _TABLES, entry=source, required={"reaches", "chiefs"})
    channels = _parse_channels(_entries(document, "channels"))
    reaches = _parse_reaches(_entries(document, "reaches", required=True), registry)
    chiefs = _parse_chiefs(_entries(document, "chiefs", required=True), reaches, channels)
    operators = _parse_operators(_entries(document, "operators"), channels, registry)
    return _with_warnings(
        RiverChiefs(
            reaches=reaches, chiefs=chiefs, channels=channels, operators=operators, source=source
        ),
        registry,
    )


# --- lookups ----------------------------------------------------------------------------------


class _HasId(Protocol):
    @property
    def id(self) -> str: ...


_E = TypeVar("_E", bound=_HasId)


def _find(entries: tuple[_E, ...], wanted: str, what: str) -> _E:
    for entry in entries:
        if entry.id == wanted:
            return entry
    valid = ", ".join(e.id for e in entries) or "—"
    raise KeyError(f"unknown {what} {wanted!r}; valid: {valid}")


def _by_level(chiefs: Iterable[Chief]) -> tuple[Chief, ...]:
    return tuple(sorted(chiefs, key=lambda c: c.level))  # stable: file order within a level


# --- validation helpers -----------------------------------------------------------------------

_TABLES = {"reaches", "chiefs", "channels", "operators"}
_REACH_REQUIRED = {"id", "river", "county", "sections", "confirmed"}
_REACH_OPTIONAL = {"from", "to", "township", "note"}
_CHIEF_REQUIRED = {"id", "post", "level", "confirmed"}
_CHIEF_OPTIONAL = {"reaches", "channels", "escalate_to", "name", "mobile", "email", "note"}
_CHANNEL_REQUIRED = {"id", "kind", "confirmed"}
_CHANNEL_OPTIONAL = {"url", "secret", "to", "template", "note"}
_OPERATOR_REQUIRED = {"id", "post", "sections", "confirmed"}
_OPERATOR_OPTIONAL = {"channels", "name", "mobile", "email", "note"}

#: Which optional channel fields each kind takes (others are an error), and which it needs.
_CHANNEL_FIELDS: Mapping[str, frozenset[str]] = {
    "wecom": frozenset({"url"}),
    "dingtalk": frozenset({"url", "secret"}),
    "sms": frozenset({"url", "to", "template"}),
    "email": frozenset({"to"}),
}
_CHANNEL_NEEDS: Mapping[str, frozenset[str]] = {
    "wecom": frozenset({"url"}),
    "dingtalk": frozenset({"url"}),
    "sms": frozenset({"url"}),
    "email": frozenset(),
}

# A tiny registry for the doctests.
_EXAMPLE = """
[[reaches]]
id = "r"
river = "某河"
county = "u"
sections = ["s"]
confirmed = false

[[chiefs]]
id = "city"
post = "某河市级河长"
level = "市"
reaches = ["r"]
channels = ["robot"]
confirmed = false

[[chiefs]]
id = "county"
post = "某河某县县级河长"
level = "县"
reaches = ["r"]
channels = ["robot"]
escalate_to = "city"
confirmed = false

[[channels]]
id = "robot"
kind = "wecom"
url = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=${KEY}"
confirmed = false
"""


def _entries(document: Mapping[str, Any], table: str, *, required: bool = False) -> list[Any]:
    return entries(document.get(table, []), table, error=RiverChiefsError, required=required)


_label = label


def _check_keys(
    raw: Mapping[str, Any], allowed: set[str], *, entry: str, required: set[str]
) -> None:
    check_keys(raw, allowed, entry=entry, required=required, error=RiverChiefsError)


def _text(raw: Mapping[str, Any], key: str, entry: str) -> str:
    value = raw[key]
    if not isinstance(value, str) or not value.strip():
        raise RiverChiefsError(
            f"必须是非空文本 / must be non-empty text, got {value!r}", entry=entry, field=key
        )
    return value.strip()


def _optional_text(raw: Mapping[str, Any], key: str, entry: str) -> str | None:
    return _text(raw, key, entry) if key in raw else None


def _note(raw: Mapping[str, Any], entry: str) -> str:
    note = raw.get("note", "")
    if not isinstance(note, str):
        raise RiverChiefsError("必须是文本 / must be text", entry=entry, field="note")
    return note.strip()


def _boolean(raw: Mapping[str, Any], key: str, entry: str) -> bool:
    value = raw[key]
    if not isinstance(value, bool):
        raise RiverChiefsError(
            f"必须是 true 或 false / must be a boolean, got {value!r}", entry=entry, field=key
        )
    return value


def _ids(raw: Mapping[str, Any], key: str, entry: str, *, nonempty: bool) -> tuple[str, ...]:
    value = raw.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise RiverChiefsError(
            f"必须是非空文本的列表 / must be a list of ids, got {value!r}", entry=entry, field=key
        )
    ids = tuple(v.strip() for v in value)
    if nonempty and not ids:
        raise RiverChiefsError("列表不能为空 / the list must not be empty", entry=entry, field=key)
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise RiverChiefsError(
            f"重复的 id / duplicate ids {', '.join(duplicates)}", entry=entry, field=key
        )
    return ids


def _references(
    ids: tuple[str, ...], known: Mapping[str, Any], *, what: tuple[str, str], entry: str, key: str
) -> None:
    """Each id is a key of ``known``; ``what`` names the kind in Chinese and English."""
    for ident in ids:
        if ident not in known:
            valid = ", ".join(known) or "—"
            raise RiverChiefsError(
                f"未知的{what[0]} / unknown {what[1]} {ident!r} (valid: {valid})",
                entry=entry,
                field=key,
            )


def _new_id(raw: Mapping[str, Any], entry: str, seen: set[str]) -> str:
    ident = _text(raw, "id", entry)
    if ident in seen:
        raise RiverChiefsError("重复的 id / duplicate id", entry=entry, field="id")
    seen.add(ident)
    return ident


def _level(raw: Mapping[str, Any], entry: str) -> ChiefLevel:
    value = raw["level"]
    level = _LEVEL_ALIASES.get(value.strip().removesuffix("级")) if isinstance(value, str) else None
    if level is None:
        raise RiverChiefsError(
            f"必须是 省 | 市 | 县 | 乡 | 村 之一 / must be one of them, got {value!r}",
            entry=entry,
            field="level",
        )
    return level


def _kind(raw: Mapping[str, Any], entry: str) -> ChannelKind:
    value = raw["kind"]
    for option in _KINDS:  # the option itself, so its Literal type comes back
        if value == option:
            return option
    raise RiverChiefsError(
        f"必须是 {' | '.join(_KINDS)} 之一 / must be one of them, got {value!r}",
        entry=entry,
        field="kind",
    )


def _mobile(value: str, entry: str, key: str) -> str:
    if not _MOBILE.fullmatch(value):
        raise RiverChiefsError(
            f"必须是 11 位手机号 / must be an 11-digit mobile number, got {value!r}",
            entry=entry,
            field=key,
        )
    return value


def _email(value: str, entry: str, key: str) -> str:
    if not _EMAIL.fullmatch(value):
        raise RiverChiefsError(
            f"不是电子邮件地址 / not an e-mail address: {value!r}", entry=entry, field=key
        )
    return value


def _contact(raw: Mapping[str, Any], entry: str) -> tuple[str | None, str | None, str | None]:
    """``name``, ``mobile`` and ``email`` of a chief or operator, each checked when given."""
    mobile = _optional_text(raw, "mobile", entry)
    email = _optional_text(raw, "email", entry)
    return (
        _optional_text(raw, "name", entry),
        None if mobile is None else _mobile(mobile, entry, "mobile"),
        None if email is None else _email(email, entry, "email"),
    )


def _with_placeholders(value: str, entry: str, key: str) -> str:
    """The text, after checking that every ``${`` opens a well-formed placeholder."""
    if "${" in PLACEHOLDER.sub("", value):
        raise RiverChiefsError(
            f"占位符格式为 ${{VAR}} / malformed placeholder in {value!r}", entry=entry, field=key
        )
    return value


def _is_placeholder(value: str) -> bool:
    return PLACEHOLDER.fullmatch(value) is not None


def _url(value: str, entry: str) -> str:
    _with_placeholders(value, entry, "url")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() for c in value):
        raise RiverChiefsError(
            f"不是 http(s) 地址 / not an http(s) URL: {value!r}", entry=entry, field="url"
        )
    credentials = [v for k, v in parse_qsl(parts.query) if k.lower() in _CREDENTIAL_PARAMETERS]
    if parts.password is not None:
        credentials.append(parts.password)
    if not all(_is_placeholder(v) for v in credentials):
        raise RiverChiefsError(
            "地址中的密钥须写成 ${VAR} 占位符，不写入文件 / a credential in a URL must be a "
            "${VAR} placeholder, never the value",
            entry=entry,
            field="url",
        )
    return value


def _recipients(raw: Mapping[str, Any], entry: str, kind: ChannelKind) -> tuple[str, ...]:
    to = _ids(raw, "to", entry, nonempty="to" in raw)
    check = _email if kind == "email" else _mobile
    for address in to:
        if not _is_placeholder(address):
            _with_placeholders(address, entry, "to")
            check(address, entry, "to")
    return to


# --- the tables -------------------------------------------------------------------------------


def _parse_channels(raws: list[Any]) -> tuple[ChannelEntry, ...]:
    channels: list[ChannelEntry] = []
    seen: set[str] = set()
    for index, raw in enumerate(raws):
        entry = _label("channels", index, raw)
        _check_keys(raw, _CHANNEL_REQUIRED | _CHANNEL_OPTIONAL, entry=entry,
                    required=_CHANNEL_REQUIRED)  # fmt: skip
        ident = _new_id(raw, entry, seen)
        kind = _kind(raw, entry)
        for key in sorted(_CHANNEL_OPTIONAL - {"note"} - _CHANNEL_FIELDS[kind]):
            if key in raw:
                raise RiverChiefsError(
                    f"{kind} 通道不用此字段 / a {kind} channel takes no {key!r}",
                    entry=entry,
                    field=key,
                )
        for key in sorted(_CHANNEL_NEEDS[kind]):
            if key not in raw:
                raise RiverChiefsError(
                    f"{kind} 通道必须有此字段 / a {kind} channel needs it", entry=entry, field=key
                )
        url = _optional_text(raw, "url", entry)
        secret = _optional_text(raw, "secret", entry)
        if secret is not None and not _is_placeholder(secret):
            raise RiverChiefsError(
                "密钥须写成 ${VAR} 占位符，不写入文件 / a secret must be a ${VAR} placeholder",
                entry=entry,
                field="secret",
            )
        template = _optional_text(raw, "template", entry)
        if template is not None:
            _with_placeholders(template, entry, "template")
        channels.append(
            ChannelEntry(
                id=ident,
                kind=kind,
                confirmed=_boolean(raw, "confirmed", entry),
                url=None if url is None else _url(url, entry),
                secret=secret,
                to=_recipients(raw, entry, kind),
                template=template,
                note=_note(raw, entry),
            )
        )
    return tuple(channels)


def _parse_reaches(raws: list[Any], registry: Registry | None) -> tuple[Reach, ...]:
    reaches: list[Reach] = []
    seen: set[str] = set()
    for index, raw in enumerate(raws):
        entry = _label("reaches", index, raw)
        _check_keys(raw, _REACH_REQUIRED | _REACH_OPTIONAL, entry=entry, required=_REACH_REQUIRED)
        reach = Reach(
            id=_new_id(raw, entry, seen),
            river=_text(raw, "river", entry),
            county=_text(raw, "county", entry),
            sections=_ids(raw, "sections", entry, nonempty=True),
            confirmed=_boolean(raw, "confirmed", entry),
            from_=_optional_text(raw, "from", entry),
            to=_optional_text(raw, "to", entry),
            township=_optional_text(raw, "township", entry),
            note=_note(raw, entry),
        )
        if registry is not None:
            _check_reach(reach, registry, entry)
        reaches.append(reach)
    return tuple(reaches)


def _check_reach(reach: Reach, registry: Registry, entry: str) -> None:
    units = {u.id: u for u in registry.units}
    _references(
        (reach.county,), units, what=("县（考核单位）", "county"), entry=entry, key="county"
    )
    sections = {s.id: s for s in registry.sections}
    _references(reach.sections, sections, what=("断面", "section"), entry=entry, key="sections")
    for section_id in reach.sections:
        river = sections[section_id].river
        if river != reach.river:
            raise RiverChiefsError(
                f"断面 {section_id} 在{river}上，不在{reach.river}上 / section {section_id!r} "
                f"is on {river}, not on {reach.river}",
                entry=entry,
                field="sections",
            )


def _parse_chiefs(
    raws: list[Any], reaches: tuple[Reach, ...], channels: tuple[ChannelEntry, ...]
) -> tuple[Chief, ...]:
    chiefs: list[Chief] = []
    labels: dict[str, str] = {}
    seen: set[str] = set()
    reach_ids = {r.id: r for r in reaches}
    channel_ids = {c.id: c for c in channels}
    for index, raw in enumerate(raws):
        entry = _label("chiefs", index, raw)
        _check_keys(raw, _CHIEF_REQUIRED | _CHIEF_OPTIONAL, entry=entry, required=_CHIEF_REQUIRED)
        ident = _new_id(raw, entry, seen)
        held = _ids(raw, "reaches", entry, nonempty=False)
        _references(held, reach_ids, what=("河段", "reach"), entry=entry, key="reaches")
        used = _ids(raw, "channels", entry, nonempty=False)
        _references(used, channel_ids, what=("通道", "channel"), entry=entry, key="channels")
        name, mobile, email = _contact(raw, entry)
        chiefs.append(
            Chief(
                id=ident,
                post=_text(raw, "post", entry),
                level=_level(raw, entry),
                confirmed=_boolean(raw, "confirmed", entry),
                reaches=held,
                channels=used,
                escalate_to=_optional_text(raw, "escalate_to", entry),
                name=name,
                mobile=mobile,
                email=email,
                note=_note(raw, entry),
            )
        )
        labels[ident] = entry
    _check_escalation(chiefs, labels)
    return tuple(chiefs)


def _check_escalation(chiefs: list[Chief], labels: Mapping[str, str]) -> None:
    """Each ``escalate_to`` names a chief of a higher level; so no chain can loop."""
    by_id = {c.id: c for c in chiefs}
    targets = {c.escalate_to for c in chiefs}
    for chief in chiefs:
        entry = labels[chief.id]
        if chief.escalate_to is not None:
            _references(
                (chief.escalate_to,), by_id, what=("河长", "chief"), entry=entry, key="escalate_to"
            )
            target = by_id[chief.escalate_to]
            if target.level <= chief.level:
                raise RiverChiefsError(
                    f"只能上报更高一级：{target.id} 为{target.level.title}，本河长为"
                    f"{chief.level.title} / must escalate to a higher level: {target.id!r} is "
                    f"{target.level.name.lower()}, this chief {chief.level.name.lower()}",
                    entry=entry,
                    field="escalate_to",
                )
        if not chief.reaches and chief.id not in targets:
            raise RiverChiefsError(
                "既无河段，也不是上报对象 / holds no reach and is nobody's escalation target",
                entry=entry,
                field="reaches",
            )


def _parse_operators(
    raws: list[Any], channels: tuple[ChannelEntry, ...], registry: Registry | None
) -> tuple[Operator, ...]:
    operators: list[Operator] = []
    seen: set[str] = set()
    channel_ids = {c.id: c for c in channels}
    for index, raw in enumerate(raws):
        entry = _label("operators", index, raw)
        _check_keys(raw, _OPERATOR_REQUIRED | _OPERATOR_OPTIONAL, entry=entry,
                    required=_OPERATOR_REQUIRED)  # fmt: skip
        ident = _new_id(raw, entry, seen)
        sections = _ids(raw, "sections", entry, nonempty=True)
        if registry is not None:
            known = {s.id: s for s in registry.sections}
            _references(sections, known, what=("断面", "section"), entry=entry, key="sections")
        used = _ids(raw, "channels", entry, nonempty=False)
        _references(used, channel_ids, what=("通道", "channel"), entry=entry, key="channels")
        name, mobile, email = _contact(raw, entry)
        operators.append(
            Operator(
                id=ident,
                post=_text(raw, "post", entry),
                sections=sections,
                confirmed=_boolean(raw, "confirmed", entry),
                channels=used,
                name=name,
                mobile=mobile,
                email=email,
                note=_note(raw, entry),
            )
        )
    return tuple(operators)


def _with_warnings(chiefs: RiverChiefs, registry: Registry | None) -> RiverChiefs:
    """The registry with ``unreachable``, ``uncovered`` and ``warnings`` filled in."""
    warnings: list[str] = []
    unreachable: list[str] = []
    recipients: list[tuple[str, Recipient]] = [
        *((f"chiefs[{i}] ({c.id})", c) for i, c in enumerate(chiefs.chiefs)),
        *((f"operators[{i}] ({o.id})", o) for i, o in enumerate(chiefs.operators)),
    ]
    for entry, recipient in recipients:
        channels = chiefs.channels_of(recipient)
        for channel in channels:
            if not channel.delivers_to(recipient):
                what = (
                    ("邮箱", "e-mail address") if channel.kind == "email" else ("手机号", "mobile")
                )
                warnings.append(
                    f"{entry}: 通道 {channel.id} 缺{what[0]}，送达不了 / channel "
                    f"{channel.id!r} has no {what[1]} to deliver to"
                )
        if not any(c.delivers_to(recipient) for c in channels):
            unreachable.append(recipient.id)
            warnings.append(f"{entry}: 没有能送达的通道 / no channel reaches it")
    held = {r for c in chiefs.chiefs for r in c.reaches}
    for index, reach in enumerate(chiefs.reaches):
        if reach.id not in held:
            warnings.append(f"reaches[{index}] ({reach.id}): 没有河长 / no chief holds this reach")
    uncovered: list[str] = []
    if registry is not None:
        covered = {s for r in chiefs.reaches for s in r.sections}
        uncovered = [s.id for s in registry.assessed_sections() if s.id not in covered]
        warnings.extend(
            f"断面 / section {s}: 不在任何河段，预警无人接收 / in no reach: its alerts reach nobody"
            for s in uncovered
        )
    return RiverChiefs(
        reaches=chiefs.reaches,
        chiefs=chiefs.chiefs,
        channels=chiefs.channels,
        operators=chiefs.operators,
        source=chiefs.source,
        unreachable=tuple(unreachable),
        uncovered=tuple(uncovered),
        warnings=tuple(warnings),
    )
