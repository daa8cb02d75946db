"""DescribeScalingActivities: what the scaling loop did, newest first, as AWS records it
(Description "Setting desired instance count to N.", Cause "monitor alarm … in state ALARM triggered policy
…", StatusCode InProgress → Successful / Failed, StatusMessage)."""

from __future__ import annotations

from ..context import RequestContext
from ..registry import OperationTable
from .common import ACTIVITY, page, public, target_key

OPERATIONS = OperationTable("application-autoscaling")


@OPERATIONS.handler("DescribeScalingActivities")
def describe_scaling_activities(ctx: RequestContext, params: dict) -> dict:
    namespace = params["ServiceNamespace"]
    resource_id, dimension = params.get("ResourceId"), params.get("ScalableDimension")
    query: dict = {"sort_by": "CreationTime", "sort_order": "Descending"}
    if resource_id and dimension:
        query["parent"] = target_key(namespace, resource_id, dimension)
    rows, token = ctx.platform.resources.list(ctx.account_id, ctx.region, ACTIVITY, page(params, **query))
    activities = [public(r.data) for r in rows
                  if r.data["ServiceNamespace"] == namespace
                  and (not resource_id or r.data["ResourceId"] == resource_id)
                  and (not dimension or r.data["ScalableDimension"] == dimension)]
    result = {"ScalingActivities": activities}
    if token:
        result["NextToken"] = token
    return result
