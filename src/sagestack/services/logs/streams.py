"""Log streams: create, describe (the SDK's log tailer pages these), delete."""

from __future__ import annotations

from ..context import RequestContext
from ..registry import OperationTable
from .common import group_name, page_limit, store

OPERATIONS = OperationTable("logs")


@OPERATIONS.handler("CreateLogStream")
def create_log_stream(ctx: RequestContext, params: dict) -> dict:
    store(ctx).create_stream(ctx.account_id, ctx.region, params["logGroupName"], params["logStreamName"])
    return {}


@OPERATIONS.handler("DeleteLogStream")
def delete_log_stream(ctx: RequestContext, params: dict) -> dict:
    store(ctx).delete_stream(ctx.account_id, ctx.region, params["logGroupName"], params["logStreamName"])
    return {}


@OPERATIONS.handler("DescribeLogStreams")
def describe_log_streams(ctx: RequestContext, params: dict) -> dict:
    streams, token = store(ctx).list_streams(
        ctx.account_id, ctx.region, group_name(params), prefix=params.get("logStreamNamePrefix"),
        order_by=params.get("orderBy") or "LogStreamName", descending=bool(params.get("descending")),
        limit=page_limit(params, 50, 50), token=params.get("nextToken"))
    result: dict = {"logStreams": [s.describe() for s in streams]}
    if token:  # never on the last page: SDK v2 re-calls while a token is present
        result["nextToken"] = token
    return result
