"""RegisterScalableTarget / DescribeScalableTargets / DeregisterScalableTarget.

A target is stored once per (namespace, resource, dimension). Registering again updates its min/max and
suspension; when the resource's capacity lies outside [min, max], the scaling loop moves it inside (an
activity whose cause reads "minimum capacity was set to N"), as Application Auto Scaling does.
"""

from __future__ import annotations

from ...store.resources import ListQuery
from ..context import RequestContext
from ..registry import OperationTable
from ..tags import tag_list
from .common import (
    POLICY,
    TARGET,
    check_target,
    get_target,
    listed,
    new_target_arn,
    now,
    page,
    scope,
    target_key,
    validation,
)

OPERATIONS = OperationTable("application-autoscaling")
SERVICE_ROLE = (
    "role/aws-service-role/sagemaker.application-autoscaling.amazonaws.com/"
    "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint"
)


@OPERATIONS.handler("RegisterScalableTarget")
def register_scalable_target(ctx: RequestContext, params: dict) -> dict:
    namespace, resource_id, dimension = (
        params["ServiceNamespace"],
        params["ResourceId"],
        params["ScalableDimension"],
    )
    check_target(ctx, namespace, resource_id, dimension)
    resources = ctx.platform.resources
    key = target_key(namespace, resource_id, dimension)
    existing = resources.get(ctx.account_id, ctx.region, TARGET, key)
    minimum = params.get("MinCapacity")
    maximum = params.get("MaxCapacity")
    if existing is None and (minimum is None or maximum is None):
        raise validation("MinCapacity and MaxCapacity are required for registering a new scalable target.")
    if existing is not None:
        minimum = existing.data["MinCapacity"] if minimum is None else minimum
        maximum = existing.data["MaxCapacity"] if maximum is None else maximum
    if minimum < 0 or maximum < 0:
        raise validation("MinCapacity and MaxCapacity must not be negative.")
    if minimum > maximum:
        raise validation(f"Minimum capacity ({minimum}) cannot be greater than maximum capacity ({maximum}).")
    if existing is not None:
        data = dict(existing.data, MinCapacity=int(minimum), MaxCapacity=int(maximum))
        if params.get("SuspendedState") is not None:
            data["SuspendedState"] = dict(data.get("SuspendedState") or {}, **params["SuspendedState"])
        if params.get("RoleARN"):
            data["RoleARN"] = params["RoleARN"]
        resources.update(existing, data)
        if params.get("Tags"):
            resources.add_tags(existing.arn, tag_list(params["Tags"]))
        return {"ScalableTargetARN": existing.arn}
    arn = new_target_arn(ctx)
    suspended = {
        "DynamicScalingInSuspended": False,
        "DynamicScalingOutSuspended": False,
        "ScheduledScalingSuspended": False,
    }
    suspended.update(params.get("SuspendedState") or {})
    data = {
        "ServiceNamespace": namespace,
        "ResourceId": resource_id,
        "ScalableDimension": dimension,
        "MinCapacity": int(minimum),
        "MaxCapacity": int(maximum),
        "RoleARN": params.get("RoleARN") or ctx.arn("iam", SERVICE_ROLE).replace(f":{ctx.region}:", "::"),
        "CreationTime": now(),
        "SuspendedState": suspended,
        "ScalableTargetARN": arn,
    }
    tags = tag_list(params.get("Tags"))
    resources.create(ctx.account_id, ctx.region, TARGET, key, arn, data, status="Registered", tag_list=tags)
    return {"ScalableTargetARN": arn}


@OPERATIONS.handler("DescribeScalableTargets")
def describe_scalable_targets(ctx: RequestContext, params: dict) -> dict:
    rows, token = ctx.platform.resources.list(
        ctx.account_id,
        ctx.region,
        TARGET,
        page(
            params,
            fields=scope(params, params.get("ResourceIds")),
            sort_by="CreationTime",
            sort_order="Ascending",
        ),
    )
    return listed(rows, token, "ScalableTargets")


@OPERATIONS.handler("DeregisterScalableTarget")
def deregister_scalable_target(ctx: RequestContext, params: dict) -> dict:
    namespace, resource_id, dimension = (
        params["ServiceNamespace"],
        params["ResourceId"],
        params["ScalableDimension"],
    )
    row = get_target(ctx, namespace, resource_id, dimension)
    from .policies import delete_policy_row

    policies, _ = ctx.platform.resources.list(
        ctx.account_id, ctx.region, POLICY, ListQuery(parent=row.name, max_results=1000)
    )
    for policy in policies:
        delete_policy_row(ctx, policy)
    ctx.platform.resources.delete(ctx.account_id, ctx.region, TARGET, row.name)
    return {}
