"""CloudWatch Logs storage: log groups, log streams and their events.

* ``store``: :class:`LogStore`, the groups/streams/events queries (raising ``store.errors``);
* ``tables`` and ``records``: the SQL tables and the plain objects the store returns;
* ``reads``: event pages and filtered scans (keyset-paged, filter applied before the page is cut);
* ``writer``: :class:`LogWriter`, buffered appends for the subsystems that produce logs.

Other subsystems write through ``log_store(platform).append`` (groups and streams created on demand,
one transaction per batch) or ``log_store(platform).writer(...)``. The CloudWatch Logs API — its checks,
wording and filter-pattern language — is ``services/logs``, which hands the store an
:class:`EventFilter`.
"""

from __future__ import annotations

from .records import EventFilter, EventsPage, FilterPage, LogGroup, LogStream, PutResult
from .store import GROUP, STREAM, LogStore
from .writer import LogWriter

__all__ = [
    "GROUP",
    "STREAM",
    "EventFilter",
    "EventsPage",
    "FilterPage",
    "LogGroup",
    "LogStore",
    "LogStream",
    "LogWriter",
    "PutResult",
    "log_store",
]


def log_store(platform) -> LogStore:
    """The platform's log store (built once)."""
    return platform.component("logs", lambda p: LogStore(p.db))
