"""Serverless cold starts and multi-model load latency, for a small scikit-learn model.

Usage: ``python -m bench.bench_serverless [--cold 5] [--warm 50] [--models 12] [--cache 4] [--gap 3]
[--warm-pool 1]``

One server (``SAGESTACK_SERVERLESS_IDLE_SECONDS=1``, ``SAGESTACK_MME_MAX_MODELS=<cache>``) and one model: a
scikit-learn LogisticRegression (8 features) served by the framework's default handler (``model.joblib``);
a request is two CSV rows.

* serverless: the first request after the idle worker was stopped (a cold start: worker process, imports,
  model load), against warm requests on the same endpoint and on an ordinary one-instance endpoint
  (the baseline); plus the ModelSetupTime the platform reported. Each cold request comes ``--gap`` seconds
  after the idle worker stopped (AWS's idle period is minutes: the warm pool has long refilled by then);
  ``--warm-pool`` is ``SAGESTACK_SERVERLESS_WARM_POOL`` (0: every cold start is a new process, as before
  the pool), and the table counts the cold starts a pooled worker served (from the instances' logs);
* multi-model: the first request for a model (download + extract + load), a request for a model that was
  evicted from the cache (load only), and a cache hit — against the single-model endpoint's warm request.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import tarfile
import tempfile
import time
import uuid
from pathlib import Path

from .common import median, running_server, table

SKLEARN_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
ROLE = "arn:aws:iam::000000000000:role/SageStackExecutionRole"
ROW = "0.5,-1.2,0.3,2.2,-0.7,0.1,1.5,-0.2\n-0.1,0.4,1.3,-2.0,0.2,0.9,-0.5,0.8"  # two rows: 2-D input


def model_tar(seed: int) -> bytes:
    import joblib
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(500, 8))
    model = LogisticRegression().fit(x, x[:, 0] + rng.normal(scale=0.3, size=500) > 0)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.joblib"
        joblib.dump(model, path)
        out = io.BytesIO()
        with tarfile.open(fileobj=out, mode="w:gz") as archive:
            archive.add(path, arcname="model.joblib")
    return out.getvalue()


def worker_running(endpoint: str) -> bool:
    """Whether a worker process serves ``endpoint`` (Linux /proc; elsewhere: assume it idled out)."""
    proc = Path("/proc")
    if not proc.exists():
        return False
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if (
            b"sagestack.serving.worker" in args
            and b"--endpoint" in args
            and args[args.index(b"--endpoint") + 1].decode() == endpoint
        ):
            return True
    return False


def wait(predicate, timeout: float, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError("timed out")
        time.sleep(interval)


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f}"


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_serverless")
    parser.add_argument("--cold", type=int, default=5, help="cold starts to time")
    parser.add_argument("--warm", type=int, default=50, help="warm requests to time")
    parser.add_argument("--models", type=int, default=12, help="models behind the multi-model endpoint")
    parser.add_argument("--cache", type=int, default=4, help="models the multi-model cache holds")
    parser.add_argument("--gap", type=float, default=3.0, help="seconds between idle stop and cold request")
    parser.add_argument("--warm-pool", type=int, default=1, help="SAGESTACK_SERVERLESS_WARM_POOL")
    args = parser.parse_args(argv)
    env = {
        "SAGESTACK_SERVERLESS_WARM_POOL": str(args.warm_pool),
        "SAGESTACK_SERVERLESS_IDLE_SECONDS": "1",
        "SAGESTACK_MME_MAX_MODELS": str(args.cache),
        "SAGESTACK_SERVING_METRICS_INTERVAL": "1",
    }
    with running_server(env) as server:
        sm, rt, s3 = server.client("sagemaker"), server.client("sagemaker-runtime"), server.client("s3")
        bucket = f"bench-{uuid.uuid4().hex[:8]}"
        s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket=bucket, Key="single/model.tar.gz", Body=model_tar(0))
        for i in range(args.models):
            s3.put_object(Bucket=bucket, Key=f"mme/m{i}.tar.gz", Body=model_tar(i))

        def create(name: str, container: dict, variant: dict) -> None:
            sm.create_model(ModelName=name, ExecutionRoleArn=ROLE, PrimaryContainer=container)
            sm.create_endpoint_config(
                EndpointConfigName=name,
                ProductionVariants=[dict(VariantName="AllTraffic", ModelName=name, **variant)],
            )
            sm.create_endpoint(EndpointName=name, EndpointConfigName=name)

        single = {"Image": SKLEARN_IMAGE, "ModelDataUrl": f"s3://{bucket}/single/model.tar.gz"}
        instance = {"InstanceType": "ml.m5.large", "InitialInstanceCount": 1}
        create("bench-realtime", single, instance)
        create(
            "bench-serverless", single, {"ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 2}}
        )
        create(
            "bench-mme",
            {"Image": SKLEARN_IMAGE, "Mode": "MultiModel", "ModelDataUrl": f"s3://{bucket}/mme/"},
            instance,
        )
        for name in ("bench-realtime", "bench-serverless", "bench-mme"):
            wait(
                lambda name=name: sm.describe_endpoint(EndpointName=name)["EndpointStatus"] != "Creating",
                120,
                0.2,
            )

        def invoke(endpoint: str, **kwargs) -> float:
            started = time.perf_counter()
            rt.invoke_endpoint(EndpointName=endpoint, Body=ROW, ContentType="text/csv", **kwargs)[
                "Body"
            ].read()
            return time.perf_counter() - started

        def warm(endpoint: str, **kwargs) -> list[float]:
            invoke(endpoint, **kwargs)
            return [invoke(endpoint, **kwargs) for _ in range(args.warm)]

        baseline = median(warm("bench-realtime"))
        cold = []
        for _ in range(args.cold):
            wait(lambda: not worker_running("bench-serverless"), 30)
            time.sleep(args.gap)
            cold.append(invoke("bench-serverless"))
        serverless_warm = median(warm("bench-serverless"))
        time.sleep(1.0)  # log flush
        pages = server.client("logs").get_paginator("filter_log_events")
        pooled = sum(
            "by a pooled worker" in event["message"]
            for page in pages.paginate(logGroupName="/aws/sagemaker/Endpoints/bench-serverless")
            for event in page["events"]
        )

        first, reload_, hits = [], [], []
        for i in range(args.models):  # first use: download + extract + load
            first.append(invoke("bench-mme", TargetModel=f"m{i}.tar.gz"))
        for i in range(args.models - args.cache):  # evicted by now: load again (already on disk)
            reload_.append(invoke("bench-mme", TargetModel=f"m{i}.tar.gz"))
        hot = f"m{args.models - args.cache - 1}.tar.gz"
        hits = warm("bench-mme", TargetModel=hot)

        time.sleep(2.5)  # metric flush
        cloudwatch = server.client("cloudwatch")

        def metric(namespace: str, name: str, endpoint: str) -> float | None:
            now = dt.datetime.now(dt.timezone.utc)
            points = cloudwatch.get_metric_statistics(
                Namespace=namespace,
                MetricName=name,
                StartTime=now - dt.timedelta(minutes=30),
                EndTime=now,
                Period=3600,
                Statistics=["Average"],
                Dimensions=[
                    {"Name": "EndpointName", "Value": endpoint},
                    {"Name": "VariantName", "Value": "AllTraffic"},
                ],
            )["Datapoints"]
            return points[0]["Average"] if points else None

        setup = metric("AWS/SageMaker", "ModelSetupTime", "bench-serverless")
        loading = metric("AWS/SageMaker", "ModelLoadingTime", "bench-mme")
        print(
            table(
                "Serverless cold start (sklearn LogisticRegression, two CSV rows)",
                ["request", "p50 ms", "max ms", "× warm real-time"],
                [
                    ["real-time endpoint, warm (baseline)", ms(baseline), "", "1.0"],
                    [
                        f"serverless, cold start (n={len(cold)}, {pooled} on a pooled worker)",
                        ms(median(cold)),
                        ms(max(cold)),
                        f"{median(cold) / baseline:.0f}",
                    ],
                    ["serverless, warm", ms(serverless_warm), "", f"{serverless_warm / baseline:.2f}"],
                    ["ModelSetupTime reported (avg)", ms(setup / 1e6) if setup else "-", "", ""],
                ],
            )
        )
        print()
        print(
            table(
                f"Multi-model endpoint ({args.models} models, cache of {args.cache})",
                ["request", "p50 ms", "max ms", "× warm real-time"],
                [
                    [
                        f"first use: download + load (n={len(first)})",
                        ms(median(first)),
                        ms(max(first)),
                        f"{median(first) / baseline:.1f}",
                    ],
                    [
                        f"after eviction: load (n={len(reload_)})",
                        ms(median(reload_)),
                        ms(max(reload_)),
                        f"{median(reload_) / baseline:.1f}",
                    ],
                    [f"cache hit (n={len(hits)})", ms(median(hits)), "", f"{median(hits) / baseline:.2f}"],
                    ["ModelLoadingTime reported (avg)", ms(loading / 1e6) if loading else "-", "", ""],
                ],
            )
        )


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
