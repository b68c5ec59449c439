"""Client of the national publish API (国家地表水水质自动监测实时数据发布系统).

The national system publishes the latest values of every national automatic station; two of
Hengshui's sections are among them (小范桥 and 衡水湖大湖心). It is a fallback and cross-check
feed, unofficial for machine use, and its data are **unaudited and for reference only**
(:data:`CAVEAT`): say so wherever they are shown.

Modules, each usable alone:

- :mod:`~service.feeds.cnemc.parse` — pure: the bytes of one ``getRealDatas`` answer →
  :class:`CnemcPage` (:func:`parse_page`); columns matched by header text (:data:`COLUMN_MAP`).
- :mod:`~service.feeds.cnemc.client` — async and thin: the warm-up sequence, paging bounded
  by a page cap and a byte budget per answer, bounded retries with exponential backoff and
  jitter (:func:`fetch_area`); every data answer goes to
  ``on_raw`` before it is parsed; httpx errors become :class:`~service.errors.FeedTimeout` or
  :class:`~service.errors.FeedAnswerError` there and nowhere else (:func:`translate_error`).
- :mod:`~service.feeds.cnemc.store` — :func:`pull_once`: archive each raw answer, map rows to
  registry sections by name, store observations idempotently (history kept on change).

Periodic pulls belong to the one scheduler (:mod:`service.jobs`), which calls :func:`pull_once`.

References
----------
.. [1] docs/feeds.md §2 (the API as used by independent public clients) [V].
.. [2] ../shared/data/cnemc/national-2025-11-07.csv: one real national snapshot [V].
"""

from service.feeds.cnemc.client import (
    DEFAULT_MAX_ANSWER_BYTES,
    DEFAULT_MAX_PAGES,
    DEFAULT_RETRY,
    DEFAULT_TIMEOUT,
    DEFAULT_URL,
    HENGSHUI_AREA,
    PAGE_SIZE,
    AreaFetch,
    RawCallback,
    RetryPolicy,
    fetch_area,
    main_page_url,
    translate_error,
)
from service.feeds.cnemc.parse import (
    CAVEAT,
    COLUMN_MAP,
    FUTURE_TOLERANCE,
    STATION_FLAGS,
    VALUE_FIELDS,
    CnemcPage,
    CnemcRow,
    MissingReason,
    infer_observed_at,
    parse_page,
)
from service.feeds.cnemc.store import SOURCE, PullSummary, pull_once, station_id

__all__ = [
    "CAVEAT",
    "COLUMN_MAP",
    "DEFAULT_MAX_ANSWER_BYTES",
    "DEFAULT_MAX_PAGES",
    "DEFAULT_RETRY",
    "DEFAULT_TIMEOUT",
    "DEFAULT_URL",
    "FUTURE_TOLERANCE",
    "HENGSHUI_AREA",
    "PAGE_SIZE",
    "SOURCE",
    "STATION_FLAGS",
    "VALUE_FIELDS",
    "AreaFetch",
    "CnemcPage",
    "CnemcRow",
    "MissingReason",
    "PullSummary",
    "RawCallback",
    "RetryPolicy",
    "fetch_area",
    "infer_observed_at",
    "main_page_url",
    "parse_page",
    "pull_once",
    "station_id",
    "translate_error",
]
