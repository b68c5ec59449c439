"""Reading the national publish API's ``getRealDatas`` answer: pure, bytes → :class:`CnemcPage`.

Columns are matched by header text (:data:`COLUMN_MAP`), never by position; a parameter cell's
full-precision value is the ``原始值`` of its tooltip; the ``MM-DD HH:MM`` time gets its year from
the fetch time (:func:`infer_observed_at`). Anything unusable raises
:class:`~service.errors.FeedAnswerError`. A value outside its parameter's physical range
(:func:`sections.plausibility.plausibility_reason`, the one table of every door) is not a value:
it is kept out of ``values`` and listed in ``refused`` with its reason.

References
----------
.. [1] docs/feeds.md §2 (the API as used by independent public clients) [V].
.. [2] ../shared/data/cnemc/national-2025-11-07.csv: one real national snapshot [V].
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Literal

from sections.classes import WaterClass, parse_class
from sections.errors import UnknownClassError
from sections.plausibility import plausibility_reason
from service.errors import FeedAnswerError
from service.time import BEIJING

__all__ = [
    "CAVEAT",
    "COLUMN_MAP",
    "FUTURE_TOLERANCE",
    "STATION_FLAGS",
    "VALUE_FIELDS",
    "CnemcPage",
    "CnemcRow",
    "MissingReason",
    "infer_observed_at",
    "parse_page",
]

CAVEAT = "数据来自国家地表水水质自动监测实时数据发布系统，为未经审核的自动监测实时数据，仅供参考。"
"""What must accompany these data wherever they are shown (the page itself says so) [V]."""
FUTURE_TOLERANCE = dt.timedelta(days=1)
"""How far past the fetch time a ``MM-DD HH:MM`` may lie before it is taken as last year's
(clock differences of minutes or hours must not move a reading by a year) [A]."""

COLUMN_MAP: Mapping[str, str] = MappingProxyType(
    {
        "省份": "province", "流域": "basin", "断面名称": "section", "监测时间": "time",
        "水质类别": "class", "水温": "temp", "pH": "ph", "溶解氧": "do", "电导率": "conductivity",
        "浊度": "turbidity", "高锰酸盐指数": "codmn", "氨氮": "nh3n", "总磷": "tp", "总氮": "tn",
        "叶绿素α": "chla", "叶绿素a": "chla", "藻密度": "algae", "站点情况": "station_status",
    }
)  # fmt: skip
"""Header text (HTML and the unit in brackets removed, e.g. ``总磷<br/><span>(mg/L)</span>`` →
``总磷``) → field. Values use the keys of ``sections/data/parameters.csv``."""

VALUE_FIELDS = (
    "temp", "ph", "do", "conductivity", "turbidity", "codmn", "nh3n", "tp", "tn", "chla", "algae",
)  # fmt: skip
"""The fields of :data:`COLUMN_MAP` that are parameter values."""

_REQUIRED_FIELDS = ("section", "time")

# Chlorophyll-a: the API publishes mg/L (the national snapshot of 2025-11-07 has 0.030766 for
# 衡水湖大湖心 and 0.00444 for 南刘庄, i.e. 30.8 and 4.4 μg/L, which are realistic lake values);
# Qingliu's canonical unit is mg/m³ (= μg/L), so a value in mg/L is multiplied by 1000. When the
# header names a unit, that unit decides; without one, mg/L is assumed.
_CHLA_FACTORS: Mapping[str, Decimal] = MappingProxyType(
    {"": Decimal(1000), "mg/l": Decimal(1000), "μg/l": Decimal(1), "µg/l": Decimal(1),
     "ug/l": Decimal(1), "mg/m3": Decimal(1), "mg/m³": Decimal(1)}
)  # fmt: skip

STATION_FLAGS: Mapping[str, str] = MappingProxyType(
    {"": "N", "正常": "N", "维护": "M", "不具备运行条件": "F", "停运": "F", "故障": "D",
     "校准": "C"}
)  # fmt: skip
"""站点情况 → station flag (HJ 212 data flags: N normal, M maintenance, F stopped, D fault,
C calibration). Text not in the table gives no flag (None), so the value is never counted as
valid; the text stays in the raw archive."""

MissingReason = Literal["no_data", "not_measured", "invalid", "implausible"]
"""Why a value is absent: ``--``, null or empty (no_data), ``*`` (not_measured by this station),
text that is not a number (invalid), a number outside the physical range (implausible)."""


@dataclass(frozen=True, slots=True)
class CnemcRow:
    """One section's latest reading as published.

    Attributes
    ----------
    section : str
        断面名称, the visible text of the cell.
    province, basin : str or None
        省份 and 流域.
    river, city : str or None
        所属河流 and 所在地市 from the section cell's tooltip, when it has one.
    observed_at : datetime or None
        监测时间 in Beijing time (zone-aware), the year inferred by :func:`infer_observed_at`;
        None when the cell is empty or ``--``.
    time_text : str
        监测时间 as published (``MM-DD HH:MM``).
    published_class : WaterClass or None
        水质类别 (digit 1–6 or Ⅰ…劣Ⅴ); None when not published.
    values : mapping of str to float
        Parameter key → value in the canonical unit of ``parameters.csv`` (the full-precision
        ``原始值`` when present; chlorophyll-a converted from mg/L to mg/m³).
    missing : mapping of str to MissingReason
        Parameter key → why it has no value.
    station_status : str or None
        站点情况 (正常 / 维护 / 不具备运行条件), when the answer has that column.
    refused : mapping of str to str
        Parameter key → why its published number is impossible (:mod:`sections.plausibility`);
        such a key is ``"implausible"`` in ``missing`` and absent from ``values``.
    caveat : str
        :data:`CAVEAT`.
    body_sha256 : str
        SHA-256 of the answer the row came from (links a row to its archived raw answer);
        not part of equality.
    """

    section: str
    province: str | None
    basin: str | None
    river: str | None
    city: str | None
    observed_at: dt.datetime | None
    time_text: str
    published_class: WaterClass | None
    values: Mapping[str, float]
    missing: Mapping[str, MissingReason]
    station_status: str | None
    refused: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    caveat: str = CAVEAT
    body_sha256: str = field(default="", compare=False)

    @property
    def station_flag(self) -> str | None:
        """The station flag for the observations of this row (:data:`STATION_FLAGS`)."""
        return STATION_FLAGS.get((self.station_status or "").strip())


@dataclass(frozen=True, slots=True)
class CnemcPage:
    """One ``getRealDatas`` answer.

    Attributes
    ----------
    rows : tuple of CnemcRow
    total_pages : int
        ``total``: how many pages the query has.
    records : int or None
        ``records``: how many rows the query has, as the API states it.
    columns : tuple of str
        The field of each column, in the answer's order (``""`` for an unknown header).
    unknown_headers : tuple of str
        Header texts not in :data:`COLUMN_MAP` (ignored; worth a look when not empty).
    sha256 : str
        SHA-256 of the body.
    """

    rows: tuple[CnemcRow, ...]
    total_pages: int
    records: int | None
    columns: tuple[str, ...] = ()
    unknown_headers: tuple[str, ...] = ()
    sha256: str = ""


_TAG = re.compile(r"<[^>]*>")
_BR = re.compile(r"<br\s*/?>", re.IGNORECASE)
_BRACKETED = re.compile(r"[(（]([^)）]*)[)）]")
_TOOLTIP = re.compile(
    r"""\b(?:data-original-title|title)\s*=\s*(?:"([^"]*)"|'([^']*)')""", re.IGNORECASE
)
_ORIGINAL = re.compile(r"原始值\s*[：:]\s*([^\s<'\"，,；;]+)")
_CITY = re.compile(r"所在地市\s*[：:]\s*([^\s<'\"，,；;]+)")
_RIVER = re.compile(r"所属河流\s*[：:]\s*([^\s<'\"，,；;]+)")
_TIME = re.compile(r"^(?:(\d{4})-)?(\d{1,2})-(\d{1,2})\s+(\d{1,2}):(\d{2})(?::\d{2})?$")
_NO_DATA = {"", "--", "—", "-", "null", "None"}


def _text(cell: str) -> str:
    """Visible text of an HTML cell: tags removed, entities decoded, whitespace trimmed."""
    return html.unescape(_TAG.sub("", _BR.sub(" ", cell))).strip()


def _tooltips(cell: str) -> str:
    """All tooltip texts of a cell (``title`` and ``data-original-title``), entities decoded."""
    return " ".join(html.unescape(a or b) for a, b in _TOOLTIP.findall(cell))


def _header(text: str) -> tuple[str, str]:
    """Header name and unit: ``总磷<br/><span>(mg/L)</span>`` → ``("总磷", "mg/L")``."""
    plain = _text(text)
    units = _BRACKETED.findall(plain)
    name = re.sub(r"\s+", "", _BRACKETED.sub("", plain))
    return name, (units[-1].strip() if units else "")


def _number(text: str) -> Decimal | None:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def infer_observed_at(text: str, *, fetched_at: dt.datetime) -> dt.datetime:
    """A published ``MM-DD HH:MM`` (Beijing time, no year) as a zone-aware datetime.

    The year is the fetch year (in Beijing), or the previous one when the date would lie more
    than :data:`FUTURE_TOLERANCE` after the fetch (New Year); a leading ``YYYY-`` is used as is.

    Raises
    ------
    FeedAnswerError
        When the text is not such a time.

    Examples
    --------
    >>> fetched = dt.datetime(2026, 1, 1, 0, 10, tzinfo=BEIJING)
    >>> infer_observed_at("12-31 23:00", fetched_at=fetched).isoformat()
    '2025-12-31T23:00:00+08:00'
    """
    if fetched_at.tzinfo is None:
        raise ValueError("fetched_at must carry its time zone")
    match = _TIME.match(text.strip())
    if match is None:
        raise FeedAnswerError(f"监测时间格式不对 / bad time {text!r} (expected MM-DD HH:MM)")
    year_text, month, day, hour, minute = match.groups()
    local = fetched_at.astimezone(BEIJING)
    years = [int(year_text)] if year_text else [local.year, local.year - 1]
    for year in years:
        try:
            when = dt.datetime(year, int(month), int(day), int(hour), int(minute), tzinfo=BEIJING)
        except ValueError:
            continue  # 02-29 in a common year: the previous year may be a leap year
        if year_text or when <= local + FUTURE_TOLERANCE:
            return when
    raise FeedAnswerError(f"监测时间无效 / invalid time {text!r}")


def _value(cell: object, factor: Decimal) -> float | MissingReason:
    if cell is None:
        return "no_data"
    text = str(cell)
    visible = _text(text)
    if visible == "*":
        return "not_measured"
    if visible in _NO_DATA:
        return "no_data"
    original = _ORIGINAL.search(_tooltips(text))
    number = _number(original.group(1)) if original else None
    if number is None:
        number = _number(visible)
    if number is None:
        return "invalid"
    return float(number * factor)


def _class(cell: object) -> WaterClass | None:
    text = _text(str(cell)) if cell is not None else ""
    if text in _NO_DATA or text == "*":
        return None
    try:
        return parse_class(text.removesuffix("类").strip())
    except UnknownClassError:
        raise FeedAnswerError(f"水质类别无法识别 / unknown class {text!r}") from None


def _optional_text(cell: object) -> str | None:
    if cell is None:
        return None
    text = _text(str(cell))
    return None if text in _NO_DATA else text


def _integer(value: object, name: str, *, required: bool) -> int | None:
    if value is None or value == "":
        if required:
            raise FeedAnswerError(f"应答缺少 {name} / answer lacks {name!r}")
        return None
    try:
        number = int(str(value).strip())
    except ValueError:
        raise FeedAnswerError(f"{name} 不是整数 / {name!r} is not an integer: {value!r}") from None
    if number < 0:
        raise FeedAnswerError(f"{name} 为负 / {name!r} is negative: {number}")
    return number


def parse_page(body: bytes | str, *, fetched_at: dt.datetime) -> CnemcPage:
    """Parse one ``getRealDatas`` answer.

    Parameters
    ----------
    body : bytes or str
        The answer as received (UTF-8, a BOM allowed).
    fetched_at : datetime
        When it was received (zone-aware); decides the year of ``MM-DD HH:MM``.

    Returns
    -------
    CnemcPage

    Raises
    ------
    FeedAnswerError
        For the cold answer ``-1``, a body that is not a JSON object, ``result`` ≠ 1, a missing or
        malformed ``thead``/``tbody``/``total``, a header mapped twice, a missing 断面名称 or
        监测时间 column, a row whose length differs from ``thead`` (a truncated page), a bad time
        or an unknown class. Value cells never raise: a bad number is ``missing[key] = "invalid"``.

    Examples
    --------
    >>> body = '{"result":1,"thead":["断面名称","监测时间","氨氮"],' \\
    ...     '"tbody":[["小范桥","11-07 16:00","<span title=\\'原始值：0.0462\\'>0.05</span>"]],' \\
    ...     '"total":1,"records":1}'
    >>> page = parse_page(body, fetched_at=dt.datetime(2025, 11, 7, 17, tzinfo=BEIJING))
    >>> page.rows[0].values["nh3n"], page.rows[0].observed_at.isoformat()
    (0.0462, '2025-11-07T16:00:00+08:00')
    """
    raw = body.encode("utf-8") if isinstance(body, str) else body
    digest = hashlib.sha256(raw).hexdigest()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FeedAnswerError(f"应答不是 UTF-8 / answer is not UTF-8: {exc}") from None
    if text.strip() == "-1":
        raise FeedAnswerError("冷应答 -1（需先预热）/ cold answer -1: warm-up needed")
    try:
        document = json.loads(text)
    except ValueError:
        preview = text.strip()[:80]
        raise FeedAnswerError(f"应答不是 JSON / answer is not JSON: {preview!r}") from None
    if not isinstance(document, dict):
        raise FeedAnswerError("应答不是 JSON 对象 / answer is not a JSON object")
    if str(document.get("result")).strip().lower() not in ("1", "true"):
        raise FeedAnswerError(f"应答 result={document.get('result')!r}（应为 1）/ result is not 1")
    thead, tbody = document.get("thead"), document.get("tbody")
    if not isinstance(thead, list) or not thead or not all(isinstance(h, str) for h in thead):
        raise FeedAnswerError("应答缺少表头 thead / answer lacks a thead of strings")
    if not isinstance(tbody, list):
        raise FeedAnswerError("应答缺少表体 tbody / answer lacks a tbody list")
    total = _integer(document.get("total"), "total", required=True)
    records = _integer(document.get("records"), "records", required=False)
    assert total is not None

    columns: list[str] = []
    units: dict[str, str] = {}
    unknown: list[str] = []
    for header in thead:
        name, unit = _header(header)
        key = COLUMN_MAP.get(name, "")
        if key and key in columns:
            raise FeedAnswerError(f"表头重复 / column {name!r} appears twice")
        if not key:
            unknown.append(name)
        columns.append(key)
        units[key] = unit
    for required in _REQUIRED_FIELDS:
        if required not in columns:
            names = [n for n, k in COLUMN_MAP.items() if k == required]
            raise FeedAnswerError(f"应答缺少列 / answer lacks the column {names[0]}")
    chla_unit = units.get("chla", "").lower().replace(" ", "")
    if "chla" in columns and chla_unit not in _CHLA_FACTORS:
        raise FeedAnswerError(f"叶绿素单位无法识别 / unknown chlorophyll unit {chla_unit!r}")
    factors = {key: _CHLA_FACTORS[chla_unit] if key == "chla" else Decimal(1) for key in columns}

    rows = []
    for number, cells in enumerate(tbody, start=1):
        if not isinstance(cells, list) or len(cells) != len(columns):
            size = len(cells) if isinstance(cells, list) else type(cells).__name__
            raise FeedAnswerError(
                f"第 {number} 行有 {size} 格，表头 {len(columns)} 列（应答被截断？）/ "
                f"row {number} has {size} cells for {len(columns)} columns (truncated answer?)"
            )
        rows.append(_row(dict(zip(columns, cells, strict=True)), factors, fetched_at, digest))
    return CnemcPage(tuple(rows), total, records, tuple(columns), tuple(unknown), digest)


def _row(
    cells: dict[str, object], factors: Mapping[str, Decimal], fetched_at: dt.datetime, digest: str
) -> CnemcRow:
    section_cell = cells.get("section")
    section = _optional_text(section_cell)
    if not section:
        raise FeedAnswerError("断面名称为空 / a row has no section name")
    tooltip = _tooltips(str(section_cell))
    city, river = _CITY.search(tooltip), _RIVER.search(tooltip)
    time_text = _optional_text(cells.get("time")) or ""
    observed_at = infer_observed_at(time_text, fetched_at=fetched_at) if time_text else None
    values: dict[str, float] = {}
    missing: dict[str, MissingReason] = {}
    refused: dict[str, str] = {}
    for key in VALUE_FIELDS:
        if key not in cells:
            continue
        parsed = _value(cells[key], factors[key])
        if isinstance(parsed, float):
            reason = plausibility_reason(key, parsed)
            if reason:
                missing[key], refused[key] = "implausible", reason
            else:
                values[key] = parsed
        else:
            missing[key] = parsed
    return CnemcRow(
        section=section,
        province=_optional_text(cells.get("province")),
        basin=_optional_text(cells.get("basin")),
        river=river.group(1) if river else None,
        city=city.group(1) if city else None,
        observed_at=observed_at,
        time_text=time_text,
        published_class=_class(cells.get("class")),
        values=MappingProxyType(values),
        missing=MappingProxyType(missing),
        station_status=_optional_text(cells.get("station_status")),
        refused=MappingProxyType(refused),
        body_sha256=digest,
    )
