"""清流 Qingliu service: the edges.

Database, feeds, jobs, the HTTP API and web pages, and the ``qingliu`` command line. Every side
effect of Qingliu lives here; the domain packages :mod:`sections` and :mod:`compensation` stay pure.
"""

from service.app import create_app
from service.settings import Settings

__all__ = ["Settings", "create_app"]
