"""Metric scraping: the job's output lines matched against its ``MetricDefinitions`` (or the built-in
algorithm's), sent to the metric store as they come and summed up as ``FinalMetricDataList``."""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
import time
from dataclasses import dataclass, field

from ..storage import JobStorage

log = logging.getLogger("sagestack.training")


@dataclass
class MetricCollector:
    definitions: list[tuple[str, re.Pattern]]
    latest: dict[str, tuple[float, float]] = field(default_factory=dict)
    pending: list[dict] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def scan(self, line: str, host_dimension: str) -> None:
        for name, pattern in self.definitions:
            match = pattern.search(line)
            if not match:
                continue
            try:
                value = float(match.group(1))
            except (IndexError, ValueError):
                continue
            stamp = time.time()
            with self.lock:
                self.latest[name] = (value, stamp)
                self.pending.append(
                    {
                        "name": name,
                        "value": value,
                        "timestamp": stamp,
                        "dimensions": {"Host": host_dimension},
                        "unit": "None",
                    }
                )

    def drain(self) -> list[dict]:
        with self.lock:
            items, self.pending = self.pending, []
        return items

    def flush(self, storage: JobStorage, namespace: str) -> None:
        """What was scraped since the last flush, to the metric store."""
        items = self.drain()
        if items:
            try:
                storage.put_metrics(namespace, items)
            except Exception:
                log.debug("metric store failed", exc_info=True)

    def final(self) -> list[dict]:
        """``FinalMetricDataList``: each metric's last value."""
        return [
            {
                "MetricName": name,
                "Value": value,
                "Timestamp": dt.datetime.fromtimestamp(stamp, dt.timezone.utc),
            }
            for name, (value, stamp) in sorted(self.latest.items())
        ]


def compile_metric_definitions(definitions: list[dict]) -> list[tuple[str, re.Pattern]]:
    compiled = []
    for item in definitions or []:
        try:
            compiled.append((item["Name"], re.compile(item["Regex"])))
        except (re.error, KeyError):
            continue
    return compiled


def collector_for(algorithm: dict, algorithm_repo: str | None) -> MetricCollector:
    """The job's ``MetricDefinitions``; a built-in algorithm's own when the job gives none."""
    definitions = list(algorithm.get("MetricDefinitions") or [])
    if algorithm_repo and not definitions:
        from ...algorithms import registry

        module = registry.load(algorithm_repo)
        definitions = list(getattr(module.SPEC, "metric_definitions", ()))
    return MetricCollector(compile_metric_definitions(definitions))
