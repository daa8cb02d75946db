"""DescribeScalingActivities: what the scaling loop did, newest first, as AWS records it
(Description "Setting desired instance count to N.", Cause "monitor alarm … in state ALARM triggered policy
…", StatusCode InProgress → Successful / Failed, StatusMessage)."""

from __future__ import annotations

from ..context import RequestContext
from ..registry import OperationTable
from .common import ACTIVITY, listed, page, scope

OPERATIONS = OperationTable("application-autoscaling")


@OPERATIONS.handler("DescribeScalingActivities")
def describe_scaling_activities(ctx: RequestContext, params: dict) -> dict:
    resource_id = params.get("ResourceId")
    fields = scope(params, [resource_id] if resource_id else None)
    rows, token = ctx.platform.resources.list(
        ctx.account_id,
        ctx.region,
        ACTIVITY,
        page(params, fields=fields, sort_by="CreationTime", sort_order="Descending"),
    )
    return listed(rows, token, "ScalingActivities")
