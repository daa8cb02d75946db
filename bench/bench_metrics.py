"""SageMaker Metrics: BatchPutMetrics throughput and DescribeTrialComponent latency with many points.

Usage: ``python -m bench.bench_metrics [--points 20000] [--sizes 1000,10000,100000]``.

Starts ``sagestack serve`` on a temp data dir and measures, with boto3:

* BatchPutMetrics points/s, 10 points per request (the API's maximum), sequential, one client —
  against GetCallerIdentity/s in the same run (the per-request floor of this client and server);
* the store's own append rate in 1,000-point batches (``ExperimentStore.put_points``, in process, on
  a SQLite file on the same disk);
* DescribeTrialComponent latency (median of 20) for a trial component holding N points of one metric,
  against describing one with no points.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from .common import median, running_server


def _put_all(metrics, name: str, count: int, base: float) -> float:
    start = time.perf_counter()
    for offset in range(0, count, 10):
        data = [
            {"MetricName": "loss", "Timestamp": base + i, "Step": i, "Value": 1.0 / (i + 1)}
            for i in range(offset, min(offset + 10, count))
        ]
        metrics.batch_put_metrics(TrialComponentName=name, MetricData=data)
    return time.perf_counter() - start


def _store_rate(count: int) -> float:
    from sagestack.store.db import Database
    from sagestack.store.experiments import ExperimentStore

    with tempfile.TemporaryDirectory(prefix="sagestack-bench-") as tmp:
        db = Database(f"sqlite:///{Path(tmp) / 'metadata.db'}")
        db.create_schema()
        store = ExperimentStore(db)
        base = time.time()
        start = time.perf_counter()
        for offset in range(0, count, 1000):
            store.put_points(
                "000000000000",
                "us-east-1",
                "bench",
                [
                    {"MetricName": "loss", "Timestamp": base + i, "Step": i, "Value": float(i)}
                    for i in range(offset, min(offset + 1000, count))
                ],
            )
        elapsed = time.perf_counter() - start
        db.dispose()
    return count / elapsed


def _describe_ms(sm, name: str, repeat: int = 20) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        sm.describe_trial_component(TrialComponentName=name)
        samples.append(time.perf_counter() - start)
    return median(samples) * 1000


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=20000, help="points sent through BatchPutMetrics")
    parser.add_argument("--sizes", default="1000,10000,100000", help="points per trial component described")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    rows: list[tuple[str, str, str]] = []
    with running_server() as server:
        sm, metrics = server.client("sagemaker"), server.client("sagemaker-metrics")
        sts = server.client("sts")
        sm.create_trial_component(TrialComponentName="bench-put")
        base = time.time() - 10 * 86400
        elapsed = _put_all(metrics, "bench-put", args.points, base)
        start = time.perf_counter()
        for _ in range(200):
            sts.get_caller_identity()
        floor = (time.perf_counter() - start) / 200
        per_request = elapsed / (args.points / 10)
        rows.append(
            (
                "BatchPutMetrics (10 points/request)",
                f"{args.points / elapsed:10.0f} points/s",
                f"{per_request * 1000:.1f} ms/request vs GetCallerIdentity {floor * 1000:.1f} ms",
            )
        )
        rows.append(
            (
                "store append, 1,000-point batches",
                f"{_store_rate(max(sizes)):10.0f} points/s",
                "in process, SQLite",
            )
        )
        sm.create_trial_component(TrialComponentName="bench-empty")
        empty = _describe_ms(sm, "bench-empty")
        rows.append(("DescribeTrialComponent, no points", f"{empty:10.1f} ms", "baseline"))
        from sagestack.store.db import Database
        from sagestack.store.experiments import ExperimentStore

        db = Database(f"sqlite:///{server.data_dir / 'metadata.db'}")
        store = ExperimentStore(db)
        for size in sizes:
            name = f"bench-{size}"
            sm.create_trial_component(TrialComponentName=name)
            for offset in range(0, size, 1000):  # filled directly: BatchPutMetrics is measured above
                store.put_points(
                    "000000000000",
                    "us-east-1",
                    name,
                    [
                        {"MetricName": "loss", "Timestamp": base + i, "Step": i, "Value": float(i)}
                        for i in range(offset, min(offset + 1000, size))
                    ],
                )
            latency = _describe_ms(sm, name)
            summary = sm.describe_trial_component(TrialComponentName=name)["Metrics"][0]
            assert summary["Count"] == size
            rows.append(
                (
                    f"DescribeTrialComponent, {size:,} points",
                    f"{latency:10.1f} ms",
                    f"{latency / empty:.1f}x of no points",
                )
            )
        db.dispose()
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'result':>18}  vs baseline")
    for label, value, note in rows:
        print(f"{label:<{width}}  {value:>18}  {note}")


if __name__ == "__main__":
    main()
