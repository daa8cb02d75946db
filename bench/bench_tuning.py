"""Hyperparameter tuning: what the tuner adds per child, and Bayesian against Random at equal budget.

    python -m bench.bench_tuning [--seeds 3] [--budget 10]

(1) Overhead: a Random tuning job of 8 trivial script-mode children, one at a time, against the same
trivial script as plain CreateTrainingJob calls in the same run: child created → started (the training
queue, as for any job) and child finished → next child created (the tuner's own latency; its loop
runs every ``reconcile_interval``, 0.5 s).
(2) Search quality: built-in XGBoost on scikit-learn's breast-cancer set (validation:logloss,
Minimize; eta, max_depth, min_child_weight, subsample, 12 rounds), ``--budget`` children, 2 in
parallel, Bayesian (optuna TPE) and Random with the same seeds.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import tarfile
import time
import uuid

import numpy as np

from .common import running_server, table

ROLE = "arn:aws:iam::000000000000:role/SageStackExecutionRole"
SKLEARN = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
XGBOOST = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
TRIVIAL = (
    "import argparse\np = argparse.ArgumentParser()\np.add_argument('--x', type=float)\n"
    "a, _ = p.parse_known_args()\nprint(f'loss={(a.x - 1) ** 2:.6f}', flush=True)\n"
)


def _tar(script: str) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("train.py")
        info.size = len(script)
        tar.addfile(info, io.BytesIO(script.encode()))
    return buffer.getvalue()


def _csv(X, y) -> bytes:
    buffer = io.StringIO()
    np.savetxt(buffer, np.column_stack([y, X]), delimiter=",", fmt="%.6g")
    return buffer.getvalue().encode()


def _wait_tuning(sm, name: str, timeout: float = 600) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        desc = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
        if desc["HyperParameterTuningJobStatus"] in ("Completed", "Failed", "Stopped"):
            return desc
        time.sleep(0.3)
    raise TimeoutError(name)


def _children(sm, name: str) -> list[dict]:
    kids = sm.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=name, MaxResults=100, SortBy="CreationTime"
    )["TrainingJobSummaries"]
    return [sm.describe_training_job(TrainingJobName=k["TrainingJobName"]) for k in kids]


def _definition(bucket: str, image: str, static: dict, metrics: list | None, channels: list) -> dict:
    algorithm = {"TrainingImage": image, "TrainingInputMode": "File"}
    if metrics:
        algorithm["MetricDefinitions"] = metrics
    return {
        "StaticHyperParameters": static,
        "AlgorithmSpecification": algorithm,
        "RoleArn": ROLE,
        "InputDataConfig": [
            {
                "ChannelName": c,
                "DataSource": {
                    "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/data/{c}"}
                },
                "ContentType": "text/csv",
            }
            for c in channels
        ],
        "OutputDataConfig": {"S3OutputPath": f"s3://{bucket}/out"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        "StoppingCondition": {"MaxRuntimeInSeconds": 300},
    }


def overhead(server, bucket: str, children: int = 8) -> list[list]:
    sm = server.client("sagemaker")
    s3 = server.client("s3")
    s3.put_object(Bucket=bucket, Key="code/trivial.tar.gz", Body=_tar(TRIVIAL))
    s3.put_object(Bucket=bucket, Key="data/trivial/x.csv", Body=b"1,2\n")
    static = {
        "sagemaker_program": '"train.py"',
        "sagemaker_submit_directory": json.dumps(f"s3://{bucket}/code/trivial.tar.gz"),
    }
    definition = _definition(
        bucket, SKLEARN, static, [{"Name": "loss", "Regex": r"loss=([0-9.]+)"}], ["trivial"]
    )
    # plain training jobs, one after another (the baseline for created → started)
    plain = []
    plain_started = time.perf_counter()
    for _ in range(children):
        name = f"plain-{uuid.uuid4().hex[:8]}"
        sm.create_training_job(
            TrainingJobName=name,
            HyperParameters={**static, "x": "0.5"},
            **{k: v for k, v in definition.items() if k != "StaticHyperParameters"},
        )
        while True:
            desc = sm.describe_training_job(TrainingJobName=name)
            if desc["TrainingJobStatus"] in ("Completed", "Failed", "Stopped"):
                break
            time.sleep(0.1)
        assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")
        plain.append((desc["TrainingStartTime"] - desc["CreationTime"]).total_seconds())
    plain_total = time.perf_counter() - plain_started
    name = f"ovh-{uuid.uuid4().hex[:6]}"
    tuning_started = time.perf_counter()
    sm.create_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=name,
        TrainingJobDefinition=definition,
        HyperParameterTuningJobConfig={
            "Strategy": "Random",
            "RandomSeed": 1,
            "ResourceLimits": {"MaxNumberOfTrainingJobs": children, "MaxParallelTrainingJobs": 1},
            "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "loss"},
            "ParameterRanges": {
                "ContinuousParameterRanges": [{"Name": "x", "MinValue": "0", "MaxValue": "2"}]
            },
        },
    )
    desc = _wait_tuning(sm, name)
    tuning_total = time.perf_counter() - tuning_started
    assert desc["HyperParameterTuningJobStatus"] == "Completed", desc.get("FailureReason")
    kids = _children(sm, name)
    assert len(kids) == children
    started = [(k["TrainingStartTime"] - k["CreationTime"]).total_seconds() for k in kids]
    gaps = [(b["CreationTime"] - a["TrainingEndTime"]).total_seconds() for a, b in zip(kids, kids[1:])]
    runs = [(k["TrainingEndTime"] - k["CreationTime"]).total_seconds() for k in kids]
    total = (desc["HyperParameterTuningEndTime"] - desc["CreationTime"]).total_seconds()
    tail = (desc["HyperParameterTuningEndTime"] - kids[-1]["TrainingEndTime"]).total_seconds()
    return [
        ["plain CreateTrainingJob: created → started (median)", f"{statistics.median(plain):.3f} s"],
        ["tuning child: created → started (median)", f"{statistics.median(started):.3f} s"],
        ["tuning: child finished → next child created (median)", f"{statistics.median(gaps):.3f} s"],
        ["tuning: child finished → next child created (max)", f"{max(gaps):.3f} s"],
        ["tuning: last child finished → tuning job Completed", f"{tail:.3f} s"],
        ["child created → finished (median)", f"{statistics.median(runs):.3f} s"],
        [f"tuning job of {children} sequential children, created → Completed", f"{total:.2f} s"],
        ["the children's own created → finished, summed", f"{sum(runs):.2f} s"],
        [
            "tuner overhead per child ((tuning job - children) / children)",
            f"{(total - sum(runs)) / children:.3f} s",
        ],
        [
            f"client: {children} plain jobs one after another (create, poll every 0.1 s)",
            f"{plain_total:.2f} s",
        ],
        ["client: the tuning job (create, poll every 0.3 s)", f"{tuning_total:.2f} s"],
    ]


def search(server, bucket: str, seeds: int, budget: int) -> tuple[list[list], float]:
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    sm = server.client("sagemaker")
    s3 = server.client("s3")
    X, y = load_breast_cancer(return_X_y=True)
    Xtr, Xval, ytr, yval = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
    s3.put_object(Bucket=bucket, Key="data/train/train.csv", Body=_csv(Xtr, ytr))
    s3.put_object(Bucket=bucket, Key="data/validation/validation.csv", Body=_csv(Xval, yval))
    definition = _definition(
        bucket,
        XGBOOST,
        {"objective": "binary:logistic", "num_round": "12", "seed": "1"},
        None,
        ["train", "validation"],
    )
    ranges = {
        "ContinuousParameterRanges": [
            {"Name": "eta", "MinValue": "0.01", "MaxValue": "1", "ScalingType": "Logarithmic"},
            {"Name": "min_child_weight", "MinValue": "0.5", "MaxValue": "50", "ScalingType": "Logarithmic"},
            {"Name": "subsample", "MinValue": "0.3", "MaxValue": "1", "ScalingType": "Linear"},
        ],
        "IntegerParameterRanges": [
            {"Name": "max_depth", "MinValue": "1", "MaxValue": "8", "ScalingType": "Linear"}
        ],
    }
    names = {}
    started = time.perf_counter()
    for seed in range(seeds):
        for strategy in ("Bayesian", "Random"):
            name = f"{strategy[:3].lower()}-{seed}-{uuid.uuid4().hex[:5]}"
            names[strategy, seed] = name
            sm.create_hyper_parameter_tuning_job(
                HyperParameterTuningJobName=name,
                TrainingJobDefinition=definition,
                HyperParameterTuningJobConfig={
                    "Strategy": strategy,
                    "RandomSeed": seed + 1,
                    "ResourceLimits": {"MaxNumberOfTrainingJobs": budget, "MaxParallelTrainingJobs": 2},
                    "HyperParameterTuningJobObjective": {
                        "Type": "Minimize",
                        "MetricName": "validation:logloss",
                    },
                    "ParameterRanges": ranges,
                },
            )
    best: dict[tuple[str, int], float] = {}
    for key, name in names.items():
        desc = _wait_tuning(sm, name)
        best[key] = desc["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
    elapsed = time.perf_counter() - started
    rows = [
        [
            seed + 1,
            f"{best['Bayesian', seed]:.4f}",
            f"{best['Random', seed]:.4f}",
            "Bayesian"
            if best["Bayesian", seed] < best["Random", seed]
            else ("tie" if best["Bayesian", seed] == best["Random", seed] else "Random"),
        ]
        for seed in range(seeds)
    ]
    rows.append(
        [
            "mean",
            f"{statistics.mean(best['Bayesian', s] for s in range(seeds)):.4f}",
            f"{statistics.mean(best['Random', s] for s in range(seeds)):.4f}",
            "",
        ]
    )
    return rows, elapsed


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--budget", type=int, default=10)
    args = parser.parse_args(argv)
    with running_server() as server:
        bucket = "bench-tuning"
        server.client("s3").create_bucket(Bucket=bucket)
        print(
            table(
                "Tuner overhead per child (8 trivial children, 1 at a time)",
                ["measure", "value"],
                overhead(server, bucket),
            ),
            flush=True,
        )
        rows, elapsed = search(server, bucket, args.seeds, args.budget)
        print()
        print(
            table(
                f"Best validation:logloss after {args.budget} children (built-in XGBoost, breast cancer, 2 "
                f"parallel; lower is better)",
                ["seed", "Bayesian (TPE)", "Random", "better"],
                rows,
            )
        )
        print(f"\n{2 * args.seeds} tuning jobs, {2 * args.seeds * args.budget} children: {elapsed:.0f} s")


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
