"""Container job overhead (bring your own container): CreateTrainingJob → Completed, minus the script's
own run time, for the BYOC test image run by podman against the same script as a process job (the
scikit-learn image in script mode).

    python -m bench.bench_containers [--repeat 5] [--seconds 1]

Both scripts sleep ``--seconds`` (the script's run time) and write a small model; the two jobs are
measured alternately, medians reported. The BYOC image is the tests' (tests/containers/images.py: a
minimal Debian rootfs with python3 made by mmdebstrap, imported into podman, cached), so podman and
mmdebstrap must be installed (.ci/podman.sh).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from pathlib import Path

from .common import median, running_server, table, tar_gz

ROLE = "arn:aws:iam::000000000000:role/SageStackExecutionRole"
SKLEARN = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
SCRIPT = """
import json, os, time
time.sleep(float(json.load(open(os.path.join(os.environ["SM_INPUT_CONFIG_DIR"], "hyperparameters.json")))["sleep"]))
open(os.path.join(os.environ["SM_MODEL_DIR"], "model.json"), "w").write("{}")
"""


def _images():
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "containers"))
    import images  # the tests' image builder

    return images


def run_job(server, bucket: str, image: str, seconds: float, script_mode: bool) -> float:
    s3, sm = server.client("s3"), server.client("sagemaker")
    hyperparameters = {"sleep": str(seconds)}
    if script_mode:
        key = f"code/{uuid.uuid4().hex}/sourcedir.tar.gz"
        s3.put_object(Bucket=bucket, Key=key, Body=tar_gz({"train.py": SCRIPT}))
        hyperparameters.update(
            {
                "sagemaker_program": '"train.py"',
                "sagemaker_submit_directory": json.dumps(f"s3://{bucket}/{key}"),
            }
        )
    name = f"bench-{uuid.uuid4().hex[:10]}"
    start = time.perf_counter()
    sm.create_training_job(
        TrainingJobName=name,
        RoleArn=ROLE,
        AlgorithmSpecification={"TrainingImage": image, "TrainingInputMode": "File"},
        InputDataConfig=[
            {
                "ChannelName": "train",
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/tiny/"}},
            }
        ],
        OutputDataConfig={"S3OutputPath": f"s3://{bucket}/out"},
        ResourceConfig={"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 1},
        StoppingCondition={"MaxRuntimeInSeconds": 600},
        HyperParameters=hyperparameters,
    )
    while True:
        desc = sm.describe_training_job(TrainingJobName=name)
        if desc["TrainingJobStatus"] in ("Completed", "Failed", "Stopped"):
            break
        time.sleep(0.05)
    elapsed = time.perf_counter() - start
    if desc["TrainingJobStatus"] != "Completed":
        raise RuntimeError(f"{name}: {desc['TrainingJobStatus']}: {desc.get('FailureReason')}")
    return elapsed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=1.0)
    args = parser.parse_args(argv)
    images = _images()
    byoc = images.byoc_image()
    env = {**images.engine_env(), "SAGESTACK_CONTAINER_ENGINE": "podman"}
    process, container = [], []
    with running_server(env) as server:
        s3 = server.client("s3")
        s3.create_bucket(Bucket="bench")
        s3.put_object(Bucket="bench", Key="tiny/x.csv", Body=b"1,0\n")
        run_job(server, "bench", byoc, 0, False)  # warm: the engine's first start reads its storage
        for _ in range(args.repeat):
            process.append(run_job(server, "bench", SKLEARN, args.seconds, True))
            container.append(run_job(server, "bench", byoc, args.seconds, False))
    rows = [
        [
            "process job (scikit-learn image, script mode)",
            f"{median(process):.2f} s",
            f"+{median(process) - args.seconds:.2f} s",
        ],
        [
            "container job (BYOC image, podman)",
            f"{median(container):.2f} s",
            f"+{median(container) - args.seconds:.2f} s",
        ],
    ]
    print(
        table(
            f"Container job overhead: a {args.seconds:g} s script, median of {args.repeat}",
            ["job", "CreateTrainingJob → Completed", "overhead (minus the script's run time)"],
            rows,
        )
    )


if __name__ == "__main__":
    main()
