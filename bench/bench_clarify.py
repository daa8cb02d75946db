"""Clarify SHAP: Kernel SHAP for 100 rows through a Clarify processing job (analysis config → shadow
endpoint → batched InvokeEndpoint → analysis.json) against the ``shap`` library called directly on the
same model in this process.

    python -m bench.bench_clarify [--rows 100] [--samples 0]

The model is the benchmark anchor (XGBoost, 100 trees, depth 6, 20 features), served by the built-in
XGBoost container; the baseline is one row (the data's mean), the same seed, ``num_samples`` is Kernel SHAP's default
(2·20 + 2048) unless ``--samples`` is given. Both sides compute the same SHAP values; the job's time
includes creating and deleting its shadow endpoint and the HTTP round trips of every synthetic sample.
"""

from __future__ import annotations

import argparse
import io
import json
import time
import uuid

import numpy as np

from .common import running_server, table
from .models import ROLE, create_xgb_model, train_anchor_booster

SEED = 0
CLARIFY_IMAGE = "205585389593.dkr.ecr.us-east-1.amazonaws.com/sagemaker-clarify-processing:1.0"


def run_direct(booster, rows: np.ndarray, baseline: np.ndarray, samples) -> tuple[float, np.ndarray]:
    import shap
    import xgboost as xgb

    start = time.perf_counter()
    np.random.seed(SEED)
    explainer = shap.KernelExplainer(lambda x: booster.predict(xgb.DMatrix(x)), baseline)
    values = explainer.shap_values(rows, nsamples=samples, silent=True)
    return time.perf_counter() - start, np.asarray(values)


def run_job(server, bucket: str, model: str, baseline: np.ndarray, samples) -> tuple[float, dict]:
    sm, s3 = server.client("sagemaker"), server.client("s3")
    name = f"bench-clarify-{uuid.uuid4().hex[:8]}"
    shap_config = {
        "baseline": baseline.tolist(),
        "agg_method": "mean_abs",
        "save_local_shap_values": True,
        "seed": SEED,
    }
    if samples != "auto":
        shap_config["num_samples"] = samples
    config = {
        "dataset_type": "text/csv",
        "headers": [f"f{i}" for i in range(baseline.shape[1])],
        "methods": {"shap": shap_config},
        "predictor": {"model_name": model, "instance_type": "ml.m5.xlarge", "initial_instance_count": 1},
    }
    s3.put_object(Bucket=bucket, Key=f"config/{name}/analysis_config.json", Body=json.dumps(config).encode())
    start = time.perf_counter()
    sm.create_processing_job(
        ProcessingJobName=name,
        RoleArn=ROLE,
        ProcessingResources={
            "ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 10}
        },
        AppSpecification={"ImageUri": CLARIFY_IMAGE},
        ProcessingInputs=[
            {
                "InputName": "analysis_config",
                "S3Input": {
                    "S3Uri": f"s3://{bucket}/config/{name}/analysis_config.json",
                    "S3DataType": "S3Prefix",
                    "LocalPath": "/opt/ml/processing/input/config",
                    "S3InputMode": "File",
                },
            },
            {
                "InputName": "dataset",
                "S3Input": {
                    "S3Uri": f"s3://{bucket}/data/rows.csv",
                    "S3DataType": "S3Prefix",
                    "LocalPath": "/opt/ml/processing/input/data",
                    "S3InputMode": "File",
                },
            },
        ],
        ProcessingOutputConfig={
            "Outputs": [
                {
                    "OutputName": "analysis_result",
                    "S3Output": {
                        "S3Uri": f"s3://{bucket}/out/{name}",
                        "LocalPath": "/opt/ml/processing/output",
                        "S3UploadMode": "EndOfJob",
                    },
                }
            ]
        },
    )
    while True:
        desc = sm.describe_processing_job(ProcessingJobName=name)
        if desc["ProcessingJobStatus"] in ("Completed", "Failed", "Stopped"):
            break
        time.sleep(0.1)
    elapsed = time.perf_counter() - start
    if desc["ProcessingJobStatus"] != "Completed":
        raise RuntimeError(f"{name}: {desc['ProcessingJobStatus']}: {desc.get('FailureReason')}")
    analysis = json.loads(s3.get_object(Bucket=bucket, Key=f"out/{name}/analysis.json")["Body"].read())
    return elapsed, analysis


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100)
    parser.add_argument("--samples", type=int, default=0, help="num_samples (0: Kernel SHAP's default)")
    args = parser.parse_args(argv)
    samples = args.samples or "auto"
    booster = train_anchor_booster()
    rows = np.random.default_rng(1).normal(size=(args.rows, 20)).round(4)
    baseline = rows.mean(axis=0, keepdims=True).round(4)
    with running_server() as server:
        s3 = server.client("s3")
        bucket = "bench-clarify"
        s3.create_bucket(Bucket=bucket)
        body = io.StringIO()
        np.savetxt(body, rows, delimiter=",", fmt="%.4f")
        s3.put_object(Bucket=bucket, Key="data/rows.csv", Body=body.getvalue().encode())
        model = create_xgb_model(server, booster, bucket, "bench-clarify-xgb")
        direct, values = run_direct(booster, rows, baseline, samples)  # same process, same run
        job, analysis = run_job(server, bucket, model, baseline, samples)
    ours = analysis["explanations"]["kernel_shap"]["label0"]["global_shap_values"]
    reference = np.abs(values).mean(axis=0)
    gap = max(abs(ours[f"f{i}"] - reference[i]) for i in range(20))
    print(
        table(
            f"Kernel SHAP for {args.rows} rows × 20 features (XGBoost anchor model, num_samples {samples})",
            [
                "shap called directly",
                "Clarify job (CreateProcessingJob → Completed)",
                "ratio",
                "max |Δ global SHAP|",
            ],
            [[f"{direct:.2f} s", f"{job:.2f} s", f"× {job / direct:.1f}", f"{gap:.2e}"]],
        )
    )


if __name__ == "__main__":
    main()
