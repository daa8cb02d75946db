"""Helpers for the production-endpoint tests: client loops that run beside the assertions."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field


@dataclass
class Result:
    at: float
    ok: bool
    answer: str


@dataclass
class ClientLoop:
    """Invokes an endpoint from ``threads`` threads at about ``rate`` requests/s each until stopped."""

    hosting: object
    endpoint: str
    rate: float = 10.0
    threads: int = 1
    body: str = "1,2"
    results: list[Result] = field(default_factory=list)

    def __post_init__(self):
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def _run(self) -> None:
        client = self.hosting.server.client("sagemaker-runtime")
        while not self._stop.is_set():
            interval = 1.0 / self.rate if self.rate else 0.0
            started = time.time()
            try:
                response = client.invoke_endpoint(
                    EndpointName=self.endpoint, Body=self.body, ContentType="text/csv"
                )
                result = Result(started, True, response["Body"].read().decode())
            except Exception as exc:  # noqa: BLE001 - recorded, asserted on by the tests
                result = Result(started, False, str(exc))
            with self._lock:
                self.results.append(result)
            left = interval - (time.time() - started)
            if left > 0:
                self._stop.wait(left)

    def start(self) -> ClientLoop:
        for _ in range(self.threads):
            thread = threading.Thread(target=self._run, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def set_rate(self, rate: float) -> None:
        self.rate = rate

    def stop(self) -> list[Result]:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)
        return self.results

    def between(self, start: float, end: float) -> list[Result]:
        with self._lock:
            return [r for r in self.results if start <= r.at < end]


def metric_sum(server, endpoint: str, variant: str, name: str, start: float, end: float) -> float:
    import datetime as dt

    cw = server.client("cloudwatch")
    stats = cw.get_metric_statistics(
        Namespace="AWS/SageMaker",
        MetricName=name,
        Statistics=["Sum"],
        Period=60,
        StartTime=dt.datetime.fromtimestamp(start - 60, dt.timezone.utc),
        EndTime=dt.datetime.fromtimestamp(end + 60, dt.timezone.utc),
        Dimensions=[{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": variant}],
    )
    return sum(p["Sum"] for p in stats["Datapoints"])
