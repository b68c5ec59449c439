"""Qingliu's one error tree, rooted here so that every package can join it.

Classes are organised by **what the caller can do**; each carries the HTTP status an API answers
with (``status``), the exit code a command ends with (``exit_code``) and a short bilingual title
(``title``). The domain packages add their own classes under these; ``service`` adds the rest
(``service.errors``) and translates every one of them at its two edges: one FastAPI handler, one
CLI wrapper. Nothing here depends on ``service``.

::

    QingliuError                  500 / 1   an error the caller cannot fix (a defect, reported)
    ├── InputError (ValueError)   422 / 2   the input is wrong: fix it and try again
    │   ├── SectionsError ─┬── EntryError ─┬─ RegistryError     the registry names entry and field
    │   │                  │               ├─ RiverChiefsError  the river-chief file, likewise
    │   │                  │               └─ MapDataError      the map's river lines (sections.map)
    │   │                  ├── AlertRulesError     the alert-rules file names a rule and field
    │   │                  └── UnknownClassError   a class that cannot be read
    │   └── (compensation) RuleError, MeasurementError; (service) FrameError, file rows …
    ├── NotFoundError (LookupError)  404 / 3   the thing asked for does not exist (yet)
    │   └── DataTableError (KeyError)   a key not in a shipped data table (names the valid ones)
    ├── ConflictError             409 / 4   the request clashes with the stored state: reload
    ├── UnavailableError          503 / 5   a database, feed or service is down: try later
    └── ConfigurationError (ValueError)  500 / 6   a setting is invalid: the operator fixes it

``SectionsError`` remains the base of this package's own errors (``except SectionsError``), and
is an ``InputError``: a domain error always comes from what the caller gave.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "AlertRulesError",
    "ConfigurationError",
    "ConflictError",
    "DataTableError",
    "EntryError",
    "InputError",
    "NotFoundError",
    "QingliuError",
    "RegistryError",
    "RiverChiefsError",
    "SectionsError",
    "UnavailableError",
    "UnknownClassError",
]


class QingliuError(Exception):
    """Root of every error Qingliu raises on purpose.

    Attributes
    ----------
    status : int
        HTTP status of an API answer carrying this error.
    exit_code : int
        Exit code of a command ending on this error.
    title : str
        Short bilingual name of the kind of error, shown before the message.
    """

    status: ClassVar[int] = 500
    exit_code: ClassVar[int] = 1
    title: ClassVar[str] = "内部错误 / internal error"


class InputError(QingliuError, ValueError):
    """What the caller gave is wrong (a file, a parameter, an option); the message says where.

    ``row`` and ``column`` name the place in an input file when there is one.
    """

    status: ClassVar[int] = 422
    exit_code: ClassVar[int] = 2
    title: ClassVar[str] = "输入有误 / invalid input"

    def __init__(self, message: str, *, row: int | None = None, column: str | None = None) -> None:
        self.row = row
        self.column = column
        where = []
        if row is not None:
            where.append(f"第 {row} 行 / row {row}")
        if column is not None:
            where.append(f"列 / column '{column}'")
        prefix = f"{', '.join(where)}: " if where else ""
        super().__init__(prefix + message)


class NotFoundError(QingliuError, LookupError):
    """The section, unit, month, version … asked for does not exist (or not yet)."""

    status: ClassVar[int] = 404
    exit_code: ClassVar[int] = 3
    title: ClassVar[str] = "未找到 / not found"

    def __str__(self) -> str:  # LookupError subclasses such as KeyError quote their argument
        return str(self.args[0]) if self.args else ""


class ConflictError(QingliuError):
    """The request clashes with what is stored (e.g. two issues of one statement at once)."""

    status: ClassVar[int] = 409
    exit_code: ClassVar[int] = 4
    title: ClassVar[str] = "冲突 / conflict"


class UnavailableError(QingliuError):
    """Something the request needs is down or slow: the database, a feed, a remote service."""

    status: ClassVar[int] = 503
    exit_code: ClassVar[int] = 5
    title: ClassVar[str] = "暂不可用 / unavailable"


class ConfigurationError(QingliuError, ValueError):
    """A setting is invalid; the message names the ``QINGLIU_`` variable."""

    status: ClassVar[int] = 500
    exit_code: ClassVar[int] = 6
    title: ClassVar[str] = "配置错误 / configuration error"


class SectionsError(InputError):
    """Base class of every error raised by :mod:`sections` for what a caller gave."""


class EntryError(SectionsError):
    """An entry of a data file the bureau edits (a registry) is invalid.

    Attributes
    ----------
    entry : str
        Which entry is wrong, table first, e.g. ``sections[3] (xiaofanqiao)``.
    field : str or None
        The field of that entry, when one field is to blame.
    """

    what: ClassVar[str] = "数据文件错误 / data file error"

    def __init__(self, message: str, *, entry: str, field: str | None = None) -> None:
        self.entry = entry
        self.field = field
        where = entry if field is None else f"{entry}, field '{field}'"
        super().__init__(f"{self.what} in {where}: {message}")


class RegistryError(EntryError):
    """A section registry entry is invalid (entry e.g. ``sections[3] (xiaofanqiao)``)."""

    what = "断面名录错误 / registry error"


class RiverChiefsError(EntryError):
    """A river-chief registry entry (河段、河长、通道、运维) is invalid (entry e.g.
    ``chiefs[3] (fuyang-jizhou-county)``)."""

    what = "河长名录错误 / river-chief registry error"


class AlertRulesError(SectionsError):
    """An early-warning rules file (``alert_rules.toml``) is invalid.

    Attributes
    ----------
    rule : str
        Which rule or table is wrong, e.g. ``rules.consecutive_values`` or ``levels``.
    field : str or None
        The field of that rule, when one field is to blame, e.g. ``parameters.count``.
    """

    def __init__(self, message: str, *, rule: str, field: str | None = None) -> None:
        self.rule = rule
        self.field = field
        where = rule if field is None else f"{rule}, field '{field}'"
        super().__init__(f"预警规则错误 / alert-rules error in {where}: {message}")


class UnknownClassError(SectionsError):
    """A water-quality class string or number is not one of Ⅰ…Ⅴ, 劣Ⅴ (1…6)."""


class DataTableError(NotFoundError, KeyError):
    """A key is not in a shipped data table; the message names the table and the valid keys."""

    def __str__(self) -> str:  # KeyError quotes its argument; show the plain message instead
        return str(self.args[0]) if self.args else ""
