"""CloudWatch Logs (``Logs_20140328``): log groups, streams, events and retention.

Handlers live per resource family (``groups``, ``streams``, ``events``); the storage is
:mod:`sagestack.store.logs`, which other subsystems write to through ``log_store(platform)``.
"""

from __future__ import annotations

from ..registry import OperationTable
from . import events, groups, streams

OPERATIONS = OperationTable("logs").merge(groups.OPERATIONS, streams.OPERATIONS, events.OPERATIONS)
