"""Options shared by several commands, and the readers of option values.

Readers call the one rule in :mod:`sections` (``parse_month``, ``parse_day`` …) and turn its
``ValueError`` into an :class:`InputError` naming the option, so every bad value exits 2 with
the same kind of line.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from enum import StrEnum
from fractions import Fraction
from pathlib import Path
from typing import Annotated, TypeVar

import typer

from service.errors import InputError
from service.time import BEIJING

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "AllowEmptyOption",
    "ChiefsAfterOption",
    "ChiefsOption",
    "MonthOption",
    "OutputOption",
    "RulesOption",
    "SectionsAfterOption",
    "SectionsOption",
    "StatementFormatChoice",
    "StatementFormatOption",
    "StatementShowChoice",
    "StatementShowOption",
    "day",
    "fraction",
    "interval",
    "listen",
    "moment",
    "month",
    "year",
]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000

_SECTIONS_HELP = "断面名录文件（TOML），替换内置名录。Registry file replacing the bundled one."

#: ``--sections`` before the command (``qingliu --sections F compensate``), or from the environment.
SectionsOption = Annotated[
    Path | None, typer.Option("--sections", help=_SECTIONS_HELP, envvar="QINGLIU_SECTIONS")
]
#: The same option after the command (``qingliu compensate --sections F``); it wins.
SectionsAfterOption = Annotated[Path | None, typer.Option("--sections", help=_SECTIONS_HELP)]

_CHIEFS_HELP = (
    "河长名录文件（TOML），替换内置名录；须与所用断面名录一致。"
    "River chief registry file replacing the bundled one."
)

#: ``--chiefs`` before the command (``qingliu --chiefs F chiefs``), or from the environment.
ChiefsOption = Annotated[
    Path | None, typer.Option("--chiefs", help=_CHIEFS_HELP, envvar="QINGLIU_CHIEFS")
]
#: The same option after the command (``qingliu chiefs --chiefs F``); it wins.
ChiefsAfterOption = Annotated[Path | None, typer.Option("--chiefs", help=_CHIEFS_HELP)]


class StatementFormatChoice(StrEnum):
    """Formats of ``qingliu compensate``."""

    json = "json"
    csv = "csv"
    xlsx = "xlsx"
    html = "html"
    pdf = "pdf"


class StatementShowChoice(StrEnum):
    """Formats of ``qingliu statement``: a readable table (``text``) or a statement format."""

    text = "text"
    json = "json"
    csv = "csv"
    xlsx = "xlsx"
    html = "html"
    pdf = "pdf"


MonthOption = Annotated[str, typer.Option(help="月份 YYYY-MM / the month")]
RulesOption = Annotated[
    str | None,
    typer.Option(help="规则集 id 或文件，缺省按月份选择 / rule set (default: by month)"),
]
StatementFormatOption = Annotated[
    StatementFormatChoice | None,
    typer.Option(
        "--format",
        help="输出格式，缺省由 --output 的扩展名推断，否则 json；pdf、xlsx 不输出到终端 "
        "/ output format (default: from --output's extension, else json)",
    ),
]
StatementShowOption = Annotated[
    StatementShowChoice | None,
    typer.Option(
        "--format",
        help="输出格式，缺省由 --output 的扩展名推断，否则 text（可读表格）；"
        "pdf、xlsx 不输出到终端 "
        "/ output format (default: from --output's extension, else a readable table)",
    ),
]
OutputOption = Annotated[
    Path | None,
    typer.Option(
        help="输出文件（扩展名决定格式），缺省为标准输出 "
        "/ output file (its extension gives the format); default: standard output"
    ),
]
AllowEmptyOption = Annotated[
    bool,
    typer.Option(
        "--allow-empty",
        help="无数据时仍以 0 退出（照样提示）/ exit 0 when nothing is found (still says so)",
    ),
]

_T = TypeVar("_T")


def _read(text: str, reader: Callable[[str], _T], option: str) -> _T:
    try:
        return reader(text)
    except (InputError, ValueError) as exc:  # name the option the bad value came from
        raise InputError(f"{option}: {exc}") from None


def month(text: str, option: str = "--month") -> dt.date:
    """``YYYY-MM`` → the first day of the month."""
    from sections.dates import parse_month

    return _read(text, parse_month, option)


def day(text: str, option: str) -> dt.date:
    """``YYYY-MM-DD`` → the day."""
    from sections.dates import parse_day

    return _read(text, parse_day, option)


def year(text: str, option: str = "--year") -> int:
    """``YYYY`` → the year."""
    from sections.dates import parse_year

    return _read(text, parse_year, option)


def moment(text: str, option: str) -> dt.datetime:
    """ISO 8601 time; without an offset it is Beijing time."""
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise InputError(
            f"{option}: 时间必须是 ISO 8601 / must be ISO 8601, got {text!r}"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=BEIJING)


def interval(text: str, option: str = "--every") -> dt.timedelta:
    """``30m``, ``1h``, ``45s`` or a number of seconds → a positive interval (as the settings)."""
    from service.settings import parse_interval

    try:
        return parse_interval(text)
    except ValueError as exc:
        raise InputError(f"{option}: {exc}") from None


def listen(text: str, option: str) -> tuple[str, int]:
    """``HOST:PORT`` → host and port."""
    from service.feeds.hj212.receiver import parse_listen

    return _read(text, parse_listen, option)


def fraction(text: str, option: str) -> Fraction:
    """``2/3`` or ``0.75`` → a share in [0, 1]."""
    from sections.periods import as_fraction

    return _read(text, as_fraction, option)
