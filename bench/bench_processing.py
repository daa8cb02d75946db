"""Processing platform overhead: CreateProcessingJob → Completed against running the same script in a
fresh process.

    python -m bench.bench_processing [--repeat 5]

A trivial script (reads one small input file, writes one output file): the job's time minus the script's
own is what the platform adds (staging, config files, the host process, log streaming, output upload,
status writes, the client's polling). Same machine, same run, interleaved.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from .common import median, running_server, table

ROLE = "arn:aws:iam::000000000000:role/SageStackExecutionRole"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"

TRIVIAL = """
import os, sys
base = sys.argv[1] if len(sys.argv) > 1 else "/opt/ml/processing"
data = open(os.path.join(base, "input", "data", "x.csv")).read()
os.makedirs(os.path.join(base, "output"), exist_ok=True)
open(os.path.join(base, "output", "y.csv"), "w").write(data.upper())
"""


def run_direct() -> float:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        (base / "input" / "data").mkdir(parents=True)
        (base / "input" / "data" / "x.csv").write_text("a,b\n")
        (base / "script.py").write_text(TRIVIAL)
        start = time.perf_counter()
        subprocess.run([sys.executable, str(base / "script.py"), str(base)], check=True, env=dict(os.environ))
        return time.perf_counter() - start


def job_request(bucket: str, output_uri: str) -> dict:
    """The CreateProcessingJob request of the trivial job (data and script from ``bucket``), less its
    name: run directly here, and as each step of the pipelines benchmark."""
    return {
        "RoleArn": ROLE,
        "ProcessingResources": {
            "ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 10}
        },
        "AppSpecification": {
            "ImageUri": IMAGE,
            "ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/script.py"],
        },
        "ProcessingInputs": [
            {
                "InputName": "data",
                "S3Input": {
                    "S3Uri": f"s3://{bucket}/data/x.csv",
                    "S3DataType": "S3Prefix",
                    "LocalPath": "/opt/ml/processing/input/data",
                    "S3InputMode": "File",
                },
            },
            {
                "InputName": "code",
                "S3Input": {
                    "S3Uri": f"s3://{bucket}/code/script.py",
                    "S3DataType": "S3Prefix",
                    "LocalPath": "/opt/ml/processing/input/code",
                    "S3InputMode": "File",
                },
            },
        ],
        "ProcessingOutputConfig": {
            "Outputs": [
                {
                    "OutputName": "out",
                    "S3Output": {
                        "S3Uri": output_uri,
                        "LocalPath": "/opt/ml/processing/output",
                        "S3UploadMode": "EndOfJob",
                    },
                }
            ]
        },
    }


def run_job(server, bucket: str) -> float:
    sm = server.client("sagemaker")
    name = f"bench-{uuid.uuid4().hex[:10]}"
    start = time.perf_counter()
    sm.create_processing_job(ProcessingJobName=name, **job_request(bucket, f"s3://{bucket}/out/{name}"))
    while True:
        status = sm.describe_processing_job(ProcessingJobName=name)["ProcessingJobStatus"]
        if status in ("Completed", "Failed", "Stopped"):
            break
        time.sleep(0.05)
    elapsed = time.perf_counter() - start
    if status != "Completed":
        raise RuntimeError(f"{name}: {status}")
    return elapsed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    with running_server() as server:
        s3 = server.client("s3")
        bucket = "bench-processing"
        s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket=bucket, Key="data/x.csv", Body=b"a,b\n")
        s3.put_object(Bucket=bucket, Key="code/script.py", Body=TRIVIAL.encode())
        run_job(server, bucket)  # warm-up (first imports, first log group)
        direct, job = [], []
        for _ in range(args.repeat):  # interleaved: load from elsewhere hits both alike
            direct.append(run_direct())
            job.append(run_job(server, bucket))
    d, j = median(direct), median(job)
    print(
        table(
            f"Processing platform overhead (median of {args.repeat})",
            ["workload", "script in a fresh process", "CreateProcessingJob → Completed", "overhead", "ratio"],
            [
                [
                    "trivial script (1 input, 1 output)",
                    f"{d:.2f} s",
                    f"{j:.2f} s",
                    f"+{j - d:.2f} s",
                    f"× {j / d:.1f}",
                ]
            ],
        )
    )


if __name__ == "__main__":
    main()
