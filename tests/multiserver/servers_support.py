"""Two (or more) sagestack servers on one PostgreSQL database and one data dir (``--cluster``)."""

from __future__ import annotations

import io
import json
import tarfile
import textwrap
import time

from sagestack.local_server import ServerProcess

ROLE = "arn:aws:iam::000000000000:role/SageStackExecutionRole"
SKLEARN_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
CLUSTER_ENV = {"SAGESTACK_CLUSTER": "1", "SAGESTACK_LEASE_SECONDS": "2"}

ECHO_MODEL = """
import os

def model_fn(model_dir):
    with open(os.path.join(model_dir, "tag.txt")) as handle:
        return handle.read().strip()

def input_fn(body, content_type):
    return body.decode() if isinstance(body, (bytes, bytearray)) else body

def predict_fn(data, model):
    return f"{model}:{os.getpid()}:{sum(float(x) for x in data.split(','))}"

def output_fn(prediction, accept):
    return prediction.encode(), "text/plain"
"""


def cluster_server(data_dir, database_url: str) -> ServerProcess:
    return ServerProcess(data_dir, database_url=database_url, extra_env=dict(CLUSTER_ENV))


def tar_gz(files: dict[str, str]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as archive:
        for name, text in files.items():
            data = textwrap.dedent(text).encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = int(time.time())
            archive.addfile(info, io.BytesIO(data))
    return out.getvalue()


def create_echo_endpoint(server: ServerProcess, bucket: str, name: str) -> None:
    s3, sm = server.client("s3"), server.client("sagemaker")
    s3.put_object(
        Bucket=bucket,
        Key=f"models/{name}/model.tar.gz",
        Body=tar_gz({"tag.txt": name, "code/inference.py": ECHO_MODEL}),
    )
    sm.create_model(
        ModelName=name,
        ExecutionRoleArn=ROLE,
        PrimaryContainer={
            "Image": SKLEARN_IMAGE,
            "ModelDataUrl": f"s3://{bucket}/models/{name}/model.tar.gz",
            "Environment": {
                "SAGEMAKER_PROGRAM": "inference.py",
                "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
            },
        },
    )
    sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": name,
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)


def wait_endpoint(server: ServerProcess, name: str, timeout: float = 120.0) -> dict:
    sm = server.client("sagemaker")
    deadline = time.time() + timeout
    while True:
        desc = sm.describe_endpoint(EndpointName=name)
        if desc["EndpointStatus"] not in ("Creating", "Updating") or time.time() > deadline:
            return desc
        time.sleep(0.3)


def invoke(server: ServerProcess, name: str, body: str = "1,2") -> str:
    runtime = server.client("sagemaker-runtime")
    response = runtime.invoke_endpoint(EndpointName=name, Body=body, ContentType="text/csv")
    return response["Body"].read().decode()


def create_waiting_job(server: ServerProcess, bucket: str, name: str, runs_file: str, release: str) -> None:
    """A training job whose script appends ``start <pid> <time>`` to ``runs_file``, waits until the file
    ``release`` exists (at most two minutes), then appends ``done <pid> <time>``: the runs it made can be
    counted afterwards, and the test decides when a run may finish."""
    script = f"""
import os, time
path = os.environ["RUNS_FILE"]
with open(path, "a") as f:
    f.write(f"start {{os.getpid()}} {{time.time()}}\\n")
deadline = time.time() + 120
while not os.path.exists({release!r}) and time.time() < deadline:
    time.sleep(0.2)
with open(path, "a") as f:
    f.write(f"done {{os.getpid()}} {{time.time()}}\\n")
open("/opt/ml/model/ok.txt", "w").write("ok")
"""
    s3 = server.client("s3")
    s3.put_object(Bucket=bucket, Key=f"code/{name}/sourcedir.tar.gz", Body=tar_gz({"train.py": script}))
    server.client("sagemaker").create_training_job(
        TrainingJobName=name,
        RoleArn=ROLE,
        AlgorithmSpecification={"TrainingImage": SKLEARN_IMAGE, "TrainingInputMode": "File"},
        OutputDataConfig={"S3OutputPath": f"s3://{bucket}/output"},
        ResourceConfig={"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 10},
        StoppingCondition={"MaxRuntimeInSeconds": 300},
        Environment={"RUNS_FILE": runs_file},
        HyperParameters={
            "sagemaker_program": '"train.py"',
            "sagemaker_submit_directory": json.dumps(f"s3://{bucket}/code/{name}/sourcedir.tar.gz"),
        },
    )


def runs(path) -> list[tuple[str, int, float]]:
    try:
        lines = open(path).read().split("\n")
    except FileNotFoundError:
        return []
    out = []
    for line in lines:
        parts = line.split()
        if len(parts) == 3:
            out.append((parts[0], int(parts[1]), float(parts[2])))
    return out
