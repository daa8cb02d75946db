"""Application Auto Scaling for endpoint variants: the API, the alarms target tracking creates, and a
variant that really scales out under load and back in when the load drops (DescribeScalingActivities
tells the story; DescribeEndpoint shows the instance count)."""

from __future__ import annotations

import time

import pytest
from botocore.exceptions import ClientError

from support import ClientLoop

DIM = "sagemaker:variant:DesiredInstanceCount"


@pytest.fixture(scope="module")
def aas(production_server):
    return production_server.client("application-autoscaling")


@pytest.fixture(scope="module")
def small_endpoint(hosting):
    hosting.script_model("as-model")
    hosting.config("as-config", [("AllTraffic", "as-model", 1.0)])
    desc = hosting.endpoint("as-api", "as-config")
    assert desc["EndpointStatus"] == "InService", desc
    yield "as-api"
    hosting.delete("as-api")


@pytest.mark.sdk_flow("flow07e", "boto3: RegisterScalableTarget, PutScalingPolicy, Describe*, Delete*")
def test_scalable_target_lifecycle_and_errors(aas, small_endpoint):
    rid = f"endpoint/{small_endpoint}/variant/AllTraffic"
    with pytest.raises(ClientError, match="MinCapacity and MaxCapacity"):
        aas.register_scalable_target(ServiceNamespace="sagemaker", ResourceId=rid, ScalableDimension=DIM)
    with pytest.raises(ClientError, match="does not exist"):
        aas.register_scalable_target(
            ServiceNamespace="sagemaker",
            ResourceId="endpoint/nope/variant/AllTraffic",
            ScalableDimension=DIM,
            MinCapacity=1,
            MaxCapacity=2,
        )
    with pytest.raises(ClientError, match="greater than maximum"):
        aas.register_scalable_target(
            ServiceNamespace="sagemaker", ResourceId=rid, ScalableDimension=DIM, MinCapacity=3, MaxCapacity=2
        )
    arn = aas.register_scalable_target(
        ServiceNamespace="sagemaker", ResourceId=rid, ScalableDimension=DIM, MinCapacity=1, MaxCapacity=4
    )["ScalableTargetARN"]
    assert arn.startswith("arn:aws:application-autoscaling:us-east-1:000000000000:scalable-target/")
    targets = aas.describe_scalable_targets(ServiceNamespace="sagemaker", ResourceIds=[rid])[
        "ScalableTargets"
    ]
    assert [(t["MinCapacity"], t["MaxCapacity"], t["ScalableTargetARN"]) for t in targets] == [(1, 4, arn)]
    assert targets[0]["SuspendedState"] == {
        "DynamicScalingInSuspended": False,
        "DynamicScalingOutSuspended": False,
        "ScheduledScalingSuspended": False,
    }

    policy = aas.put_scaling_policy(
        PolicyName="tt",
        ServiceNamespace="sagemaker",
        ResourceId=rid,
        ScalableDimension=DIM,
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": 70.0,
            "ScaleInCooldown": 300,
            "ScaleOutCooldown": 60,
            "PredefinedMetricSpecification": {
                "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
            },
        },
    )
    assert ":scalingPolicy:" in policy["PolicyARN"] and policy["PolicyARN"].endswith(
        f":resource/sagemaker/{rid}:policyName/tt"
    )
    names = sorted(a["AlarmName"] for a in policy["Alarms"])
    assert names[0].startswith(f"TargetTracking-{rid}-AlarmHigh-") and names[1].startswith(
        f"TargetTracking-{rid}-AlarmLow-"
    )
    alarms = _cloudwatch(aas).describe_alarms(AlarmNames=names)["MetricAlarms"]
    by_kind = {("High" if "AlarmHigh" in a["AlarmName"] else "Low"): a for a in alarms}
    assert by_kind["High"]["AlarmActions"] == [policy["PolicyARN"]]
    assert by_kind["High"]["Threshold"] == 70.0 and by_kind["Low"]["Threshold"] == 63.0
    assert by_kind["High"]["MetricName"] == "InvocationsPerInstance"
    assert {d["Name"]: d["Value"] for d in by_kind["High"]["Dimensions"]} == {
        "EndpointName": small_endpoint,
        "VariantName": "AllTraffic",
    }
    described = aas.describe_scaling_policies(
        ServiceNamespace="sagemaker", ResourceId=rid, ScalableDimension=DIM
    )["ScalingPolicies"]
    assert [(p["PolicyName"], p["PolicyType"]) for p in described] == [("tt", "TargetTrackingScaling")]
    assert sorted(a["AlarmName"] for a in described[0]["Alarms"]) == names

    step = aas.put_scaling_policy(
        PolicyName="step",
        ServiceNamespace="sagemaker",
        ResourceId=rid,
        ScalableDimension=DIM,
        PolicyType="StepScaling",
        StepScalingPolicyConfiguration={
            "AdjustmentType": "ChangeInCapacity",
            "Cooldown": 30,
            "MetricAggregationType": "Average",
            "StepAdjustments": [{"MetricIntervalLowerBound": 0, "ScalingAdjustment": 1}],
        },
    )
    assert "Alarms" not in step

    aas.delete_scaling_policy(
        PolicyName="tt", ServiceNamespace="sagemaker", ResourceId=rid, ScalableDimension=DIM
    )
    assert _cloudwatch(aas).describe_alarms(AlarmNames=names)["MetricAlarms"] == []  # its alarms went with it
    with pytest.raises(ClientError) as err:
        aas.delete_scaling_policy(
            PolicyName="tt", ServiceNamespace="sagemaker", ResourceId=rid, ScalableDimension=DIM
        )
    assert err.value.response["Error"]["Code"] == "ObjectNotFoundException"
    aas.deregister_scalable_target(ServiceNamespace="sagemaker", ResourceId=rid, ScalableDimension=DIM)
    assert (
        aas.describe_scaling_policies(ServiceNamespace="sagemaker", ResourceId=rid)["ScalingPolicies"] == []
    )
    assert (
        aas.describe_scalable_targets(ServiceNamespace="sagemaker", ResourceIds=[rid])["ScalableTargets"]
        == []
    )
    with pytest.raises(ClientError) as err:
        aas.put_scaling_policy(
            PolicyName="x",
            ServiceNamespace="sagemaker",
            ResourceId=rid,
            ScalableDimension=DIM,
            PolicyType="StepScaling",
            StepScalingPolicyConfiguration={
                "AdjustmentType": "ChangeInCapacity",
                "StepAdjustments": [{"MetricIntervalLowerBound": 0, "ScalingAdjustment": 1}],
            },
        )
    assert err.value.response["Error"]["Code"] == "ObjectNotFoundException"


def _cloudwatch(aas):
    return aas._sagestack_cw  # set by the fixture below


@pytest.fixture(scope="module", autouse=True)
def _attach_cloudwatch(aas, production_server):
    aas._sagestack_cw = production_server.client("cloudwatch")


def _wait_activity(aas, rid: str, count: int, timeout: float) -> list[dict]:
    deadline = time.time() + timeout
    while True:
        activities = aas.describe_scaling_activities(
            ServiceNamespace="sagemaker", ResourceId=rid, ScalableDimension=DIM
        )["ScalingActivities"]
        done = [a for a in activities if a["StatusCode"] != "InProgress"]
        if len(done) >= count or time.time() > deadline:
            return activities
        time.sleep(0.5)


def test_step_policy_driven_by_a_user_alarm_and_minimum_capacity(aas, hosting):
    hosting.script_model("as-step-model")
    hosting.config("as-step-config", [("AllTraffic", "as-step-model", 1.0)])
    assert hosting.endpoint("as-step", "as-step-config")["EndpointStatus"] == "InService"
    rid = "endpoint/as-step/variant/AllTraffic"
    try:
        # A minimum above the current count: the target is brought up to it.
        aas.register_scalable_target(
            ServiceNamespace="sagemaker", ResourceId=rid, ScalableDimension=DIM, MinCapacity=2, MaxCapacity=3
        )
        first = _wait_activity(aas, rid, 1, 60)[0]
        assert first["Cause"] == "minimum capacity was set to 2"
        assert first["Description"] == "Setting desired instance count to 2."
        assert first["StatusCode"] == "Successful", first
        variant = hosting.sm.describe_endpoint(EndpointName="as-step")["ProductionVariants"][0]
        assert (variant["CurrentInstanceCount"], variant["DesiredInstanceCount"]) == (2, 2)
        # A step policy acting through an alarm the user owns; SetAlarmState fires it (as on AWS).
        arn = aas.put_scaling_policy(
            PolicyName="add-one",
            ServiceNamespace="sagemaker",
            ResourceId=rid,
            ScalableDimension=DIM,
            PolicyType="StepScaling",
            StepScalingPolicyConfiguration={
                "AdjustmentType": "ChangeInCapacity",
                "Cooldown": 600,
                "StepAdjustments": [{"MetricIntervalLowerBound": 0, "ScalingAdjustment": 1}],
            },
        )["PolicyARN"]
        cw = _cloudwatch(aas)
        cw.put_metric_alarm(
            AlarmName="as-step-latency",
            Namespace="Custom",
            MetricName="QueueDepth",
            Statistic="Maximum",
            Period=10,
            EvaluationPeriods=1,
            Threshold=5,
            ComparisonOperator="GreaterThanThreshold",
            AlarmActions=[arn],
        )
        cw.put_metric_data(Namespace="Custom", MetricData=[{"MetricName": "QueueDepth", "Value": 9}])
        cw.set_alarm_state(AlarmName="as-step-latency", StateValue="ALARM", StateReason="testing the action")
        second = _wait_activity(aas, rid, 2, 60)[0]
        assert second["Cause"] == "monitor alarm as-step-latency in state ALARM triggered policy add-one"
        assert second["StatusCode"] == "Successful" and second["Description"].endswith("count to 3.")
        assert "Change successfully fulfilled by sagemaker" in second["StatusMessage"]
        assert (
            hosting.sm.describe_endpoint(EndpointName="as-step")["ProductionVariants"][0][
                "CurrentInstanceCount"
            ]
            == 3
        )
        # Its 600 s cooldown (and the maximum) hold it there.
        time.sleep(3)
        assert (
            len(
                aas.describe_scaling_activities(ServiceNamespace="sagemaker", ResourceId=rid)[
                    "ScalingActivities"
                ]
            )
            == 2
        )
        # Paged one at a time, newest first, and filtered in SQL (tests/test_pagination.py skips activities)
        pages = aas.get_paginator("describe_scaling_activities").paginate(
            ServiceNamespace="sagemaker",
            ResourceId=rid,
            ScalableDimension=DIM,
            PaginationConfig={"PageSize": 1},
        )
        assert [[a["ActivityId"] for a in p["ScalingActivities"]] for p in pages] == [
            [second["ActivityId"]],
            [first["ActivityId"]],
        ]
        assert (
            aas.describe_scaling_activities(ServiceNamespace="sagemaker", ResourceId=rid + "x", MaxResults=1)[
                "ScalingActivities"
            ]
            == []
        )
        cw.delete_alarms(AlarmNames=["as-step-latency"])
    finally:
        hosting.delete("as-step")


@pytest.mark.sdk_flow(
    "flow07e", "boto3: target tracking on SageMakerVariantInvocationsPerInstance scales out and in"
)
def test_target_tracking_scales_out_under_load_and_back_in(aas, hosting):
    """InvocationsPerInstance (Sum per 10 s period) tracked at 60: ~15 req/s puts one instance at ~150,
    so AlarmHigh fires and the policy asks for ceil(1 × 150 / 60) = 3, capped at MaxCapacity 2. When the
    load drops to a trickle (~1 req/s: 5 per instance per period, under 90 % of the target), AlarmLow
    fires and the variant goes back to 1."""
    hosting.script_model("as-tt-model")
    hosting.config("as-tt-config", [("AllTraffic", "as-tt-model", 1.0)])
    assert hosting.endpoint("as-tt", "as-tt-config")["EndpointStatus"] == "InService"
    rid = "endpoint/as-tt/variant/AllTraffic"
    aas.register_scalable_target(
        ServiceNamespace="sagemaker", ResourceId=rid, ScalableDimension=DIM, MinCapacity=1, MaxCapacity=2
    )
    aas.put_scaling_policy(
        PolicyName="tt-load",
        ServiceNamespace="sagemaker",
        ResourceId=rid,
        ScalableDimension=DIM,
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": 60.0,
            "ScaleOutCooldown": 5,
            "ScaleInCooldown": 5,
            "PredefinedMetricSpecification": {
                "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
            },
        },
    )
    load = ClientLoop(hosting, "as-tt", rate=7.5, threads=2).start()
    try:
        out = _wait_activity(aas, rid, 1, 90)
        assert out and out[0]["StatusCode"] == "Successful", out
        assert out[0]["Description"] == "Setting desired instance count to 2."
        assert out[0]["Cause"].startswith(f"monitor alarm TargetTracking-{rid}-AlarmHigh-")
        assert out[0]["Cause"].endswith("in state ALARM triggered policy tt-load")
        variant = hosting.sm.describe_endpoint(EndpointName="as-tt")["ProductionVariants"][0]
        assert (variant["CurrentInstanceCount"], variant["DesiredInstanceCount"]) == (2, 2)
        load.set_rate(0.5)  # the load stops; a trickle of health checks keeps the metric alive
        back = _wait_activity(aas, rid, 2, 90)
        assert back[0]["StatusCode"] == "Successful", back
        assert back[0]["Description"] == "Setting desired instance count to 1."
        assert f"TargetTracking-{rid}-AlarmLow-" in back[0]["Cause"]
        assert (
            hosting.sm.describe_endpoint(EndpointName="as-tt")["ProductionVariants"][0][
                "CurrentInstanceCount"
            ]
            == 1
        )
        assert back[0]["StartTime"] >= back[1]["EndTime"]  # newest first, one after the other
    finally:
        results = load.stop()
        hosting.delete("as-tt")
    assert results and all(r.ok for r in results), [r.answer for r in results if not r.ok][:3]
