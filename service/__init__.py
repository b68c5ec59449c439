"""清流 Qingliu service: the edges.

Database, feeds, jobs, the HTTP API and web pages, and the ``qingliu`` command line. Every side
effect of Qingliu lives here; the domain packages :mod:`sections` and :mod:`compensation` stay pure.

Importing ``service`` (or ``service.feeds.hj212``, a receiver process) loads nothing heavy:
:func:`create_app` and :class:`Settings` are imported when first asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from service.app import create_app
    from service.settings import Settings

__all__ = ["Settings", "create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from service.app import create_app

        return create_app
    if name == "Settings":
        from service.settings import Settings

        return Settings
    raise AttributeError(f"module 'service' has no attribute {name!r}")
