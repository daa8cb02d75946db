"""The CloudWatch alarm loop: every alarm evaluated against its metric each pass (``domain/alarms.py``)."""

from __future__ import annotations

from ..domain.alarms import EVALUATION_INTERVAL, evaluate_all
from ..store.metrics import metric_store
from .base import Reconciler


class AlarmReconciler(Reconciler):
    name = "cloudwatch-alarms"
    interval = EVALUATION_INTERVAL

    def __init__(self, platform):
        super().__init__(platform)
        self.store = metric_store(platform)

    def step(self) -> None:
        evaluate_all(self.store)  # one failing alarm never stops the others


def start(platform) -> None:
    AlarmReconciler.start(platform)
