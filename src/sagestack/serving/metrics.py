"""Endpoint metrics as SageMaker publishes them (namespace ``AWS/SageMaker``, dimensions
``EndpointName``/``VariantName``): Invocations, Invocation4XXErrors, Invocation5XXErrors,
InvocationsPerInstance, ModelLatency and OverheadLatency (microseconds), ModelSetupTime.

The router adds to in-memory counters (one lock, a few integer updates); a background loop writes
statistic sets to the metric store every ``interval`` seconds.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

log = logging.getLogger("sagestack.serving")
NAMESPACE = "AWS/SageMaker"


class StatisticSet:
    """Running SampleCount/Sum/Minimum/Maximum of one metric between flushes (CloudWatch's StatisticSet)."""

    __slots__ = ("count", "high", "low", "total")

    def __init__(self) -> None:
        self.count = 0
        self.total = 0
        self.low = 1 << 62
        self.high = 0

    def add(self, value: int) -> None:
        self.count += 1
        self.total += value
        self.low = min(self.low, value)
        self.high = max(self.high, value)

    def statistics(self) -> dict:
        return {"SampleCount": self.count, "Sum": self.total, "Minimum": self.low, "Maximum": self.high}


class _VariantStats:
    __slots__ = ("errors4xx", "errors5xx", "instances", "invocations", "model", "overhead")

    def __init__(self, instances: int) -> None:
        self.invocations = 0
        self.errors4xx = 0
        self.errors5xx = 0
        self.model = StatisticSet()
        self.overhead = StatisticSet()
        self.instances = instances


class ServingMetrics:
    def __init__(self, platform):
        self.platform = platform
        self._lock = threading.Lock()
        self._stats: dict[tuple[str, str, str, str], _VariantStats] = {}
        self._extra: list[tuple[str, str, dict]] = []

    def record(self, route: Any, variant: Any, status: int, model_us: int, overhead_us: int) -> None:
        key = (route.account, route.region, route.name, variant.name)
        with self._lock:
            stats = self._stats.get(key)
            if stats is None:
                stats = self._stats[key] = _VariantStats(len(variant.instances))
            stats.invocations += 1
            if status >= 500:
                stats.errors5xx += 1
            elif status >= 400:
                stats.errors4xx += 1
            stats.model.add(model_us)
            stats.overhead.add(max(0, overhead_us))

    def model_setup_time(self, account: str, region: str, endpoint: str, variant: str, micros: int) -> None:
        item = {
            "namespace": NAMESPACE,
            "name": "ModelSetupTime",
            "unit": "Microseconds",
            "dimensions": {"EndpointName": endpoint, "VariantName": variant},
            "value": micros,
            "timestamp": time.time(),
        }
        with self._lock:
            self._extra.append((account, region, item))

    def flush(self) -> int:
        with self._lock:
            stats, self._stats = self._stats, {}
            extra, self._extra = self._extra, []
        if not stats and not extra:
            return 0
        now = time.time()
        batches: dict[tuple[str, str], list[dict]] = {}
        for (account, region, endpoint, variant), s in stats.items():
            dims = {"EndpointName": endpoint, "VariantName": variant}
            items = batches.setdefault((account, region), [])
            for name, value in (
                ("Invocations", s.invocations),
                ("Invocation4XXErrors", s.errors4xx),
                ("Invocation5XXErrors", s.errors5xx),
                ("InvocationsPerInstance", s.invocations / max(1, s.instances)),
            ):
                items.append(
                    {
                        "namespace": NAMESPACE,
                        "name": name,
                        "dimensions": dims,
                        "value": value,
                        "unit": "None",
                        "timestamp": now,
                    }
                )
            for name, latency in (("ModelLatency", s.model), ("OverheadLatency", s.overhead)):
                if latency.count:
                    items.append(
                        {
                            "namespace": NAMESPACE,
                            "name": name,
                            "dimensions": dims,
                            "unit": "Microseconds",
                            "statistics": latency.statistics(),
                            "timestamp": now,
                        }
                    )
        for account, region, item in extra:
            batches.setdefault((account, region), []).append(item)
        store = _metric_store(self.platform)
        if store is None:
            return 0
        written = 0
        for (account, region), items in batches.items():
            written += store.put_many(account, region, items)
        return written


def _metric_store(platform) -> Any:
    try:
        from ..store.metrics import metric_store
    except ImportError:  # the metrics store is optional
        return None
    return metric_store(platform)
