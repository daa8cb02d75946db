"""Asynchronous inference: InvokeEndpointAsync answers at once with the output/failure locations, a
durable queue feeds the instances (MaxConcurrentInvocationsPerInstance), results land in S3 — also for
requests that were queued or in progress when the server was killed — and the backlog is published as
metrics; an async endpoint scales to zero instances and back."""

from __future__ import annotations

import datetime as dt
import time

from hosting_support import ECHO_MODEL, Hosting
from production2_support import wait_for

#: ECHO_MODEL, a little slower (so a restart finds work queued).
SLOW_ECHO = ECHO_MODEL.replace("    total = sum(", "    __import__('time').sleep(0.05)\n    total = sum(")
REQUESTS = 100


def _async_config(hosting: Hosting, name: str, model: str, per_instance: int) -> str:
    hosting.sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": model,
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
                "InitialVariantWeight": 1.0,
            }
        ],
        AsyncInferenceConfig={
            "OutputConfig": {
                "S3OutputPath": f"s3://{hosting.bucket}/async/out",
                "S3FailurePath": f"s3://{hosting.bucket}/async/failed",
            },
            "ClientConfig": {"MaxConcurrentInvocationsPerInstance": per_instance},
        },
    )
    return name


def _keys(hosting: Hosting, prefix: str) -> dict[str, str]:
    keys = {}
    for page in hosting.s3.get_paginator("list_objects_v2").paginate(Bucket=hosting.bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            keys[item["Key"]] = item["Key"]
    return keys


def test_100_async_requests_complete_across_a_server_kill(fresh_server):
    hosting = Hosting(fresh_server)
    hosting.script_model("async-model", tag="async", code=SLOW_ECHO)
    _async_config(hosting, "async-config", "async-model", per_instance=2)
    desc = hosting.endpoint("async-ep", "async-config")
    assert desc["EndpointStatus"] == "InService", desc.get("FailureReason")

    expected: dict[str, str] = {}
    for i in range(REQUESTS):
        body = "boom" if i == 7 else f"{i},1"
        location = hosting.upload(f"async/in/{i}.csv", body.encode())
        kwargs = {"InferenceId": f"req-{i}"} if i % 10 == 0 else {}
        started = time.perf_counter()
        answer = hosting.rt.invoke_endpoint_async(
            EndpointName="async-ep", InputLocation=location, ContentType="text/csv", **kwargs
        )
        assert time.perf_counter() - started < 2.0  # answered at once, not after the inference
        assert answer["ResponseMetadata"]["HTTPStatusCode"] == 202
        assert answer["OutputLocation"] == f"s3://{hosting.bucket}/async/out/{answer['InferenceId']}.out"
        assert (
            answer["FailureLocation"] == f"s3://{hosting.bucket}/async/failed/{answer['InferenceId']}.error"
        )
        if kwargs:
            assert answer["InferenceId"] == kwargs["InferenceId"]
        expected[answer["InferenceId"]] = "boom" if i == 7 else f"async:{i + 1}"

    done_before = len(_keys(hosting, "async/out/"))
    print(f"outputs in S3 when the server was killed: {done_before} of {REQUESTS - 1}")
    fresh_server.restart(sig="KILL")
    assert done_before < REQUESTS - 1, "the kill should interrupt the queue"

    wait_for(lambda: len(_keys(hosting, "async/out/")) == REQUESTS - 1, 90, 0.5, "every output in S3")
    for inference_id, answer in expected.items():
        if answer == "boom":
            error = hosting.s3.get_object(Bucket=hosting.bucket, Key=f"async/failed/{inference_id}.error")
            assert "the model refused: boom" in error["Body"].read().decode()
            continue
        output = hosting.s3.get_object(Bucket=hosting.bucket, Key=f"async/out/{inference_id}.out")
        assert output["Body"].read().decode() == answer, inference_id
        assert output["ContentType"] == "text/plain"


def test_async_endpoint_backlog_metrics_and_scale_to_zero(p2_server, p2_hosting):
    hosting = p2_hosting
    hosting.script_model("async-zero-model", tag="zero")
    _async_config(hosting, "async-zero-config", "async-zero-model", per_instance=4)
    assert hosting.endpoint("async-zero-ep", "async-zero-config")["EndpointStatus"] == "InService"
    hosting.sm.update_endpoint_weights_and_capacities(
        EndpointName="async-zero-ep",
        DesiredWeightsAndCapacities=[{"VariantName": "AllTraffic", "DesiredInstanceCount": 0}],
    )
    desc = hosting.wait("async-zero-ep")
    assert (
        desc["EndpointStatus"] == "InService" and desc["ProductionVariants"][0]["CurrentInstanceCount"] == 0
    )

    locations = []
    for i in range(3):
        location = hosting.upload(f"async-zero/in/{i}.csv", f"{i},{i}".encode())
        locations.append(
            hosting.rt.invoke_endpoint_async(
                EndpointName="async-zero-ep", InputLocation=location, ContentType="text/csv"
            )["OutputLocation"]
        )
    cloudwatch = p2_server.client("cloudwatch")

    def latest(name: str) -> float | None:
        now = dt.datetime.now(dt.timezone.utc)
        points = cloudwatch.get_metric_statistics(
            Namespace="AWS/SageMaker",
            MetricName=name,
            StartTime=now - dt.timedelta(seconds=5),
            EndTime=now + dt.timedelta(seconds=5),
            Period=1,
            Statistics=["Maximum"],
            Dimensions=[{"Name": "EndpointName", "Value": "async-zero-ep"}],
        )["Datapoints"]
        return max(points, key=lambda p: p["Timestamp"])["Maximum"] if points else None

    wait_for(lambda: latest("HasBacklogWithoutCapacity") == 1, 15, message="HasBacklogWithoutCapacity = 1")
    assert latest("ApproximateBacklogSize") == 3
    assert not _keys(hosting, "async/out/"), "no instance: nothing is processed"

    hosting.sm.update_endpoint_weights_and_capacities(
        EndpointName="async-zero-ep",
        DesiredWeightsAndCapacities=[{"VariantName": "AllTraffic", "DesiredInstanceCount": 1}],
    )
    assert hosting.wait("async-zero-ep")["EndpointStatus"] == "InService"
    for i, location in enumerate(locations):
        key = location.split("/", 3)[3]
        wait_for(lambda key=key: key in _keys(hosting, "async/out/"), 30, message=f"output {key}")
        assert (
            hosting.s3.get_object(Bucket=hosting.bucket, Key=key)["Body"].read().decode() == f"zero:{2 * i}"
        )
    wait_for(lambda: latest("ApproximateBacklogSize") == 0, 15, message="an empty backlog")
    hosting.delete("async-zero-ep")
