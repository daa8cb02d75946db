"""Serverless endpoints: no worker while idle, a cold start on the first request, MaxConcurrency
enforced with ThrottlingException, provisioned concurrency kept warm, ModelSetupTime per cold start."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from hosting_support import worker_processes
from production2_support import IDLE_SECONDS, wait_for


def _serverless_config(hosting, name: str, model: str, concurrency: int, provisioned: int = 0) -> str:
    serverless = {"MemorySizeInMB": 2048, "MaxConcurrency": concurrency}
    if provisioned:
        serverless["ProvisionedConcurrency"] = provisioned
    hosting.sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {"VariantName": "AllTraffic", "ModelName": model, "ServerlessConfig": serverless}
        ],
    )
    return name


@pytest.mark.sdk_flow("flow07f", "boto3: ServerlessConfig (the request the SDK sends)")
def test_serverless_scales_from_and_to_zero_and_throttles(p2_server, p2_hosting):
    hosting = p2_hosting
    hosting.script_model("sls-model", tag="sls")
    _serverless_config(hosting, "sls-config", "sls-model", concurrency=2)
    desc = hosting.endpoint("sls-ep", "sls-config")
    assert desc["EndpointStatus"] == "InService", desc.get("FailureReason")
    variant = desc["ProductionVariants"][0]
    assert variant["CurrentServerlessConfig"] == {"MemorySizeInMB": 2048, "MaxConcurrency": 2}
    assert "CurrentInstanceCount" not in variant
    assert worker_processes("sls-ep") == []  # nothing runs until the first request

    started = time.perf_counter()
    body, response = hosting.invoke("sls-ep", "1,2")
    cold = time.perf_counter() - started
    assert body == "sls:3"
    assert response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-invoked-production-variant"] == "AllTraffic"
    assert worker_processes("sls-ep"), "a worker serves after the cold start"
    started = time.perf_counter()
    assert hosting.invoke("sls-ep", "2,2")[0] == "sls:4"
    assert time.perf_counter() - started < cold  # warm

    # MaxConcurrency 2: of 5 simultaneous slow requests, 2 are served and 3 throttled.
    runtime = p2_server.client(
        "sagemaker-runtime", config=Config(retries={"max_attempts": 1, "mode": "standard"})
    )
    outcomes: list[str] = []
    barrier = threading.Barrier(5)

    def call() -> None:
        barrier.wait()
        try:
            answer = runtime.invoke_endpoint(EndpointName="sls-ep", Body="sleep:1.5", ContentType="text/csv")
            outcomes.append(answer["Body"].read().decode())
        except ClientError as exc:
            error = exc.response["Error"]
            outcomes.append(
                f"{error['Code']}/{exc.response['ResponseMetadata']['HTTPStatusCode']}/{error['Message']}"
            )

    threads = [threading.Thread(target=call) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # SageMaker's throttling answer: HTTP 400, ThrottlingException, {"message": null}.
    assert sorted(outcomes) == ["ThrottlingException/400/None"] * 3 + ["sls:slept"] * 2, outcomes

    # Idle for longer than SAGESTACK_SERVERLESS_IDLE_SECONDS: back to zero workers; the next request is cold.
    wait_for(lambda: not worker_processes("sls-ep"), IDLE_SECONDS + 10, message="the idle worker to stop")
    assert hosting.invoke("sls-ep", "5")[0] == "sls:5"

    # ModelSetupTime: one sample per cold start.
    cloudwatch = p2_server.client("cloudwatch")

    def setup_samples() -> float:
        now = dt.datetime.now(dt.timezone.utc)
        points = cloudwatch.get_metric_statistics(
            Namespace="AWS/SageMaker",
            MetricName="ModelSetupTime",
            StartTime=now - dt.timedelta(minutes=10),
            EndTime=now + dt.timedelta(minutes=1),
            Period=600,
            Statistics=["SampleCount", "Maximum"],
            Dimensions=[
                {"Name": "EndpointName", "Value": "sls-ep"},
                {"Name": "VariantName", "Value": "AllTraffic"},
            ],
        )["Datapoints"]
        return sum(p["SampleCount"] for p in points)

    wait_for(lambda: setup_samples() >= 2, 15, message="ModelSetupTime samples (one per cold start)")
    hosting.delete("sls-ep")


def test_provisioned_concurrency_stays_warm(p2_hosting):
    hosting = p2_hosting
    hosting.script_model("sls-warm-model", tag="warm")
    _serverless_config(hosting, "sls-warm-config", "sls-warm-model", concurrency=4, provisioned=1)
    desc = hosting.endpoint("sls-warm-ep", "sls-warm-config")
    assert desc["EndpointStatus"] == "InService", desc.get("FailureReason")
    assert worker_processes("sls-warm-ep"), "provisioned concurrency starts a worker with the endpoint"
    assert hosting.invoke("sls-warm-ep", "4,4")[0] == "warm:8"
    time.sleep(IDLE_SECONDS + 2)
    assert worker_processes("sls-warm-ep"), "the provisioned worker is not stopped for idleness"
    hosting.delete("sls-warm-ep")
    wait_for(lambda: not worker_processes("sls-warm-ep"), 15, message="workers to stop after DeleteEndpoint")


def test_provisioned_concurrency_above_max_is_rejected(p2_hosting):
    import pytest

    p2_hosting.script_model("sls-bad-model")
    with pytest.raises(ClientError) as info:
        _serverless_config(p2_hosting, "sls-bad-config", "sls-bad-model", concurrency=2, provisioned=3)
    assert info.value.response["Error"]["Code"] == "ValidationException"
    assert "ProvisionedConcurrency" in info.value.response["Error"]["Message"]


def test_cold_start_failure_is_a_model_error(p2_hosting):
    import pytest

    hosting = p2_hosting
    hosting.script_model(
        "sls-broken-model", code="def model_fn(model_dir):\n    raise ImportError('no such lib')\n"
    )
    _serverless_config(hosting, "sls-broken-config", "sls-broken-model", concurrency=1)
    assert hosting.endpoint("sls-broken-ep", "sls-broken-config")["EndpointStatus"] == "InService"
    with pytest.raises(ClientError) as info:
        hosting.invoke("sls-broken-ep", "1")
    assert info.value.response["Error"]["Code"] == "ModelError"
    assert "no such lib" in info.value.response["Error"]["Message"]
    assert worker_processes("sls-broken-ep") == []
    hosting.delete("sls-broken-ep")


POOLED_MODEL = """
import os
import sys

def model_fn(model_dir):
    with open(os.path.join(model_dir, "tag.txt")) as handle:
        return handle.read().strip()

def transform_fn(model, body, content_type, accept):
    # what the pooled worker imported ahead, and the container's environment, as its model sees them
    ahead = "sklearn.linear_model" in sys.modules
    return f"{model}:{os.environ.get('GREETING')}:{ahead}:{body.decode()}", "text/plain"
"""


def _instance_log(hosting, endpoint: str) -> str:
    logs = hosting.server.client("logs")
    events = []
    try:
        for page in logs.get_paginator("filter_log_events").paginate(
            logGroupName=f"/aws/sagemaker/Endpoints/{endpoint}"
        ):
            events += page["events"]
    except ClientError:  # no log group yet: the first lines are still being flushed
        return ""
    return "\n".join(e["message"] for e in events)


def _pooled_workers(data_dir) -> int:
    """Pooled (not yet handed over) workers of the server with ``data_dir``: ``--pool`` on their command
    line, their working directory in its data dir."""
    import os
    from pathlib import Path

    count = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0")
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        count += b"--pool" in args and cwd.startswith(str(data_dir))
    return count


def test_cold_start_is_served_by_a_pooled_worker(p2_hosting):
    """The warm pool (SAGESTACK_SERVERLESS_WARM_POOL, 1 by default): a cold start hands the instance to a
    pooled worker that imported the framework ahead; the endpoint's own accounting is unchanged."""
    from hosting_support import ROLE, SKLEARN_IMAGE, tar_bytes

    hosting = p2_hosting
    url = hosting.upload(
        "models/sls-pooled/model.tar.gz", tar_bytes({"tag.txt": "pooled", "code/inference.py": POOLED_MODEL})
    )
    hosting.sm.create_model(
        ModelName="sls-pooled-model",
        ExecutionRoleArn=ROLE,
        PrimaryContainer={
            "Image": SKLEARN_IMAGE,
            "ModelDataUrl": url,
            "Environment": {"SAGEMAKER_PROGRAM": "inference.py", "GREETING": "hello"},
        },
    )
    _serverless_config(hosting, "sls-pooled-config", "sls-pooled-model", concurrency=1)
    assert hosting.endpoint("sls-pooled-ep", "sls-pooled-config")["EndpointStatus"] == "InService"
    assert worker_processes("sls-pooled-ep") == []  # the pool's processes are not the endpoint's
    # the pool starts once its runtime is known (on a fresh machine, after the image's scikit-learn
    # environment is built); the first cold start is then handed to it
    wait_for(lambda: _pooled_workers(hosting.server.data_dir) > 0, 300, message="a pooled worker")

    assert hosting.invoke("sls-pooled-ep", "1,2")[0] == "pooled:hello:True:1,2"
    # once handed over, the pooled process is the endpoint's worker (its command line says so)
    assert worker_processes("sls-pooled-ep"), "the pooled worker serves the endpoint"
    wait_for(
        lambda: "Model loaded by a pooled worker" in _instance_log(hosting, "sls-pooled-ep"),
        15,
        message="the instance's log to say a pooled worker loaded the model",
    )
    # scale to zero as before; the next cold start is served by the refilled pool
    wait_for(
        lambda: not worker_processes("sls-pooled-ep"), IDLE_SECONDS + 10, message="the idle worker to stop"
    )
    assert hosting.invoke("sls-pooled-ep", "3")[0] == "pooled:hello:True:3"
    wait_for(
        lambda: _instance_log(hosting, "sls-pooled-ep").count("Model loaded by a pooled worker") == 2,
        15,
        message="the second cold start on a pooled worker",
    )
    hosting.delete("sls-pooled-ep")
    wait_for(
        lambda: not worker_processes("sls-pooled-ep"), 15, message="workers to stop after DeleteEndpoint"
    )
