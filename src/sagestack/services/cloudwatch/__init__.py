"""CloudWatch (``GraniteServiceVersion20100801``): metric data and metric alarms.

Handlers per family (``metrics``, ``alarms``); evaluation in ``evaluation`` (a pure
``evaluate_alarm`` plus the loop that applies it); storage in :mod:`sagestack.store.metrics`, which
other subsystems write to through ``metric_store(platform)``.
"""

from __future__ import annotations

from ..registry import OperationTable
from . import alarms, metrics

OPERATIONS = OperationTable("cloudwatch").merge(metrics.OPERATIONS, alarms.OPERATIONS)
