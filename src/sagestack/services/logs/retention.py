"""Background work for the monitoring services, started with the server (``startup.py``):

* log retention: events older than their group's ``retentionInDays`` are deleted;
* metric retention: datapoints past CloudWatch's 15 months, alarm history past two weeks.

(CloudWatch alarm evaluation is a loop of its own: ``reconcilers/alarms.py``.)
"""

from __future__ import annotations

from ...store.logs import log_store
from ...store.metrics import metric_store

RETENTION_INTERVAL = 600.0  # seconds between retention passes


def start(platform) -> None:
    logs, metrics = log_store(platform), metric_store(platform)

    def expire() -> None:
        logs.expire()
        metrics.expire()

    platform.add_loop("monitoring-retention", expire, RETENTION_INTERVAL)
