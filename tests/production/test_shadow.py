"""Shadow tests: ShadowProductionVariants in an endpoint config, and inference experiments (ShadowMode).
A sampled copy of live traffic reaches the shadow off the caller's path; callers only ever see production
answers (even from a broken shadow); shadow metrics carry the shadow's VariantName; promoting works."""

from __future__ import annotations

import time

import pytest
from botocore.exceptions import ClientError

from support import metric_sum

BROKEN_MODEL = """
import os

def model_fn(model_dir):
    return {}

def predict_fn(data, model):
    raise RuntimeError("the shadow model is broken")
"""


def _invoke_many(hosting, endpoint: str, count: int) -> list[str]:
    return [hosting.invoke(endpoint, f"{i},1")[0] for i in range(count)]


def _wait_metric(server, endpoint, variant, name, start, minimum, timeout=20.0) -> float:
    deadline = time.time() + timeout
    while True:
        value = metric_sum(server, endpoint, variant, name, start, time.time())
        if value >= minimum or time.time() > deadline:
            return value
        time.sleep(0.5)


@pytest.mark.sdk_flow("flow07d", "boto3: ShadowProductionVariants")
def test_shadow_variant_gets_its_share_and_callers_see_production(hosting, production_server):
    hosting.script_model("sh-prod", tag="prod")
    hosting.script_model("sh-shadow", tag="shadow")
    hosting.script_model("sh-broken", code=BROKEN_MODEL)
    hosting.sm.create_endpoint_config(
        EndpointConfigName="sh-config",
        ProductionVariants=[
            {
                "VariantName": "Prod",
                "ModelName": "sh-prod",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
                "InitialVariantWeight": 1.0,
            }
        ],
        ShadowProductionVariants=[
            {
                "VariantName": "Shadow",
                "ModelName": "sh-shadow",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
                "InitialVariantWeight": 0.5,
            },
            {
                "VariantName": "Broken",
                "ModelName": "sh-broken",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
                "InitialVariantWeight": 1.0,
            },
        ],
    )
    desc = hosting.endpoint("sh-ep", "sh-config")
    try:
        assert desc["EndpointStatus"] == "InService", desc
        assert [v["VariantName"] for v in desc["ProductionVariants"]] == ["Prod"]
        assert sorted(v["VariantName"] for v in desc["ShadowProductionVariants"]) == ["Broken", "Shadow"]
        start = time.time()
        answers: list[str] = []
        for first in range(0, 200, 50):
            answers += [hosting.invoke("sh-ep", f"{i},1")[0] for i in range(first, first + 50)]
            # paced: on a busy machine the broken shadow (a traceback logged per copy) can fall behind the
            # callers, and past MAX_INFLIGHT copies in flight it would shed them (that is by design)
            _wait_metric(production_server, "sh-ep", "Broken", "Invocations", start, len(answers) - 10, 60)
        assert answers == [f"prod:{i + 1}" for i in range(200)]
        assert all(a.startswith("prod:") for a in answers)  # never the shadow's, never its errors
        prod = _wait_metric(production_server, "sh-ep", "Prod", "Invocations", start, 200)
        _wait_metric(production_server, "sh-ep", "Broken", "Invocations", start, 180, 60)
        time.sleep(2)  # the last copies and the next metric flush
        broken = metric_sum(production_server, "sh-ep", "Broken", "Invocations", start, time.time())
        shadow = metric_sum(production_server, "sh-ep", "Shadow", "Invocations", start, time.time())
        assert prod == 200
        # weight 1 / 1: every request mirrored (a shadow that falls behind sheds copies instead of queueing
        # them, so allow a few on a busy machine), and every copy failed
        assert 180 <= broken <= 200, (broken, shadow, prod)
        assert (
            metric_sum(production_server, "sh-ep", "Broken", "Invocation5XXErrors", start, time.time())
            == broken
        )
        assert 65 <= shadow <= 130, shadow  # weight 0.5 / 1: about half the requests
        assert metric_sum(production_server, "sh-ep", "Prod", "Invocation5XXErrors", start, time.time()) == 0
    finally:
        hosting.delete("sh-ep")


def test_inference_experiment_shadow_then_promote(hosting, production_server):
    sm = hosting.sm
    hosting.script_model("ie-prod", tag="prod")
    hosting.script_model("ie-new", tag="new")
    hosting.config("ie-config", [("Prod", "ie-prod", 1.0)])
    assert hosting.endpoint("ie-ep", "ie-config")["EndpointStatus"] == "InService"
    infra = {
        "InfrastructureType": "RealTimeInference",
        "RealTimeInferenceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
    }
    try:
        with pytest.raises(ClientError, match="SourceModelVariantName"):
            sm.create_inference_experiment(
                Name="ie-bad",
                Type="ShadowMode",
                RoleArn="arn:aws:iam::000000000000:role/R",
                EndpointName="ie-ep",
                ModelVariants=[{"ModelName": "ie-new", "VariantName": "New", "InfrastructureConfig": infra}],
                ShadowModeConfig={
                    "SourceModelVariantName": "Prod",
                    "ShadowModelVariants": [{"ShadowModelVariantName": "New", "SamplingPercentage": 50}],
                },
            )
        arn = sm.create_inference_experiment(
            Name="ie-exp",
            Type="ShadowMode",
            RoleArn="arn:aws:iam::000000000000:role/R",
            EndpointName="ie-ep",
            Description="new model in shadow",
            ModelVariants=[
                {"ModelName": "ie-prod", "VariantName": "Prod", "InfrastructureConfig": infra},
                {"ModelName": "ie-new", "VariantName": "New", "InfrastructureConfig": infra},
            ],
            ShadowModeConfig={
                "SourceModelVariantName": "Prod",
                "ShadowModelVariants": [{"ShadowModelVariantName": "New", "SamplingPercentage": 25}],
            },
        )["InferenceExperimentArn"]
        assert arn.endswith(":inference-experiment/ie-exp")
        deadline = time.time() + 60
        while (
            sm.describe_inference_experiment(Name="ie-exp")["Status"] != "Running" and time.time() < deadline
        ):
            time.sleep(0.3)
        desc = sm.describe_inference_experiment(Name="ie-exp")
        assert desc["Status"] == "Running", desc
        assert desc["EndpointMetadata"]["EndpointStatus"] == "InService"
        assert {v["VariantName"]: v["Status"] for v in desc["ModelVariants"]} == {
            "Prod": "InService",
            "New": "InService",
        }
        assert [
            e["Name"] for e in sm.list_inference_experiments(StatusEquals="Running")["InferenceExperiments"]
        ] == ["ie-exp"]
        start = time.time()
        answers = _invoke_many(hosting, "ie-ep", 200)
        assert all(a.startswith("prod:") for a in answers)
        _wait_metric(production_server, "ie-ep", "Prod", "Invocations", start, 200)
        time.sleep(2)
        mirrored = metric_sum(production_server, "ie-ep", "New", "Invocations", start, time.time())
        assert 25 <= mirrored <= 80, mirrored  # 25 % of 200

        sm.stop_inference_experiment(
            Name="ie-exp",
            ModelVariantActions={"Prod": "Remove", "New": "Promote"},
            DesiredState="Completed",
            Reason="the new model is better",
        )
        deadline = time.time() + 60
        while (
            sm.describe_inference_experiment(Name="ie-exp")["Status"] == "Stopping" and time.time() < deadline
        ):
            time.sleep(0.3)
        desc = sm.describe_inference_experiment(Name="ie-exp")
        assert desc["Status"] == "Completed" and desc["StatusReason"] == "the new model is better"
        assert {v["VariantName"]: v["Status"] for v in desc["ModelVariants"]} == {
            "Prod": "Deleted",
            "New": "InService",
        }
        endpoint = sm.describe_endpoint(EndpointName="ie-ep")
        assert endpoint["EndpointStatus"] == "InService"
        assert [v["VariantName"] for v in endpoint["ProductionVariants"]] == ["New"]
        assert "ShadowProductionVariants" not in endpoint
        answer, response = hosting.invoke("ie-ep", "2,2")
        assert answer == "new:4" and response["InvokedProductionVariant"] == "New"
    finally:
        hosting.delete("ie-ep")
