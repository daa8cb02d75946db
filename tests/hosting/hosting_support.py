"""Support for the hosting tests: small script-mode models packed as model.tar.gz in S3, endpoints
created through boto3 and waited for by polling (not the SDK's 30 s sleeps)."""

from __future__ import annotations

import contextlib
import io
import os
import tarfile
import textwrap
import time
import uuid
from pathlib import Path

SKLEARN_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
XGBOOST_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
ROLE = "arn:aws:iam::000000000000:role/SageStackExecutionRole"

#: A model that needs nothing but numpy: answers "<tag>:<sum of the CSV row>" and raises on "boom".
ECHO_MODEL = """
import json
import os

def model_fn(model_dir):
    with open(os.path.join(model_dir, "tag.txt")) as handle:
        return {"tag": handle.read().strip()}

def input_fn(body, content_type):
    text = body.decode() if isinstance(body, (bytes, bytearray)) else body
    if "boom" in text:
        raise ValueError("the model refused: boom")
    return text

def predict_fn(data, model):
    if data.startswith("sleep:"):
        import time
        time.sleep(float(data.split(":")[1]))
        return model["tag"] + ":slept"
    total = sum(float(x) for x in data.split(",") if x.strip())
    return f"{model['tag']}:{total:g}"

def output_fn(prediction, accept):
    return prediction.encode(), "text/plain"
"""


def tar_bytes(files: dict[str, str | bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as archive:
        for name, content in files.items():
            data = content.encode() if isinstance(content, str) else content
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = int(time.time())
            archive.addfile(info, io.BytesIO(data))
    return out.getvalue()


class Hosting:
    def __init__(self, server):
        self.server = server
        self.sm = server.client("sagemaker")
        self.rt = server.client("sagemaker-runtime")
        self.s3 = server.client("s3")
        self.bucket = f"hosting-{uuid.uuid4().hex[:8]}"
        self.s3.create_bucket(Bucket=self.bucket)

    def upload(self, key: str, data: bytes) -> str:
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=data)
        return f"s3://{self.bucket}/{key}"

    def script_model(
        self, name: str, tag: str | None = None, code: str = ECHO_MODEL, extra: dict | None = None
    ) -> str:
        """CreateModel for a script-mode model whose code is code/inference.py inside model.tar.gz."""
        files = {"tag.txt": tag or name, "code/inference.py": textwrap.dedent(code)}
        files.update(extra or {})
        url = self.upload(f"models/{name}/model.tar.gz", tar_bytes(files))
        self.sm.create_model(
            ModelName=name,
            ExecutionRoleArn=ROLE,
            PrimaryContainer={
                "Image": SKLEARN_IMAGE,
                "ModelDataUrl": url,
                "Environment": {
                    "SAGEMAKER_PROGRAM": "inference.py",
                    "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
                },
            },
        )
        return name

    def config(
        self, name: str, variants: list[tuple[str, str, float]] | list[tuple[str, str, float, int]], **extra
    ) -> str:
        production = []
        for item in variants:
            variant, model, weight = item[:3]
            count = item[3] if len(item) > 3 else 1
            production.append(
                {
                    "VariantName": variant,
                    "ModelName": model,
                    "InitialVariantWeight": weight,
                    "InitialInstanceCount": count,
                    "InstanceType": "ml.m5.large",
                }
            )
        self.sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=production, **extra)
        return name

    def wait(self, endpoint: str, timeout: float = 90.0) -> dict:
        deadline = time.time() + timeout
        while True:
            desc = self.sm.describe_endpoint(EndpointName=endpoint)
            if desc["EndpointStatus"] not in ("Creating", "Updating") or time.time() > deadline:
                return desc
            time.sleep(0.2)

    def endpoint(self, name: str, config: str) -> dict:
        self.sm.create_endpoint(EndpointName=name, EndpointConfigName=config)
        return self.wait(name)

    def invoke(self, endpoint: str, body: str = "1,2", **kwargs) -> tuple[str, dict]:
        response = self.rt.invoke_endpoint(EndpointName=endpoint, Body=body, ContentType="text/csv", **kwargs)
        return response["Body"].read().decode(), response

    def delete(self, endpoint: str) -> None:
        with contextlib.suppress(Exception):  # cleanup
            self.sm.delete_endpoint(EndpointName=endpoint)


def worker_processes(endpoint: str) -> list[tuple[int, int]]:
    """(pid, parent pid) of the worker processes serving ``endpoint`` (supervisors and forked servers)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0")
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if (
            b"sagestack.serving.worker" in args
            and b"--endpoint" in args
            and args[args.index(b"--endpoint") + 1].decode() == endpoint
        ):
            state = stat.rsplit(")", 1)[1].split()
            if state[0] != "Z":
                found.append((int(entry.name), int(state[1])))
    return found


def serving_children(endpoint: str) -> list[int]:
    procs = worker_processes(endpoint)
    supervisors = {pid for pid, _ in procs}
    return [pid for pid, parent in procs if parent in supervisors]


def supervisors(endpoint: str) -> list[int]:
    procs = worker_processes(endpoint)
    pids = {pid for pid, _ in procs}
    return [pid for pid, parent in procs if parent not in pids]


def kill(pid: int) -> None:
    import signal

    os.kill(pid, signal.SIGKILL)
