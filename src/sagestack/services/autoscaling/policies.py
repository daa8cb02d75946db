"""PutScalingPolicy / DescribeScalingPolicies / DeleteScalingPolicy.

A target tracking policy creates its two CloudWatch alarms in the alarm store (``domain/scaling_alarms.py``)
with the policy's ARN as their action; deleting or replacing the policy deletes them. A step scaling
policy acts on whatever alarms name its ARN in their AlarmActions (PutMetricAlarm). The scaling loop
(``reconcilers/autoscaling.py``) runs the policies when their alarms are in ALARM.
"""

from __future__ import annotations

from ...domain.scaling_alarms import PREDEFINED, AlarmShape, tracking_alarms
from ...store.metrics import canonical_dimensions, metric_store
from ...store.resources import FieldFilter
from ..context import RequestContext
from ..registry import OperationTable
from .common import (
    POLICY,
    describe_target,
    get_target,
    listed,
    now,
    object_not_found,
    page,
    policy_arn,
    public,
    scope,
    target_key,
    validation,
)

OPERATIONS = OperationTable("application-autoscaling")
TYPES = ("StepScaling", "TargetTrackingScaling")


def _check_target_tracking(config: dict | None) -> dict:
    if not config:
        raise validation(
            "TargetTrackingScalingPolicyConfiguration is required for a TargetTrackingScaling policy."
        )
    predefined, custom = (
        config.get("PredefinedMetricSpecification"),
        config.get("CustomizedMetricSpecification"),
    )
    if bool(predefined) == bool(custom):
        raise validation(
            "Exactly one of PredefinedMetricSpecification and CustomizedMetricSpecification must be "
            "specified."
        )
    if predefined and predefined["PredefinedMetricType"] not in PREDEFINED:
        raise validation(
            f"Predefined metric type {predefined['PredefinedMetricType']} is not supported for "
            f"sagemaker:variant:DesiredInstanceCount by sagestack; use "
            f"SageMakerVariantInvocationsPerInstance or a CustomizedMetricSpecification."
        )
    if custom and not custom.get("Metrics") and not (custom.get("MetricName") and custom.get("Namespace")):
        raise validation("CustomizedMetricSpecification needs MetricName and Namespace, or Metrics.")
    if custom and custom.get("Metrics"):
        returned = [q for q in custom["Metrics"] if q.get("ReturnData", True)]
        if len(returned) != 1:
            raise validation("Exactly one of the metrics in CustomizedMetricSpecification must return data.")
    if float(config["TargetValue"]) <= 0:
        raise validation("TargetValue must be greater than 0.")
    config = dict(config)
    if custom and custom.get("Dimensions"):
        config["CustomizedMetricSpecification"] = dict(
            custom, Dimensions=canonical_dimensions(custom["Dimensions"])
        )
    return config


def _check_step(config: dict | None) -> dict:
    if not config or not config.get("StepAdjustments") or not config.get("AdjustmentType"):
        raise validation("StepScalingPolicyConfiguration needs AdjustmentType and StepAdjustments.")
    unbounded = 0
    for step in config["StepAdjustments"]:
        lower, upper = step.get("MetricIntervalLowerBound"), step.get("MetricIntervalUpperBound")
        if lower is None and upper is None:
            raise validation("A step adjustment needs MetricIntervalLowerBound or MetricIntervalUpperBound.")
        if lower is not None and upper is not None and lower >= upper:
            raise validation("MetricIntervalLowerBound must be less than MetricIntervalUpperBound.")
        unbounded += (lower is None) + (upper is None)
    if (
        config.get("MinAdjustmentMagnitude") is not None
        and config["AdjustmentType"] != "PercentChangeInCapacity"
    ):
        raise validation("MinAdjustmentMagnitude is only allowed with PercentChangeInCapacity.")
    return dict(config)


def _delete_alarms(ctx: RequestContext, policy: dict) -> None:
    names = [
        a["AlarmName"]
        for a in policy.get("Alarms") or []
        if policy.get("PolicyType") == "TargetTrackingScaling"
    ]
    if names:
        metric_store(ctx.platform).delete_alarms(ctx.account_id, ctx.region, names)


@OPERATIONS.handler("PutScalingPolicy")
def put_scaling_policy(ctx: RequestContext, params: dict) -> dict:
    namespace, resource_id, dimension = (
        params["ServiceNamespace"],
        params["ResourceId"],
        params["ScalableDimension"],
    )
    target = get_target(ctx, namespace, resource_id, dimension)
    name = params["PolicyName"]
    kind = params.get("PolicyType") or "StepScaling"
    if kind not in TYPES:
        raise validation(
            f"Unsupported policy type {kind} for {describe_target(namespace, resource_id, dimension)}."
        )
    resources = ctx.platform.resources
    key = f"{target.name}|{name}"
    existing = resources.get(ctx.account_id, ctx.region, POLICY, key)
    arn = existing.arn if existing is not None else policy_arn(ctx, namespace, resource_id, name)
    data = {
        "PolicyARN": arn,
        "PolicyName": name,
        "ServiceNamespace": namespace,
        "ResourceId": resource_id,
        "ScalableDimension": dimension,
        "PolicyType": kind,
        "CreationTime": existing.data["CreationTime"] if existing is not None else now(),
    }
    if kind == "TargetTrackingScaling":
        data["TargetTrackingScalingPolicyConfiguration"] = _check_target_tracking(
            params.get("TargetTrackingScalingPolicyConfiguration")
        )
    else:
        data["StepScalingPolicyConfiguration"] = _check_step(params.get("StepScalingPolicyConfiguration"))
    alarms_out = []
    if kind == "TargetTrackingScaling":
        shape = AlarmShape.parse(ctx.platform.settings.target_tracking_alarms)
        store = metric_store(ctx.platform)
        created = now().timestamp()
        for alarm in tracking_alarms(
            arn,
            resource_id,
            data["TargetTrackingScalingPolicyConfiguration"],
            shape,
            ctx.account_id,
            ctx.region,
        ):
            alarm.update(
                StateValue="INSUFFICIENT_DATA",
                StateReason="Unchecked: Initial alarm creation",
                StateUpdatedTimestamp=created,
                StateTransitionedTimestamp=created,
                AlarmConfigurationUpdatedTimestamp=created,
            )
            alarm["Dimensions"] = (
                canonical_dimensions(alarm.get("Dimensions")) if not alarm.get("Metrics") else None
            )
            store.save_alarm(ctx.account_id, ctx.region, alarm)
            alarms_out.append({"AlarmName": alarm["AlarmName"], "AlarmARN": alarm["AlarmArn"]})
        data["Alarms"] = alarms_out
    if existing is not None:
        _delete_alarms(ctx, existing.data)
        resources.update(existing, data)
    else:
        resources.create(
            ctx.account_id, ctx.region, POLICY, key, arn, data, status="Active", parent=target.name
        )
    result: dict = {"PolicyARN": arn}
    if alarms_out:
        result["Alarms"] = alarms_out
    return result


def _step_alarms(ctx: RequestContext, arn: str) -> list[dict]:
    found = []
    for account, region, alarm in metric_store(ctx.platform).all_alarms():
        if (account, region) == (ctx.account_id, ctx.region) and arn in (alarm.get("AlarmActions") or []):
            found.append({"AlarmName": alarm["AlarmName"], "AlarmARN": alarm["AlarmArn"]})
    return found


@OPERATIONS.handler("DescribeScalingPolicies")
def describe_scaling_policies(ctx: RequestContext, params: dict) -> dict:
    resource_id = params.get("ResourceId")
    fields = scope(params, [resource_id] if resource_id else None)
    if params.get("PolicyNames"):
        fields += (FieldFilter.any_of("PolicyName", params["PolicyNames"]),)
    rows, token = ctx.platform.resources.list(
        ctx.account_id,
        ctx.region,
        POLICY,
        page(params, fields=fields, sort_by="CreationTime", sort_order="Ascending"),
    )

    def render(data: dict) -> dict:
        data = public(data)
        if data["PolicyType"] == "StepScaling":
            data["Alarms"] = _step_alarms(ctx, data["PolicyARN"])
        return data

    return listed(rows, token, "ScalingPolicies", render)


def delete_policy_row(ctx: RequestContext, row) -> None:
    _delete_alarms(ctx, row.data)
    ctx.platform.resources.delete(ctx.account_id, ctx.region, POLICY, row.name)


@OPERATIONS.handler("DeleteScalingPolicy")
def delete_scaling_policy(ctx: RequestContext, params: dict) -> dict:
    namespace, resource_id, dimension = (
        params["ServiceNamespace"],
        params["ResourceId"],
        params["ScalableDimension"],
    )
    name = params["PolicyName"]
    row = ctx.platform.resources.get(
        ctx.account_id, ctx.region, POLICY, f"{target_key(namespace, resource_id, dimension)}|{name}"
    )
    if row is None:
        raise object_not_found(
            f"No scaling policy found for {describe_target(namespace, resource_id, dimension)}, "
            f"policy name: {name}"
        )
    delete_policy_row(ctx, row)
    return {}
