"""Which stored values enter period means: one rule, from the station flag, the QC flag and review.

A value of an automatic station carries the station's HJ 212 data flag (N, S, T, F, M, D, C, B),
the aggregate QARTOD flag of :func:`sections.quality.quality_flags` (1 pass, 2 not evaluated,
3 suspect, 4 fail, 9 missing; ``None`` before the QC job has run) and, once a reviewer has looked
at it, a review status (accepted, rejected, replaced). This module decides, for every
combination, whether the value **counts** in period means and exceedance tests, whether it
counts **as a lower bound** ("≥", an over-range reading), whether it is **suspect**, whether it
**waits for review**, and why it is excluded when it is. Every job, statement and page calls it;
nothing else decides validity.

The rule [domain.md §5]:

=================================  =========  ===========  ======  =============================
value                              counts     lower bound  review  reason when excluded
=================================  =========  ===========  ======  =============================
reviewer rejected it               no         –            done    ``review:rejected``
reviewer replaced it               yes        no           done    –
station flag F, M, D, C, B         no         –            no      ``station_flag:X``
unknown station flag               no         –            yes     ``station_flag:?X``
QC 9 (missing)                     no         –            no      ``missing``
QC 4 (fail)                        no         –            no      ``qc:4:<test>``
station flag T (over range)        yes [A]    yes          yes     (``station_flag:T`` when the
                                                                   policy excludes it)
QC 3 (suspect)                     yes [A]    no           yes     (``qc:3:<test>`` when the
                                                                   policy excludes suspects)
N, S or no flag; QC 1, 2 or None   yes        no           no      –
=================================  =========  ===========  ======  =============================

A value the reviewer **accepted** counts as the table says for its flags but no longer waits
for review (an accepted suspect counts even when the policy excludes suspects; an accepted T
reading stays a lower bound). Acceptance never revives a station fault flag or a QC fail: only
a replacement (the reviewer's own value) does.

References
----------
.. [1] domain.md §5: S that passes QC is valid; T is a lower bound, kept and queued for review;
   F, M, D, C, B never enter means; QARTOD suspect counts until a reviewer rejects it [A,
   configurable]; fail never counts.
.. [2] 环办〔2011〕22号 地表水环境质量评价办法（试行）: only valid data enter period means [V].
.. [3] U.S. IOOS QARTOD flags manual v1.2: 1 pass, 2 not evaluated, 3 suspect, 4 fail, 9 missing.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Any, Final, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from sections.errors import DataTableError

__all__ = [
    "DEFAULT_POLICY",
    "FAULT_FLAGS",
    "OVER_RANGE_FLAG",
    "ReviewStatus",
    "Validity",
    "ValidityPolicy",
    "default_policy",
    "over_range_value",
    "validity_frame",
    "value_validity",
]

FAULT_FLAGS: Final = frozenset({"F", "M", "D", "C", "B"})
"""Station flags whose values never count: stopped, maintenance, fault, calibration, link [A]."""

OVER_RANGE_FLAG: Final = "T"
"""The station flag of an over-range reading: a lower bound of the true value [A]."""

_COUNTING_FLAGS: Final = frozenset({"N", "S"})


class ReviewStatus(StrEnum):
    """Where a value stands with the reviewer (``observation.review_status``)."""

    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    REPLACED = "replaced"

    @property
    def label(self) -> str:
        """待复核, 已确认, 已否决, 已更正."""
        return {"pending": "待复核", "accepted": "已确认", "rejected": "已否决",
                "replaced": "已更正"}[self.value]  # fmt: skip


@dataclass(frozen=True, slots=True)
class ValidityPolicy:
    """The configurable parts of the validity rule [A, domain.md §5].

    Attributes
    ----------
    count_suspect : bool
        QARTOD suspect (3) values count in means until a reviewer rejects them (default True:
        a suspect spike may be the pollution pulse a county pays for).
    over_range : {"lower_bound", "exclude"}
        An over-range (T) reading enters means as a lower bound (default) or not at all.
    """

    count_suspect: bool = True
    over_range: Literal["lower_bound", "exclude"] = "lower_bound"

    @property
    def assumptions(self) -> tuple[str, ...]:
        """The policy's choices as the lines a statement lists among its assumptions [A].

        Examples
        --------
        >>> ValidityPolicy().assumptions[0]
        '[假设] 质控可疑值在复核否决前计入均值与超标判定'
        """
        suspect = (
            "[假设] 质控可疑值在复核否决前计入均值与超标判定"
            if self.count_suspect
            else "[假设] 质控可疑值在复核确认前不计入均值"
        )
        over = (
            "[假设] 超测上限（T）读数按 max(读数, 2 × 目标类别限值) 作为下限值计入，标注“≥”"
            if self.over_range == "lower_bound"
            else "[假设] 超测上限（T）读数在复核前不计入均值"
        )
        return suspect, over

    def __post_init__(self) -> None:
        if self.over_range not in ("lower_bound", "exclude"):
            raise ValueError(
                f"over_range must be 'lower_bound' or 'exclude', got {self.over_range!r}"
            )


DEFAULT_POLICY: Final = ValidityPolicy()
"""Suspect values count, over-range values count as lower bounds [A] (the shipped file's values)."""

VALIDITY_TABLE: Final = "validity.toml"


@cache
def default_policy() -> ValidityPolicy:
    """The policy of ``sections/data/validity.toml`` [A], the default of every caller.

    Raises
    ------
    DataTableError
        When the file has a wrong key or value; the message names it.

    Examples
    --------
    >>> default_policy() == DEFAULT_POLICY
    True
    """
    text = resources.files("sections.data").joinpath(VALIDITY_TABLE).read_text(encoding="utf-8")
    table = tomllib.loads(text)
    count = table.get("count_suspect", True)
    over = table.get("over_range", "lower_bound")
    if not isinstance(count, bool) or over not in ("lower_bound", "exclude"):
        raise DataTableError(
            f"{VALIDITY_TABLE}: count_suspect must be true/false and over_range "
            f"lower_bound/exclude, got {count!r}, {over!r}"
        )
    return ValidityPolicy(count_suspect=count, over_range=over)


@dataclass(frozen=True, slots=True)
class Validity:
    """The verdict on one value; see the module table."""

    counts: bool
    lower_bound: bool
    suspect: bool
    needs_review: bool
    reason: str


def _blank(value: object) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value))


def value_validity(
    station_flag: str | None,
    qc_flag: int | float | None,
    *,
    qc_test: str | None = None,
    review_status: str | None = None,
    policy: ValidityPolicy | None = None,
) -> Validity:
    """Whether one value counts in means, and how; see the module table.

    Parameters
    ----------
    station_flag : str or None
        HJ 212 data flag sent with the value; ``None`` when the source sends none.
    qc_flag : int or None
        Aggregate QARTOD flag; ``None`` (or NaN) before the QC job has run.
    qc_test : str, optional
        The QC test that set a 3 or 4, for the reason text.
    review_status : str, optional
        One of :class:`ReviewStatus`, or ``None`` when nobody has reviewed the value.
    policy : ValidityPolicy, optional
        The configurable choices [A]; default :func:`default_policy`.

    Examples
    --------
    >>> value_validity("N", 1).counts
    True
    >>> v = value_validity("T", 3, qc_test="station_flag")
    >>> v.counts, v.lower_bound, v.needs_review
    (True, True, True)
    >>> value_validity("D", 1).reason
    'station_flag:D'
    >>> value_validity("N", 3, qc_test="spike", review_status="rejected").reason
    'review:rejected'
    """
    policy = policy or default_policy()
    status = None if _blank(review_status) else ReviewStatus(str(review_status))
    flag = None if _blank(station_flag) else str(station_flag).strip().upper() or None
    qc = None if qc_flag is None or _blank(qc_flag) else int(qc_flag)
    test = "" if _blank(qc_test) else str(qc_test)
    if status is ReviewStatus.REJECTED:
        return Validity(False, False, False, False, "review:rejected")
    if status is ReviewStatus.REPLACED:
        return Validity(True, False, False, False, "")
    accepted = status is ReviewStatus.ACCEPTED
    if flag in FAULT_FLAGS:
        return Validity(False, False, False, False, f"station_flag:{flag}")
    if flag is not None and flag not in _COUNTING_FLAGS and flag != OVER_RANGE_FLAG:
        return Validity(False, False, False, not accepted, f"station_flag:?{flag}")
    if qc == 9:
        return Validity(False, False, False, False, "missing")
    if qc == 4:
        return Validity(False, False, False, False, f"qc:4:{test}")
    if flag == OVER_RANGE_FLAG:
        if policy.over_range == "exclude":
            return Validity(False, False, False, not accepted, "station_flag:T")
        return Validity(True, True, qc == 3 and test != "station_flag", not accepted, "")
    if qc == 3:
        counts = policy.count_suspect or accepted
        return Validity(counts, False, True, not accepted, "" if counts else f"qc:3:{test}")
    return Validity(True, False, False, False, "")


Column = Sequence[object] | pd.Series | npt.NDArray[Any]
"""One column of values: a list, an array or a Series."""


def validity_frame(
    station_flags: Column,
    qc_flags: Column,
    qc_tests: Column | None = None,
    review_statuses: Column | None = None,
    *,
    policy: ValidityPolicy | None = None,
) -> pd.DataFrame:
    """:func:`value_validity` for many values at once.

    Returns
    -------
    DataFrame
        Columns ``counts``, ``lower_bound``, ``suspect``, ``needs_review`` (bool) and
        ``reason`` (str), on the index of ``station_flags`` when it is a Series.

    Notes
    -----
    The distinct combinations are decided once each by :func:`value_validity` and mapped back,
    so a year of observations costs a handful of calls.

    Examples
    --------
    >>> validity_frame(["N", "T", "D", "N"], [1, 3, 1, 3], ["", "station_flag", "", "spike"],
    ...                [None, None, None, "rejected"])["counts"].tolist()
    [True, True, False, False]
    """
    policy = policy or default_policy()
    n = len(station_flags)
    rows = list(
        zip(
            _cells(station_flags, n), _cells(qc_flags, n), _cells(qc_tests, n),
            _cells(review_statuses, n), strict=True,
        )
    )  # fmt: skip
    decided: dict[tuple[str | None, int | None, str | None, str | None], Validity] = {}
    verdicts: list[Validity] = []
    for flag, qc, test, status in rows:
        key = (
            None if _blank(flag) else str(flag),
            _qc(qc),
            None if _blank(test) else str(test),
            None if _blank(status) else str(status),
        )
        verdict = decided.get(key)
        if verdict is None:
            verdict = decided[key] = value_validity(
                key[0], key[1], qc_test=key[2], review_status=key[3], policy=policy
            )
        verdicts.append(verdict)
    result = pd.DataFrame(
        {
            "counts": np.array([v.counts for v in verdicts], dtype=bool),
            "lower_bound": np.array([v.lower_bound for v in verdicts], dtype=bool),
            "suspect": np.array([v.suspect for v in verdicts], dtype=bool),
            "needs_review": np.array([v.needs_review for v in verdicts], dtype=bool),
            "reason": np.array([v.reason for v in verdicts], dtype=object),
        }
    )
    if isinstance(station_flags, pd.Series):
        result.index = station_flags.index
    return result


def _cells(values: Column | None, n: int) -> list[object]:
    if values is None:
        return [None] * n
    cells = list(values.tolist() if isinstance(values, pd.Series | np.ndarray) else values)
    if len(cells) != n:
        raise ValueError(f"validity columns differ in length: {len(cells)} vs {n}")
    return cells


def _qc(value: object) -> int | None:
    if _blank(value):
        return None
    if isinstance(value, int | float | np.integer | np.floating | str):
        return int(value)
    raise ValueError(f"QC flag must be a number, got {value!r}")


def over_range_value(reading: pd.Series, span: pd.Series) -> pd.Series:
    """The value an over-range reading enters means with: max(reading, instrument span).

    An analyser that flags T has seen more than it can measure; its reading (often the span
    itself) is a lower bound of the true concentration [A, domain.md §5], and the instrument
    span is ≈ 2 × the target-class limit [V]. Where the span is unknown (NaN) the reading
    stands.

    Parameters
    ----------
    reading : Series of float
        The T readings [unit of the parameter].
    span : Series of float
        The instrument span of each reading's section and parameter [same unit].

    Examples
    --------
    >>> over_range_value(pd.Series([1.6, 3.0]), pd.Series([2.0, float("nan")])).tolist()
    [2.0, 3.0]
    """
    span = span.reindex(reading.index)
    return reading.where(span.isna() | (reading >= span), span)
