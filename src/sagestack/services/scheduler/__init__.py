"""Amazon EventBridge Scheduler (rest-json): schedules (at/rate/cron, timezones, start/end dates,
ENABLED/DISABLED, ActionAfterCompletion) in groups, fired by the schedules reconciler into SQS, Lambda
and SageMaker pipeline targets."""

from __future__ import annotations

from ..registry import OperationTable
from . import groups, schedules
from .common import errors

OPERATIONS = OperationTable("scheduler", errors).merge(schedules.OPERATIONS, groups.OPERATIONS)
