"""Multi-model endpoints: 20 models under one S3 prefix, a cache of 5 (SAGESTACK_MME_MAX_MODELS), every
answer from the right model, and the model-loading metrics."""

from __future__ import annotations

import datetime as dt

import pytest
from botocore.exceptions import ClientError

from hosting_support import ECHO_MODEL, ROLE, SKLEARN_IMAGE, tar_bytes
from production2_support import CACHE_MODELS, wait_for

MODELS = 20


def _statistic(cloudwatch, namespace: str, name: str, statistic: str) -> float | None:
    now = dt.datetime.now(dt.timezone.utc)
    points = cloudwatch.get_metric_statistics(
        Namespace=namespace,
        MetricName=name,
        StartTime=now - dt.timedelta(minutes=10),
        EndTime=now + dt.timedelta(minutes=1),
        Period=600,
        Statistics=[statistic],
        Dimensions=[
            {"Name": "EndpointName", "Value": "mme-ep"},
            {"Name": "VariantName", "Value": "AllTraffic"},
        ],
    )["Datapoints"]
    return points[0][statistic] if points else None


def test_multi_model_endpoint_serves_20_models_with_a_cache_of_5(p2_server, p2_hosting):
    hosting = p2_hosting
    for i in range(MODELS):
        hosting.upload(
            f"mme/models/m{i}.tar.gz", tar_bytes({"tag.txt": f"m{i}", "code/inference.py": ECHO_MODEL})
        )
    hosting.sm.create_model(
        ModelName="mme-model",
        ExecutionRoleArn=ROLE,
        PrimaryContainer={
            "Image": SKLEARN_IMAGE,
            "Mode": "MultiModel",
            "ModelDataUrl": f"s3://{hosting.bucket}/mme/models/",
            "Environment": {
                "SAGEMAKER_PROGRAM": "inference.py",
                "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
            },
        },
    )
    hosting.config("mme-config", [("AllTraffic", "mme-model", 1.0)])
    desc = hosting.endpoint("mme-ep", "mme-config")
    assert desc["EndpointStatus"] == "InService", desc.get("FailureReason")

    requests = 0
    for round_ in range(2):  # the second round finds only the last 5 loaded: LRU eviction throughout
        for i in range(MODELS):
            body, response = hosting.invoke("mme-ep", f"{i},{round_}", TargetModel=f"m{i}.tar.gz")
            assert body == f"m{i}:{i + round_:g}"
            assert (
                response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-invoked-production-variant"]
                == "AllTraffic"
            )
            requests += 1
    for _ in range(3):  # hot model: cache hits
        assert hosting.invoke("mme-ep", "1", TargetModel=f"m{MODELS - 1}.tar.gz")[0] == f"m{MODELS - 1}:1"
        requests += 1

    with pytest.raises(ClientError) as info:
        hosting.invoke("mme-ep", "1", TargetModel="missing.tar.gz")
    assert info.value.response["Error"]["Code"] == "ValidationError"
    assert "Failed to download model data" in info.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as info:
        hosting.invoke("mme-ep", "1")
    assert "TargetModel" in info.value.response["Error"]["Message"]

    cloudwatch = p2_server.client("cloudwatch")
    wait_for(
        lambda: (_statistic(cloudwatch, "AWS/SageMaker", "ModelCacheHit", "SampleCount") or 0) >= requests,
        15,
        message="ModelCacheHit samples",
    )
    assert _statistic(cloudwatch, "AWS/SageMaker", "ModelCacheHit", "Sum") == 3  # only the hot model hit
    assert _statistic(cloudwatch, "AWS/SageMaker", "ModelLoadingTime", "SampleCount") == 2 * MODELS
    assert _statistic(cloudwatch, "AWS/SageMaker", "ModelLoadingWaitTime", "SampleCount") == 2 * MODELS
    assert _statistic(cloudwatch, "AWS/SageMaker", "ModelDownloadingTime", "SampleCount") == MODELS
    assert (
        _statistic(cloudwatch, "AWS/SageMaker", "ModelUnloadingTime", "SampleCount")
        == 2 * MODELS - CACHE_MODELS
    )
    assert _statistic(cloudwatch, "/aws/sagemaker/Endpoints", "LoadedModelCount", "Maximum") == CACHE_MODELS
    hosting.delete("mme-ep")


def test_target_model_on_a_single_model_endpoint_is_rejected(p2_hosting):
    hosting = p2_hosting
    hosting.script_model("single-model", tag="single")
    hosting.config("single-config", [("AllTraffic", "single-model", 1.0)])
    assert hosting.endpoint("single-ep", "single-config")["EndpointStatus"] == "InService"
    with pytest.raises(ClientError) as info:
        hosting.invoke("single-ep", "1", TargetModel="m1.tar.gz")
    assert "not a multi-model endpoint" in info.value.response["Error"]["Message"]
    assert hosting.invoke("single-ep", "1")[0] == "single:1"
    hosting.delete("single-ep")
