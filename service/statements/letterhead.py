"""Who issues the official documents, to whom, under which number: the letterhead.

Statements (扣缴通报) and bulletins (水质月报) go out as documents of the bureau: an issuing office
in the head and above the seal, a document number (文号), addressees (主送) and a date. They
come from settings (``QINGLIU_ISSUER_OFFICE``, ``QINGLIU_DOCUMENT_NUMBER_PATTERN``,
``QINGLIU_ADDRESSEES``); their defaults are assumptions [A] and are marked [A] where they are
printed. The letterhead also knows which section names are unconfirmed (marked [A] too).

Rendering only reads the letterhead: an issued statement's stored content and hash do not
depend on it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sections.registry import Registry, load_registry
from service.settings import (
    DEFAULT_ADDRESSEES,
    DEFAULT_DOCUMENT_NUMBER_PATTERN,
    DEFAULT_ISSUER_OFFICE,
    Settings,
)

__all__ = ["Letterhead", "letterhead"]


@dataclass(frozen=True)
class Letterhead:
    """The issuer's part of an official document.

    Attributes
    ----------
    office : str
        Issuing office (发文机关), in the head and above the seal.
    number_pattern : str
        Document number of an issued statement, ``str.format`` with ``year``, ``seq`` (the
        month's number) and ``month``.
    addressees : str
        Addressees (主送机关).
    unconfirmed : frozenset of str
        Ids of sections whose names are not confirmed by a public source; shown with [A].
    """

    office: str = DEFAULT_ISSUER_OFFICE
    number_pattern: str = DEFAULT_DOCUMENT_NUMBER_PATTERN
    addressees: str = DEFAULT_ADDRESSEES
    unconfirmed: frozenset[str] = field(default_factory=frozenset)

    @property
    def office_assumed(self) -> bool:
        """The office is the default [A]."""
        return self.office == DEFAULT_ISSUER_OFFICE

    @property
    def number_assumed(self) -> bool:
        """The number pattern is the default [A]."""
        return self.number_pattern == DEFAULT_DOCUMENT_NUMBER_PATTERN

    @property
    def addressees_assumed(self) -> bool:
        """The addressees are the default [A]."""
        return self.addressees == DEFAULT_ADDRESSEES

    def number(self, month: dt.date) -> str:
        """The document number of a month's statement.

        Examples
        --------
        >>> Letterhead().number(dt.date(2025, 10, 1))
        '衡环水〔2025〕10号'
        """
        return self.number_pattern.format(year=month.year, seq=month.month, month=month.month)

    @classmethod
    def from_settings(cls, settings: Settings, *, registry: Registry | None = None) -> Letterhead:
        """The letterhead of ``settings``; unconfirmed names from ``registry`` (default: the
        registry the settings name, else the bundled one)."""
        found = registry if registry is not None else load_registry(settings.sections)
        return cls(
            office=settings.issuer_office,
            number_pattern=settings.document_number_pattern,
            addressees=settings.addressees,
            unconfirmed=frozenset(s.id for s in found.sections if not s.confirmed),
        )


def letterhead(settings: Settings | None = None, *, registry: Registry | None = None) -> Letterhead:
    """The letterhead in force: from ``settings``, by default read from the environment.

    Callers that hold the service's settings and registry should pass them.
    """
    return Letterhead.from_settings(settings or Settings.from_env(), registry=registry)
