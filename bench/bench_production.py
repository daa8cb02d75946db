"""The hot-path cost of shadow variants and data capture: one endpoint configuration with and without them,
measured in the same run, on the same server and model, in interleaved rounds (medians reported) so
that a noisy machine hits every case alike.

Usage: ``python -m bench.bench_production [--seconds 5] [--warmup 2] [--connections 16]``

Model and load as in ``bench.bench_endpoint`` (XGBoost, 100 trees, one CSV row per request; its load
generator, signing and measurement functions are reused). Endpoints, all one instance of the same model:

* ``plain`` — the baseline;
* ``capture 100%`` — DataCaptureConfig, every request and response captured to S3;
* ``shadow 10%`` — a shadow variant receiving a copy of one request in ten;
* ``shadow 100%`` — a shadow variant (its own instance) receiving a copy of every request;
* ``shadow 100% + capture 100%``.

A mirrored copy is a second model invocation: on AWS it runs on the shadow's own instances, here it runs on
the same cores as the gateway and the production worker, so the throughput column includes the shadow
model's CPU. ``gw CPU/req`` isolates the gateway process's own CPU per request (routing, sampling, the
copy's second HTTP exchange, capture queueing and encoding), which is what the hot path pays.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from .bench_endpoint import (
    ROW,
    XGBOOST_IMAGE,
    Target,
    free_port,
    measure,
    signed_invoke,
    start_server,
    train_model,
)

ROOT = Path(__file__).resolve().parent.parent


def _own_cpu(pid: int) -> float:
    import psutil

    try:
        times = psutil.Process(pid).cpu_times()
        return times.user + times.system
    except psutil.Error:
        return 0.0


def _deploy(sm, name: str, shadow: float, capture: bool) -> None:
    variant = {
        "VariantName": "AllTraffic",
        "ModelName": "bench-xgb",
        "InitialInstanceCount": 1,
        "InstanceType": "ml.m5.large",
        "InitialVariantWeight": 1.0,
    }
    extra: dict = {}
    if shadow:
        extra["ShadowProductionVariants"] = [dict(variant, VariantName="Shadow", InitialVariantWeight=shadow)]
    if capture:
        extra["DataCaptureConfig"] = {
            "EnableCapture": True,
            "InitialSamplingPercentage": 100,
            "DestinationS3Uri": "s3://bench-capture/capture",
            "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        }
    sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[variant], **extra)
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)


def _wait(sm, names: list[str]) -> None:
    deadline = time.time() + 300
    for name in names:
        while sm.describe_endpoint(EndpointName=name)["EndpointStatus"] == "Creating":
            if time.time() > deadline:
                raise RuntimeError(f"endpoint {name} did not come up")
            time.sleep(0.1)
        status = sm.describe_endpoint(EndpointName=name)
        if status["EndpointStatus"] != "InService":
            raise RuntimeError(f"endpoint {name}: {status.get('FailureReason')}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_production")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; the table shows medians")
    args = parser.parse_args(argv)
    args.seconds = int(max(1, args.seconds))
    args.warmup = int(max(1, args.warmup))
    sys.path.insert(0, str(ROOT / "src"))
    workdir = Path(tempfile.mkdtemp(prefix="bench-production-"))
    server = None
    try:
        import boto3

        train_model(workdir)
        data_dir = workdir / "data"
        port = free_port()
        server = start_server(data_dir, port)
        url = f"http://127.0.0.1:{port}"
        creds = dict(line.split("=", 1) for line in (data_dir / "credentials").read_text().split())
        key, secret = creds["aws_access_key_id"], creds["aws_secret_access_key"]

        def client(name: str):
            return boto3.client(
                name,
                endpoint_url=url,
                region_name="us-east-1",
                aws_access_key_id=key,
                aws_secret_access_key=secret,
            )

        s3, sm = client("s3"), client("sagemaker")
        s3.create_bucket(Bucket="bench-models")
        s3.create_bucket(Bucket="bench-capture")
        s3.upload_file(str(workdir / "model.tar.gz"), "bench-models", "xgb/model.tar.gz")
        sm.create_model(
            ModelName="bench-xgb",
            ExecutionRoleArn="arn:aws:iam::000000000000:role/R",
            PrimaryContainer={"Image": XGBOOST_IMAGE, "ModelDataUrl": "s3://bench-models/xgb/model.tar.gz"},
        )
        cases = [
            ("plain", 0.0, False),
            ("capture 100%", 0.0, True),
            ("shadow 10%", 0.1, False),
            ("shadow 100%", 1.0, False),
            ("shadow 100% + capture 100%", 1.0, True),
        ]
        names = {label: f"bench-{i}" for i, (label, _, _) in enumerate(cases)}
        for label, shadow, capture in cases:
            _deploy(sm, names[label], shadow, capture)
        _wait(sm, list(names.values()))
        samples: dict[str, list[dict]] = {label: [] for label, _, _ in cases}
        for round_index in range(args.rounds):  # interleaved, rotated: drift and noise hit every case alike
            labels = [label for label, _, _ in cases]
            shift = round_index % len(labels)
            for label in labels[shift:] + labels[:shift]:
                path, headers = signed_invoke(url, key, secret, names[label])
                before = _own_cpu(server.pid)
                row = measure(Target(label, port, path, headers, ROW, server.pid), args, workdir)
                served = (
                    row["rpsN"] * (args.seconds + args.warmup) + row["rps1"] * args.seconds
                )  # warm-up ≈ N-conn
                row["gw_cpu_us"] = (_own_cpu(server.pid) - before) / max(1.0, served) * 1e6
                samples[label].append(row)
        rows = {
            label: {key: statistics.median(r[key] for r in runs) for key in runs[0]}
            for label, runs in samples.items()
        }
        report(rows, args)
    finally:
        if server is not None and server.poll() is None:
            server.terminate()
            try:
                server.wait(15)
            except Exception:  # noqa: BLE001 - cleanup
                server.kill()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


def report(rows: dict[str, dict], args) -> None:
    base = rows["plain"]
    loader = "wrk" if shutil.which("wrk") else "python raw sockets"
    import os

    print(
        f"\nShadow variants and data capture on the invocation hot path (XGBoost 100 trees, one CSV row per "
        f"request); load: {loader}, {args.seconds}s per measurement after {args.warmup}s warm-up, medians of "
        f"{args.rounds} interleaved rounds; "
        f"CPU: {os.cpu_count()} cores"
    )
    print(
        f"{'endpoint':<28} {'1-conn p50':>10} {'p99':>9} {f'{args.connections}-conn req/s':>14} "
        f"{'vs plain':>9} {'1-conn vs plain':>16} {'gw CPU/req':>11} {'errors':>7}"
    )
    for name, row in rows.items():
        print(
            f"{name:<28} {row['p50_ms']:>8.3f}ms {row['p99_ms']:>7.3f}ms {row['rpsN']:>14,.0f} "
            f"{row['rpsN'] / base['rpsN']:>8.2f}x {row['rps1'] / base['rps1']:>15.2f}x "
            f"{row['gw_cpu_us']:>9,.0f}µs {row['errors']:>7}"
        )
    for name in ("capture 100%", "shadow 10%", "shadow 100%", "shadow 100% + capture 100%"):
        loss = 1 - rows[name]["rpsN"] / base["rpsN"]
        print(
            f"throughput loss, {name}: {loss * 100:.1f}% (goal <= 10%); p50 added: "
            f"{(rows[name]['p50_ms'] - base['p50_ms']) * 1e3:.0f}µs"
        )


if __name__ == "__main__":
    sys.exit(main())
