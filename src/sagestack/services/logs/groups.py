"""Log groups: create, describe, delete, retention."""

from __future__ import annotations

from ...store.logs import invalid
from ..context import RequestContext
from ..registry import OperationTable
from .common import group_name, page_limit, store

OPERATIONS = OperationTable("logs")


@OPERATIONS.handler("CreateLogGroup")
def create_log_group(ctx: RequestContext, params: dict) -> dict:
    store(ctx).create_group(ctx.account_id, ctx.region, params["logGroupName"],
                            kms_key_id=params.get("kmsKeyId"),
                            log_group_class=params.get("logGroupClass"), tags=params.get("tags"))
    return {}


@OPERATIONS.handler("DeleteLogGroup")
def delete_log_group(ctx: RequestContext, params: dict) -> dict:
    store(ctx).delete_group(ctx.account_id, ctx.region, params["logGroupName"])
    return {}


@OPERATIONS.handler("DescribeLogGroups")
def describe_log_groups(ctx: RequestContext, params: dict) -> dict:
    prefix, pattern = params.get("logGroupNamePrefix"), params.get("logGroupNamePattern")
    names = params.get("logGroupIdentifiers")
    if prefix and pattern:
        raise invalid("LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters.")
    if names and (prefix or pattern):
        raise invalid("logGroupIdentifiers cannot be combined with logGroupNamePrefix or "
                      "logGroupNamePattern.")
    if names:
        names = [group_name({"logGroupIdentifier": n}) for n in names]
    groups, token = store(ctx).list_groups(
        ctx.account_id, ctx.region, prefix=prefix, pattern=pattern,
        group_class=params.get("logGroupClass"), names=names,
        limit=page_limit(params, 50, 50), token=params.get("nextToken"))
    result: dict = {"logGroups": [g.describe() for g in groups]}
    if token:
        result["nextToken"] = token
    return result


@OPERATIONS.handler("PutRetentionPolicy")
def put_retention_policy(ctx: RequestContext, params: dict) -> dict:
    store(ctx).set_retention(ctx.account_id, ctx.region, params["logGroupName"],
                             params["retentionInDays"])
    return {}


@OPERATIONS.handler("DeleteRetentionPolicy")
def delete_retention_policy(ctx: RequestContext, params: dict) -> dict:
    store(ctx).set_retention(ctx.account_id, ctx.region, params["logGroupName"], None)
    return {}
