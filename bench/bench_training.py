"""Training platform overhead: CreateTrainingJob → Completed against running the same script directly.

    python -m bench.bench_training [--rows 1000000]

(1) a trivial script (aim: at most +1 s over running it directly); (2) an XGBoost script training
1M × 20 rows, 100 rounds (aim: ratio ≤ 1.1). Same machine, same run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

from .common import median, running_server, table, tar_gz

ROLE = "arn:aws:iam::000000000000:role/SageStackExecutionRole"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"

TRIVIAL = "print('hello from a trivial training script')\n"
XGB = """
import os, time, numpy as np, xgboost as xgb
train = os.environ.get("SM_CHANNEL_TRAIN", os.environ.get("BENCH_TRAIN_DIR"))
data = np.load(os.path.join(train, "train.npy"))
dtrain = xgb.QuantileDMatrix(data[:, 1:], label=data[:, 0])
booster = xgb.train({"tree_method": "hist", "max_depth": 6, "objective": "binary:logistic", "nthread": 2},
                    dtrain, num_boost_round=100)
booster.save_model(os.path.join(os.environ.get("SM_MODEL_DIR", "/tmp"), "model.ubj"))
"""


def run_direct(script: str, env_extra: dict) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "train.py"
        path.write_text(script)
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, str(path)],
            check=True,
            env={**os.environ, **env_extra},
            stdout=subprocess.DEVNULL,
        )
        return time.perf_counter() - start


def run_job(server, bucket: str, script: str, data_prefix: str) -> float:
    s3 = server.client("s3")
    sm = server.client("sagemaker")
    key = f"code/{uuid.uuid4().hex}/sourcedir.tar.gz"
    s3.put_object(Bucket=bucket, Key=key, Body=tar_gz({"train.py": script}))
    name = f"bench-{uuid.uuid4().hex[:10]}"
    start = time.perf_counter()
    sm.create_training_job(
        TrainingJobName=name,
        RoleArn=ROLE,
        AlgorithmSpecification={"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        InputDataConfig=[
            {
                "ChannelName": "train",
                "DataSource": {
                    "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/{data_prefix}"}
                },
            }
        ],
        OutputDataConfig={"S3OutputPath": f"s3://{bucket}/out"},
        ResourceConfig={"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 10},
        StoppingCondition={"MaxRuntimeInSeconds": 3600},
        HyperParameters={
            "sagemaker_program": '"train.py"',
            "sagemaker_submit_directory": json.dumps(f"s3://{bucket}/{key}"),
        },
    )
    while True:
        status = sm.describe_training_job(TrainingJobName=name)["TrainingJobStatus"]
        if status in ("Completed", "Failed", "Stopped"):
            break
        time.sleep(0.05)
    elapsed = time.perf_counter() - start
    if status != "Completed":
        raise RuntimeError(f"{name}: {status}")
    return elapsed


def interleaved(repeat: int, baseline, candidate) -> tuple[float, float]:
    """Alternate the two so that load from elsewhere on the machine hits both alike; medians."""
    first, second = [], []
    for _ in range(repeat):
        first.append(baseline())
        second.append(candidate())
    return median(first), median(second)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    rows = []
    with running_server() as server, tempfile.TemporaryDirectory() as tmp:
        s3 = server.client("s3")
        bucket = "bench"
        s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket=bucket, Key="tiny/x.txt", Body=b"1")
        direct, job = interleaved(
            args.repeat, lambda: run_direct(TRIVIAL, {}), lambda: run_job(server, bucket, TRIVIAL, "tiny/")
        )
        rows.append(["trivial script", f"{direct:.2f} s", f"{job:.2f} s", f"+{job - direct:.2f} s", "≤ +1 s"])
        rng = np.random.default_rng(0)
        X = rng.normal(size=(args.rows, 20)).astype(np.float32)
        y = (X[:, :5].sum(axis=1) + rng.normal(size=args.rows) > 0).astype(np.float32)
        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        np.save(data_dir / "train.npy", np.column_stack([y, X]))
        s3.upload_file(str(data_dir / "train.npy"), bucket, "xgb/train.npy")
        direct, job = interleaved(
            args.repeat,
            lambda: run_direct(XGB, {"BENCH_TRAIN_DIR": str(data_dir)}),
            lambda: run_job(server, bucket, XGB, "xgb/"),
        )
        rows.append(
            [
                f"XGBoost script {args.rows:,} × 20, 100 rounds",
                f"{direct:.2f} s",
                f"{job:.2f} s",
                f"× {job / direct:.2f}",
                "≤ × 1.1",
            ]
        )
    print(
        table(
            f"Training platform overhead (median of {args.repeat})",
            ["workload", "script run directly", "CreateTrainingJob → Completed", "overhead", "aim"],
            rows,
        )
    )


if __name__ == "__main__":
    main()
