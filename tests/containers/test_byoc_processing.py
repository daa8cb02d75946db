"""Bring your own container: a processing job running the user's image (the processing contract:
ContainerEntrypoint + ContainerArguments, inputs and outputs under /opt/ml/processing, the job's Environment, the config files)."""

from __future__ import annotations

import textwrap
import uuid

import pytest

from helpers import ROLE, wait_for

pytestmark = [pytest.mark.slow]

SCRIPT = textwrap.dedent("""
    import json, os, sys
    config = json.load(open("/opt/ml/config/processingjobconfig.json"))
    numbers = [float(x) for x in open("/opt/ml/processing/input/data/data.csv").read().split()]
    os.makedirs("/opt/ml/processing/output", exist_ok=True)
    with open("/opt/ml/processing/output/sum.json", "w") as out:
        json.dump({"sum": sum(numbers), "args": sys.argv[1:], "job": config["ProcessingJobName"]}, out)
    with open("/opt/ml/processing/output/hello.txt", "w") as out:
        out.write(os.environ["GREETING"])
    print("byoc processing done", flush=True)
""")


def wait_processing(sm, name: str, timeout: float) -> dict:
    terminal = ("Completed", "Failed", "Stopped")
    wait_for(
        lambda: sm.describe_processing_job(ProcessingJobName=name)["ProcessingJobStatus"] in terminal,
        timeout=timeout,
        message=f"processing job {name} to finish",
    )
    return sm.describe_processing_job(ProcessingJobName=name)


def test_processing_job_runs_the_byoc_image(podman_server, podman_bucket, byoc_image):
    import json

    sm, s3 = podman_server.client("sagemaker"), podman_server.client("s3")
    s3.put_object(Bucket=podman_bucket, Key="in/data.csv", Body=b"1\n2\n3\n")
    s3.put_object(Bucket=podman_bucket, Key="code/run.py", Body=SCRIPT.encode())
    name = f"byoc-proc-{uuid.uuid4().hex[:8]}"
    sm.create_processing_job(
        ProcessingJobName=name,
        RoleArn=ROLE,
        AppSpecification={
            "ImageUri": byoc_image,
            "ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/run.py"],
            "ContainerArguments": ["--flag", "x"],
        },
        Environment={"GREETING": "hi"},
        ProcessingInputs=[
            {
                "InputName": "data",
                "S3Input": {
                    "S3Uri": f"s3://{podman_bucket}/in/",
                    "LocalPath": "/opt/ml/processing/input/data",
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                },
            },
            {
                "InputName": "code",
                "S3Input": {
                    "S3Uri": f"s3://{podman_bucket}/code/",
                    "LocalPath": "/opt/ml/processing/input/code",
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                },
            },
        ],
        ProcessingOutputConfig={
            "Outputs": [
                {
                    "OutputName": "result",
                    "S3Output": {
                        "S3Uri": f"s3://{podman_bucket}/out/result",
                        "LocalPath": "/opt/ml/processing/output",
                        "S3UploadMode": "EndOfJob",
                    },
                },
            ]
        },
        ProcessingResources={
            "ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 1}
        },
        StoppingCondition={"MaxRuntimeInSeconds": 300},
    )
    desc = wait_processing(sm, name, 120)
    assert desc["ProcessingJobStatus"] == "Completed", desc.get("FailureReason")
    result = json.loads(s3.get_object(Bucket=podman_bucket, Key="out/result/sum.json")["Body"].read())
    assert result == {"sum": 6.0, "args": ["--flag", "x"], "job": name}
    assert s3.get_object(Bucket=podman_bucket, Key="out/result/hello.txt")["Body"].read() == b"hi"
