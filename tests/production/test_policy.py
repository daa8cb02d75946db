"""The pure parts, on their own: scaling policies, cooldowns, the target tracking alarms, traffic-shift
schedules, and how CloudWatch evaluates the alarms that drive them (periods, datapoints to alarm)."""

from __future__ import annotations

import pytest

from sagestack.domain import scaling_policies as policy
from sagestack.domain.alarms import evaluate
from sagestack.domain.scaling_alarms import AlarmShape, tracking_alarms
from sagestack.serving.rollout import Step, check_deployment_config, shift_schedule

ARN = "arn:aws:autoscaling:us-east-1:000000000000:scalingPolicy:abc:resource/sagemaker/endpoint/ep/variant/v:policyName/p"


def test_target_tracking_capacity_is_proportional():
    assert policy.target_tracking_capacity(1, 140.0, 70.0) == 2
    assert policy.target_tracking_capacity(2, 100.0, 70.0) == 3  # ceil(2.86)
    assert policy.target_tracking_capacity(4, 10.0, 70.0) == 1  # ceil(0.57)
    assert policy.target_tracking_capacity(3, 70.0, 70.0) == 3
    assert policy.target_tracking_capacity(3, 0.0, 70.0) == 1  # never below one instance
    assert policy.target_tracking_capacity(4, 10.0, 70.0, disable_scale_in=True) == 4
    with pytest.raises(ValueError):
        policy.target_tracking_capacity(1, 1.0, 0.0)


STEPS = [
    {"MetricIntervalLowerBound": 0, "MetricIntervalUpperBound": 10, "ScalingAdjustment": 1},
    {"MetricIntervalLowerBound": 10, "ScalingAdjustment": 3},
]


def test_step_adjustments_bounds_relative_to_threshold():
    config = {"AdjustmentType": "ChangeInCapacity", "StepAdjustments": STEPS}
    assert policy.step_scaling_capacity(2, config, breach=55.0, threshold=50.0) == 3
    assert policy.step_scaling_capacity(2, config, breach=60.0, threshold=50.0) == 5  # lower bound inclusive
    assert policy.step_scaling_capacity(2, config, breach=45.0, threshold=50.0) is None
    down = {
        "AdjustmentType": "ChangeInCapacity",
        "StepAdjustments": [{"MetricIntervalUpperBound": 0, "ScalingAdjustment": -1}],
    }
    assert policy.step_scaling_capacity(3, down, breach=10.0, threshold=20.0) == 2
    assert (
        policy.step_scaling_capacity(3, down, breach=20.0, threshold=20.0) == 2
    )  # upper bound inclusive below


def test_step_percent_change_rounding_and_exact_capacity():
    percent = {
        "AdjustmentType": "PercentChangeInCapacity",
        "StepAdjustments": [{"MetricIntervalLowerBound": 0, "ScalingAdjustment": 50}],
    }
    assert policy.step_scaling_capacity(5, percent, 1.0, 0.0) == 7  # 2.5 → 2
    assert policy.step_scaling_capacity(1, percent, 1.0, 0.0) == 2  # 0.5 → 1
    assert policy.step_scaling_capacity(2, dict(percent, MinAdjustmentMagnitude=3), 1.0, 0.0) == 5
    exact = {
        "AdjustmentType": "ExactCapacity",
        "StepAdjustments": [{"MetricIntervalLowerBound": 0, "ScalingAdjustment": 4}],
    }
    assert policy.step_scaling_capacity(1, exact, 1.0, 0.0) == 4


def test_largest_capacity_wins_and_limits_apply():
    assert policy.combine(2, [3, None, 5]) == 5
    assert policy.combine(2, [None]) is None
    decision = policy.decide(2, 1, 4, [(3, "a", "x"), (9, "b", "y")], 100.0, policy.Cooldowns(), {})
    assert (decision.capacity, decision.policy_name, decision.direction) == (4, "b", "out")
    assert policy.decide(4, 1, 4, [(9, "b", "y")], 100.0, policy.Cooldowns(), {}) is None  # already at max
    assert (
        policy.decide(
            2, 1, 4, [(3, "a", "x")], 0.0, policy.Cooldowns(), {}, {"DynamicScalingOutSuspended": True}
        )
        is None
    )


def test_cooldowns():
    history = policy.Cooldowns(last_scale_out=100.0)
    cooldowns = {"p": (60.0, 30.0)}
    assert policy.decide(2, 1, 5, [(3, "p", "")], 130.0, history, cooldowns) is None  # scale-out cooling down
    assert policy.decide(2, 1, 5, [(3, "p", "")], 161.0, history, cooldowns).capacity == 3
    # a scale-in is held while a scale-out's cooldown runs, and by its own cooldown
    assert policy.decide(3, 1, 5, [(2, "p", "")], 150.0, history, cooldowns) is None
    after_in = policy.Cooldowns(last_scale_in=200.0)
    assert policy.decide(3, 1, 5, [(2, "p", "")], 220.0, after_in, cooldowns) is None
    assert policy.decide(3, 1, 5, [(2, "p", "")], 231.0, after_in, cooldowns).capacity == 2
    # a scale-out is never held by a scale-in's cooldown
    assert policy.decide(2, 1, 5, [(4, "p", "")], 201.0, after_in, cooldowns).capacity == 4


def test_tracking_alarms_follow_aws_shape():
    config = {
        "TargetValue": 70.0,
        "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"},
    }
    high, low = tracking_alarms(
        ARN, "endpoint/ep/variant/v", config, AlarmShape(), "000000000000", "us-east-1"
    )
    assert high["AlarmName"].startswith("TargetTracking-endpoint/ep/variant/v-AlarmHigh-")
    assert low["AlarmName"].startswith("TargetTracking-endpoint/ep/variant/v-AlarmLow-")
    assert (high["Period"], high["EvaluationPeriods"], high["Threshold"], high["ComparisonOperator"]) == (
        60,
        3,
        70.0,
        "GreaterThanThreshold",
    )
    assert (low["EvaluationPeriods"], low["Threshold"], low["ComparisonOperator"]) == (
        15,
        63.0,
        "LessThanThreshold",
    )
    assert high["MetricName"] == "InvocationsPerInstance" and high["Statistic"] == "Sum"
    assert high["AlarmActions"] == [ARN] and high["Namespace"] == "AWS/SageMaker"
    only_high = tracking_alarms(
        ARN,
        "endpoint/ep/variant/v",
        dict(config, DisableScaleIn=True),
        AlarmShape.parse("10,2,2"),
        "000000000000",
        "us-east-1",
    )
    assert len(only_high) == 1 and only_high[0]["Period"] == 10
    with pytest.raises(ValueError):
        AlarmShape.parse("7,1,1")


def test_alarm_evaluation_needs_consecutive_breaching_periods():
    alarm = {
        "Period": 10,
        "EvaluationPeriods": 3,
        "DatapointsToAlarm": 3,
        "Threshold": 70.0,
        "ComparisonOperator": "GreaterThanThreshold",
        "Statistic": "Sum",
    }
    now = 1000.0  # evaluates [970, 1000)
    assert evaluate(alarm, [(970, 80), (980, 90), (990, 75)], now).state == "ALARM"
    assert evaluate(alarm, [(970, 80), (980, 60), (990, 75)], now).state == "OK"
    assert (
        evaluate(alarm, [(1000, 500)], now).state == "INSUFFICIENT_DATA"
    )  # the running period is not evaluated
    two_of_three = dict(alarm, DatapointsToAlarm=2)
    result = evaluate(two_of_three, [(970, 80), (980, 60), (990, 75)], now)
    assert result.state == "ALARM" and "2 out of the last 3 datapoints" in result.reason
    assert evaluate(dict(alarm, TreatMissingData="breaching"), [(990, 75)], now).state == "ALARM"


def test_shift_schedules():
    canary = {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {
                "Type": "CANARY",
                "WaitIntervalInSeconds": 60,
                "CanarySize": {"Type": "INSTANCE_COUNT", "Value": 1},
            },
            "TerminationWaitInSeconds": 30,
        }
    }
    assert shift_schedule(canary, 4) == [Step(0.25, 60), Step(1.0, 30)]
    percent = {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {
                "Type": "CANARY",
                "WaitIntervalInSeconds": 5,
                "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 30},
            }
        }
    }
    assert shift_schedule(percent, 4) == [Step(0.5, 5), Step(1.0, 0)]  # ceil(1.2) = 2 instances
    linear = {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {
                "Type": "LINEAR",
                "WaitIntervalInSeconds": 10,
                "LinearStepSize": {"Type": "CAPACITY_PERCENT", "Value": 25},
            }
        }
    }
    assert shift_schedule(linear, 4) == [Step(0.25, 10), Step(0.5, 10), Step(0.75, 10), Step(1.0, 0)]
    assert shift_schedule(
        {
            "BlueGreenUpdatePolicy": {
                "TrafficRoutingConfiguration": {"Type": "ALL_AT_ONCE"},
                "TerminationWaitInSeconds": 7,
            }
        },
        3,
    ) == [Step(1.0, 7)]
    rolling = {
        "RollingUpdatePolicy": {
            "MaximumBatchSize": {"Type": "INSTANCE_COUNT", "Value": 2},
            "WaitIntervalInSeconds": 4,
        }
    }
    assert shift_schedule(rolling, 3) == [Step(2 / 3, 4), Step(1.0, 0)]


def test_deployment_config_checks():
    from sagestack.protocol.errors import ServiceError

    plan = {"Variants": [{"InstanceCount": 2}]}
    with pytest.raises(ServiceError, match="CanarySize"):
        check_deployment_config(
            {
                "BlueGreenUpdatePolicy": {
                    "TrafficRoutingConfiguration": {"Type": "CANARY", "WaitIntervalInSeconds": 1}
                }
            }
        )
    with pytest.raises(ServiceError, match="50%"):
        check_deployment_config(
            {
                "BlueGreenUpdatePolicy": {
                    "TrafficRoutingConfiguration": {
                        "Type": "CANARY",
                        "WaitIntervalInSeconds": 1,
                        "CanarySize": {"Type": "INSTANCE_COUNT", "Value": 2},
                    }
                }
            },
            plan,
        )
    with pytest.raises(ServiceError, match="LinearStepSize"):
        check_deployment_config(
            {
                "BlueGreenUpdatePolicy": {
                    "TrafficRoutingConfiguration": {
                        "Type": "LINEAR",
                        "WaitIntervalInSeconds": 1,
                        "LinearStepSize": {"Type": "CAPACITY_PERCENT", "Value": 80},
                    }
                }
            }
        )
