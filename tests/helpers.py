"""Small helpers shared by the end-to-end tests."""

from __future__ import annotations

import io
import json
import sys
import tarfile
import time


def wait_for(predicate, timeout: float = 60.0, interval: float = 0.2, message: str = "condition"):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}; last value: {last!r}")


def log_text(logs, group: str) -> str:
    """Every line of a CloudWatch log group, its streams one after the other; "" while the group has no
    line yet (a worker's first lines are shipped a moment after it starts)."""
    try:
        streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
    except logs.exceptions.ResourceNotFoundException:
        return ""
    return "\n".join(
        e["message"]
        for s in streams
        for e in logs.get_log_events(
            logGroupName=group, logStreamName=s["logStreamName"], startFromHead=True
        )["events"]
    )


def processing_input(name: str, uri: str, local: str, **extra) -> dict:
    """One ``ProcessingInputs`` entry: an S3 prefix downloaded (File mode) to ``local``."""
    return {
        "InputName": name,
        "AppManaged": False,
        "S3Input": {
            "S3Uri": uri,
            "LocalPath": local,
            "S3DataType": "S3Prefix",
            "S3InputMode": "File",
            "S3DataDistributionType": "FullyReplicated",
            "S3CompressionType": "None",
            **extra,
        },
    }


def processing_output(name: str, uri: str, local: str, **extra) -> dict:
    """One ``ProcessingOutputConfig`` output: ``local`` uploaded to ``uri`` at the end of the job."""
    return {
        "OutputName": name,
        "AppManaged": False,
        "S3Output": {"S3Uri": uri, "LocalPath": local, "S3UploadMode": "EndOfJob", **extra},
    }


def error_code(info) -> str:
    """The AWS error code of a ``pytest.raises(botocore.exceptions.ClientError)`` result."""
    return info.value.response["Error"]["Code"]


def wait_training(sm, name: str, timeout: float = 120.0) -> dict:
    def done():
        desc = sm.describe_training_job(TrainingJobName=name)
        return desc if desc["TrainingJobStatus"] in ("Completed", "Failed", "Stopped") else None

    return wait_for(done, timeout, 0.3, f"training job {name}")


def wait_pipeline_execution(sm, arn: str, timeout: float = 300.0) -> dict:
    """The pipeline execution's description once it has ended (Succeeded, Failed or Stopped)."""

    def done():
        desc = sm.describe_pipeline_execution(PipelineExecutionArn=arn)
        return desc if desc["PipelineExecutionStatus"] in ("Succeeded", "Failed", "Stopped") else None

    return wait_for(done, timeout, 0.3, f"pipeline execution {arn}")


def pipeline_steps(sm, arn: str) -> dict[str, dict]:
    """A pipeline execution's steps by step name."""
    steps = sm.list_pipeline_execution_steps(PipelineExecutionArn=arn)["PipelineExecutionSteps"]
    return {s["StepName"]: s for s in steps}


def tar_gz(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def read_tar_gz(data: bytes) -> dict[str, bytes]:
    out = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        for member in tar.getmembers():
            if member.isfile():
                out[member.name] = tar.extractfile(member).read()
    return out


ROLE = "arn:aws:iam::000000000000:role/SageStackExecutionRole"
SKLEARN_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"


def drop_all_tables(url: str) -> None:
    """Empty a (PostgreSQL test) database: every table, whatever revision made it."""
    from sqlalchemy import MetaData, create_engine

    engine = create_engine(url)
    try:
        tables = MetaData()
        tables.reflect(engine)
        tables.drop_all(engine)
    finally:
        engine.dispose()


#: Variables that would point clients elsewhere than the server's ``sagestack env``.
FOREIGN_CLIENT_VARIABLES = (
    "AWS_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
)


def apply_client_env(patch, server) -> dict:
    """Point this process's clients (boto3, the SageMaker SDK) at ``server`` through ``patch`` (a
    ``pytest.MonkeyPatch``): the variables `sagestack env` prints, its PYTHONPATH on ``sys.path``, and no
    boto3 default session — that one keeps the credentials it first resolved, and servers with other data
    dirs have other keys."""
    import boto3

    for key in FOREIGN_CLIENT_VARIABLES:
        patch.delenv(key, raising=False)
    env = server.client_env()
    for key, value in env.items():
        if key == "PYTHONPATH" and value not in sys.path:
            patch.syspath_prepend(value)
        patch.setenv(key, value)
    patch.setattr(boto3, "DEFAULT_SESSION", None)
    return env


def sandbox_tmp_entries(data_dir) -> set[str]:
    """What a confined job's or worker's /tmp holds at start (job_sandbox.py): the folders leading to the
    paths it needs under the host's /tmp — its directory in the data dir; the interpreter, venv and
    sagestack's sources where a checkout lives under /tmp, as a CI clone may."""
    from pathlib import Path

    import sagestack

    needed = [Path(data_dir), Path(sys.prefix), Path(sys.base_prefix), Path(sagestack.__file__)]
    tmp = Path("/tmp")
    return {p.resolve().relative_to(tmp).parts[0] for p in needed if tmp in p.resolve().parents}


def script_training_job(
    name: str,
    bucket: str,
    sourcedir: str,
    train: str | None = "data/train",
    hyperparameters: dict | None = None,
    metric_definitions: list | None = None,
    **extra,
) -> dict:
    """CreateTrainingJob's parameters for a script-mode scikit-learn job: ``train.py`` from the tarball at
    key ``sourcedir`` of ``bucket``, the ``train`` channel from ``s3://<bucket>/<train>``, output under
    ``s3://<bucket>/output``; ``hyperparameters`` are added, ``extra`` adds or replaces parameters."""
    algorithm = {"TrainingImage": SKLEARN_IMAGE, "TrainingInputMode": "File"}
    if metric_definitions:
        algorithm["MetricDefinitions"] = metric_definitions
    request = {
        "TrainingJobName": name,
        "AlgorithmSpecification": algorithm,
        "RoleArn": ROLE,
        "OutputDataConfig": {"S3OutputPath": f"s3://{bucket}/output"},
        "ResourceConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 1},
        "StoppingCondition": {"MaxRuntimeInSeconds": 300},
        "HyperParameters": {
            "sagemaker_program": '"train.py"',
            "sagemaker_submit_directory": json.dumps(f"s3://{bucket}/{sourcedir}"),
            **(hyperparameters or {}),
        },
    }
    if train:
        request["InputDataConfig"] = [
            {
                "ChannelName": "train",
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/{train}"}},
            }
        ]
    return {**request, **extra}
