"""The CloudWatch alarms a target tracking policy creates and manages (pure: descriptions in, alarms out).

As on AWS, each target tracking policy owns two alarms in the CloudWatch alarm store, visible through
DescribeAlarms and acting on the policy's ARN:

* ``TargetTracking-<resource id>-AlarmHigh-<uuid>``: metric > target for ``high`` consecutive periods;
* ``TargetTracking-<resource id>-AlarmLow-<uuid>``: metric < 90 % of the target for ``low`` periods
  (not created when scale-in is disabled).

AWS uses 60-second periods with 3 and 15 datapoints; the platform setting ``target_tracking_alarms``
("period,high,low") says which shape this server uses.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

SCALE_IN_RATIO = 0.9

#: Predefined metric type → (namespace, metric name, statistic) for SageMaker variants.
PREDEFINED = {
    "SageMakerVariantInvocationsPerInstance": ("AWS/SageMaker", "InvocationsPerInstance", "Sum"),
}


@dataclass(frozen=True)
class AlarmShape:
    period: int = 60
    high: int = 3
    low: int = 15

    @classmethod
    def parse(cls, text: str | None) -> AlarmShape:
        if not text:
            return cls()
        period, high, low = (int(part) for part in text.split(","))
        if not (period in (10, 20, 30) or (period >= 60 and period % 60 == 0)) or high < 1 or low < 1:
            raise ValueError(
                f"target_tracking_alarms must be 'period,high,low' with a valid alarm period: {text}"
            )
        return cls(period, high, low)


def variant_dimensions(resource_id: str) -> list[dict]:
    """``endpoint/<ep>/variant/<v>`` → the EndpointName/VariantName dimensions."""
    parts = resource_id.split("/")
    return [{"Name": "EndpointName", "Value": parts[1]}, {"Name": "VariantName", "Value": parts[3]}]


def metric_fields(config: dict, resource_id: str, period: int) -> dict:
    """The metric part of a PutMetricAlarm description for a target tracking configuration."""
    predefined = config.get("PredefinedMetricSpecification")
    if predefined:
        namespace, name, statistic = PREDEFINED[predefined["PredefinedMetricType"]]
        return {
            "Namespace": namespace,
            "MetricName": name,
            "Statistic": statistic,
            "Dimensions": variant_dimensions(resource_id),
            "Period": period,
        }
    custom = config["CustomizedMetricSpecification"]
    if custom.get("Metrics"):
        queries = []
        for query in custom["Metrics"]:
            item = {k: v for k, v in query.items() if k in ("Id", "Expression", "Label", "ReturnData")}
            if query.get("MetricStat"):
                stat = query["MetricStat"]
                item["MetricStat"] = {"Metric": stat["Metric"], "Stat": stat["Stat"], "Period": period}
                if stat.get("Unit"):
                    item["MetricStat"]["Unit"] = stat["Unit"]
            queries.append(item)
        return {"Metrics": queries}
    fields = {
        "Namespace": custom["Namespace"],
        "MetricName": custom["MetricName"],
        "Statistic": custom.get("Statistic") or "Average",
        "Dimensions": custom.get("Dimensions") or [],
        "Period": period,
    }
    if custom.get("Unit"):
        fields["Unit"] = custom["Unit"]
    return fields


def tracking_alarms(
    policy_arn: str, resource_id: str, config: dict, shape: AlarmShape, account: str, region: str
) -> list[dict]:
    """The alarm descriptions (as PutMetricAlarm would store them) for a target tracking policy."""
    target = float(config["TargetValue"])
    metric = metric_fields(config, resource_id, shape.period)
    description = f"DO NOT EDIT OR DELETE. For TargetTrackingScaling policy {policy_arn}."
    alarms = []
    kinds = [("AlarmHigh", shape.high, target, "GreaterThanThreshold")]
    if not config.get("DisableScaleIn"):
        kinds.append(("AlarmLow", shape.low, round(target * SCALE_IN_RATIO, 6), "LessThanThreshold"))
    for kind, periods, threshold, operator in kinds:
        name = f"TargetTracking-{resource_id}-{kind}-{uuid.uuid4()}"
        alarm = dict(metric)
        alarm.update(
            AlarmName=name,
            AlarmArn=f"arn:aws:cloudwatch:{region}:{account}:alarm:{name}",
            AlarmDescription=description,
            ActionsEnabled=True,
            OKActions=[],
            AlarmActions=[policy_arn],
            InsufficientDataActions=[],
            EvaluationPeriods=periods,
            DatapointsToAlarm=periods,
            Threshold=threshold,
            ComparisonOperator=operator,
        )
        alarms.append(alarm)
    return alarms
