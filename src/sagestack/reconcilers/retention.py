"""The retention loop of the monitoring stores:

* log retention: events older than their group's ``retentionInDays`` are deleted;
* metric retention: datapoints past CloudWatch's 15 months, alarm history past two weeks.

(CloudWatch alarm evaluation is a loop of its own: ``reconcilers/alarms.py``.)
"""

from __future__ import annotations

from ..store.logs import log_store
from ..store.metrics import metric_store
from .base import Reconciler

RETENTION_INTERVAL = 600.0  # seconds between retention passes


class RetentionReconciler(Reconciler):
    name = "monitoring-retention"
    interval = RETENTION_INTERVAL

    def __init__(self, platform):
        super().__init__(platform)
        self.logs, self.metrics = log_store(platform), metric_store(platform)

    def step(self) -> None:
        self.logs.expire()
        self.metrics.expire()


def start(platform) -> None:
    RetentionReconciler.start(platform)
