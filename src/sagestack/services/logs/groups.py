"""Log groups: create, describe, delete, retention."""

from __future__ import annotations

from ...store.logs import LogGroup
from ..context import RequestContext
from ..registry import OperationTable
from .common import group_arn, group_name, page_limit, store
from .errors import invalid

OPERATIONS = OperationTable("logs")
#: Retention periods PutRetentionPolicy accepts (days).
RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)


@OPERATIONS.handler("CreateLogGroup")
def create_log_group(ctx: RequestContext, params: dict) -> dict:
    store(ctx).create_group(
        ctx.account_id,
        ctx.region,
        params["logGroupName"],
        kms_key_id=params.get("kmsKeyId"),
        log_group_class=params.get("logGroupClass"),
        tags=params.get("tags"),
    )
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
        raise invalid(
            "logGroupIdentifiers cannot be combined with logGroupNamePrefix or logGroupNamePattern."
        )
    if names:
        names = [group_name({"logGroupIdentifier": n}) for n in names]
    groups, token = store(ctx).list_groups(
        ctx.account_id,
        ctx.region,
        prefix=prefix,
        pattern=pattern,
        group_class=params.get("logGroupClass"),
        names=names,
        limit=page_limit(params, 50, 50),
        token=params.get("nextToken"),
    )
    result: dict = {"logGroups": [describe_group(g) for g in groups]}
    if token:
        result["nextToken"] = token
    return result


@OPERATIONS.handler("PutRetentionPolicy")
def put_retention_policy(ctx: RequestContext, params: dict) -> dict:
    days = params["retentionInDays"]
    if days not in RETENTION_DAYS:
        raise invalid(
            f"1 validation error detected: Value '{days}' at 'retentionInDays' failed to "
            f"satisfy constraint: Member must satisfy enum value set: "
            f"[{', '.join(str(d) for d in RETENTION_DAYS)}]"
        )
    store(ctx).set_retention(ctx.account_id, ctx.region, params["logGroupName"], days)
    return {}


@OPERATIONS.handler("DeleteRetentionPolicy")
def delete_retention_policy(ctx: RequestContext, params: dict) -> dict:
    store(ctx).set_retention(ctx.account_id, ctx.region, params["logGroupName"], None)
    return {}


def describe_group(group: LogGroup) -> dict:
    arn = group_arn(group)
    return {
        "logGroupName": group.name,
        "creationTime": group.created_at,
        "retentionInDays": group.retention_days,
        "metricFilterCount": 0,
        "arn": arn + ":*",
        "logGroupArn": arn,
        "storedBytes": group.stored_bytes,
        "kmsKeyId": group.kms_key_id,
        "logGroupClass": group.log_group_class,
    }
