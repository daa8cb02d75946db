"""Batch transform throughput: 1,000,000 rows × 20 features through CreateTransformJob against the same
model predicting the same file in one process (pandas C reader → inplace_predict → CSV write).

    python -m bench.bench_transform [--rows 1000000]

Aim: ≥ 0.7× the single-process rows/s. Same machine, same run.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

from .common import running_server, table
from .models import create_xgb_model, train_anchor_booster


def single_process(booster, path: Path, out: Path) -> float:
    import pandas as pd

    start = time.perf_counter()
    frame = pd.read_csv(path, header=None, dtype=np.float32, engine="c")
    scores = booster.inplace_predict(frame.to_numpy())
    np.savetxt(out, scores, fmt="%.7g")
    return time.perf_counter() - start


def transform_job(server, model: str, bucket: str, instances: int, concurrency: int) -> float:
    sm = server.client("sagemaker")
    name = f"bench-{uuid.uuid4().hex[:8]}"
    start = time.perf_counter()
    sm.create_transform_job(
        TransformJobName=name,
        ModelName=model,
        MaxConcurrentTransforms=concurrency,
        BatchStrategy="MultiRecord",
        MaxPayloadInMB=6,
        TransformInput={
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/input/"}},
            "ContentType": "text/csv",
            "SplitType": "Line",
        },
        TransformOutput={"S3OutputPath": f"s3://{bucket}/output/{name}/", "AssembleWith": "Line"},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": instances},
    )
    while True:
        desc = sm.describe_transform_job(TransformJobName=name)
        if desc["TransformJobStatus"] in ("Completed", "Failed", "Stopped"):
            break
        time.sleep(0.1)
    if desc["TransformJobStatus"] != "Completed":
        raise RuntimeError(desc.get("FailureReason"))
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    booster = train_anchor_booster()
    rows = []
    with running_server() as server, tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "input.csv"
        rng = np.random.default_rng(1)
        with open(path, "wb") as handle:
            for start in range(0, args.rows, 100_000):
                block = rng.normal(size=(min(100_000, args.rows - start), 20)).astype(np.float32)
                np.savetxt(handle, block, delimiter=",", fmt="%.6f")
        s3 = server.client("s3")
        s3.create_bucket(Bucket="bench")
        s3.upload_file(str(path), "bench", "input/input.csv")
        model = create_xgb_model(server, booster, "bench", "bench-xgb")
        baseline = single_process(booster, path, Path(tmp) / "scores.csv")
        rate = args.rows / baseline
        rows.append(["one process: read, predict, write", f"{baseline:.2f} s", f"{rate:,.0f}", "1.00"])
        for instances, concurrency in ((1, 1), (1, 2), (2, 1)):
            elapsed = transform_job(server, model, "bench", instances, concurrency)
            rows.append(
                [
                    f"batch transform, {instances} instance(s) × {concurrency} concurrent",
                    f"{elapsed:.2f} s",
                    f"{args.rows / elapsed:,.0f}",
                    f"{baseline / elapsed:.2f}",
                ]
            )
    print(
        table(
            f"Batch transform, {args.rows:,} rows × 20 features (XGBoost 100 trees, depth 6)",
            ["run", "time (incl. worker start)", "rows/s", "× one process"],
            rows,
        )
    )


if __name__ == "__main__":
    main()
