"""CloudWatch Logs (``Logs_20140328``): log groups, streams, events and retention.

Handlers live per resource family (``groups``, ``streams``, ``events``); the storage is
:mod:`sagestack.store.logs`, which other subsystems write to through ``log_store(platform)``. The
store's errors are worded in ``errors``; the filter-pattern language is ``filter_pattern``.
"""

from __future__ import annotations

from ..registry import OperationTable
from . import events, groups, streams
from .errors import log_error

OPERATIONS = OperationTable("logs", errors=log_error).merge(
    groups.OPERATIONS, streams.OPERATIONS, events.OPERATIONS
)
