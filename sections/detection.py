"""Values below the detection limit ("<DL"): how they are written, kept and averaged.

A laboratory or analyser reports a value below its detection limit as the limit with a marker:
``<0.01`` (also ``＜0.01`` and ``< 0.01``) or, in Chinese laboratory reports, ``0.01L``. The
value is **kept as the limit with its marker** (``censored``), shown as "<0.01", and counts as
half the limit in period means [V 环办〔2011〕22号].

This module is the one home of that rule: every door (HJ 212 frames do not carry it; manual
files, the offline classify and compensate commands) reads a cell with :func:`parse_censored`
or :func:`split_censored`, and every mean substitutes with :func:`substitute_censored`.

References
----------
.. [1] 环办〔2011〕22号 地表水环境质量评价办法（试行）: 未检出按检出限的一半参与计算 [V].
.. [2] HJ 630-2011 环境监测质量管理技术导则: 低于检出限报 "检出限 + L" [V, one source].
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any, Final, TypeVar, overload

import numpy as np
import pandas as pd

__all__ = [
    "CENSORED_FRACTION",
    "censored_label",
    "parse_censored",
    "split_censored",
    "substitute_censored",
]

CENSORED_FRACTION: Final = Fraction(1, 2)
"""A value below the detection limit counts as this fraction of the limit in means [V]."""

_PREFIXES: Final = ("<", "＜")
_SUFFIXES: Final = ("L",)

N = TypeVar("N", float, Decimal)


def _strip(text: str) -> tuple[str, bool]:
    cell = text.strip()
    for prefix in _PREFIXES:
        if cell.startswith(prefix):
            return cell[len(prefix):].strip(), True
    for suffix in _SUFFIXES:
        if cell.endswith(suffix) and len(cell) > len(suffix):
            return cell[: -len(suffix)].strip(), True
    return cell, False


def parse_censored(text: str) -> tuple[Decimal, bool]:
    """Read one reported value: the number and whether it is a detection limit.

    Parameters
    ----------
    text : str
        A cell such as ``"0.35"``, ``"<0.01"``, ``"＜0.01"`` or ``"0.01L"``.

    Returns
    -------
    (Decimal, bool)
        The number as written (the limit for a censored value, **not** halved) and ``True``
        when it was marked below the detection limit.

    Raises
    ------
    ValueError
        When the text is not a finite number with at most one marker.

    Examples
    --------
    >>> parse_censored("<0.01")
    (Decimal('0.01'), True)
    >>> parse_censored("0.05L")
    (Decimal('0.05'), True)
    >>> parse_censored(" 1.25 ")
    (Decimal('1.25'), False)
    """
    number, censored = _strip(text)
    try:
        value = Decimal(number)
    except InvalidOperation:
        raise ValueError(f"无法解析的数值 / not a number: {text!r}") from None
    if not value.is_finite():
        raise ValueError(f"数值无效 / not a finite number: {text!r}")
    return value, censored


def split_censored(cells: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Vectorised :func:`parse_censored` over a column of strings.

    Returns the numbers (float, NaN where the cell is empty or not a number) and the censored
    marks (bool), both on the index of ``cells``. Callers decide how to report cells that are
    not empty yet give NaN.

    Examples
    --------
    >>> numbers, marks = split_censored(pd.Series(["0.2", "<0.01", "", "0.05L"]))
    >>> numbers.tolist(), marks.tolist()
    ([0.2, 0.01, nan, 0.05], [False, True, False, True])
    """
    text = cells.fillna("").astype(str).str.strip()
    prefixed = text.str.startswith(_PREFIXES)
    suffixed = ~prefixed & text.str.endswith(_SUFFIXES) & (text.str.len() > 1)
    body = text.where(~prefixed, text.str[1:]).where(~suffixed, text.str[:-1]).str.strip()
    numbers = pd.to_numeric(body.where(body != "", None), errors="coerce").astype("float64")
    numbers = numbers.where(np.isfinite(numbers.fillna(0.0)))
    return numbers, (prefixed | suffixed).astype(bool)


@overload
def substitute_censored(value: N, censored: bool) -> N: ...
@overload
def substitute_censored(value: pd.DataFrame, censored: pd.DataFrame) -> pd.DataFrame: ...
@overload
def substitute_censored(value: pd.Series, censored: pd.Series) -> pd.Series: ...
def substitute_censored(value: Any, censored: Any) -> Any:
    """The value that enters a mean: half the detection limit where censored, else the value.

    Same kind in, same kind out: a float or Decimal with a bool, or a Series/DataFrame with a
    boolean one of the same shape (aligned on index and columns; missing marks are False).

    Examples
    --------
    >>> substitute_censored(Decimal("0.01"), True)
    Decimal('0.005')
    >>> substitute_censored(0.3, False)
    0.3
    """
    if isinstance(value, pd.DataFrame):
        frame_marks = pd.DataFrame(censored).reindex(
            index=value.index, columns=value.columns, fill_value=False
        ).astype(bool)
        return value.where(~frame_marks, value * float(CENSORED_FRACTION))
    if isinstance(value, pd.Series):
        series_marks = pd.Series(censored).reindex(value.index, fill_value=False).astype(bool)
        return value.where(~series_marks, value * float(CENSORED_FRACTION))
    if isinstance(value, Decimal):
        if not censored:
            return value
        return value * Decimal(CENSORED_FRACTION.numerator) / Decimal(CENSORED_FRACTION.denominator)
    if isinstance(value, float | int):
        return float(value) * float(CENSORED_FRACTION) if censored else value
    raise TypeError(f"substitute_censored takes a number, Series or DataFrame, not {type(value)}")


def censored_label(value: float | Decimal | str, censored: bool) -> str:
    """How a value is shown: ``"<0.01"`` for a censored one, else the value as text.

    Numbers are written in plain decimal notation, never as ``1e-05``.

    Examples
    --------
    >>> censored_label(0.01, True), censored_label("0.35", False), censored_label(0.00001, True)
    ('<0.01', '0.35', '<0.00001')
    """
    text = value if isinstance(value, str) else _plain(value)
    return f"<{text}" if censored else text


def _plain(value: float | Decimal) -> str:
    number = value if isinstance(value, Decimal) else Decimal(repr(float(value)))
    text = format(number.normalize(), "f")
    return text
