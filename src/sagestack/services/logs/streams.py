"""Log streams: create, describe (the SDK's log tailer pages these), delete."""

from __future__ import annotations

from ...store.logs import LogStream
from ..context import RequestContext
from ..registry import OperationTable
from .common import group_arn, group_name, page_limit, store
from .errors import invalid

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
    order_by, prefix = params.get("orderBy") or "LogStreamName", params.get("logStreamNamePrefix")
    name = group_name(params)
    if order_by == "LastEventTime" and prefix:
        raise invalid("Cannot order by LastEventTime with a logStreamNamePrefix.")
    streams, token = store(ctx).list_streams(
        ctx.account_id,
        ctx.region,
        name,
        prefix=prefix,
        order_by=order_by,
        descending=bool(params.get("descending")),
        limit=page_limit(params, 50, 50),
        token=params.get("nextToken"),
    )
    result: dict = {"logStreams": [describe_stream(s) for s in streams]}
    if token:  # never on the last page: SDK v2 re-calls while a token is present
        result["nextToken"] = token
    return result


def describe_stream(stream: LogStream) -> dict:
    return {
        "logStreamName": stream.name,
        "creationTime": stream.created_at,
        "firstEventTimestamp": stream.first_event_ts,
        "lastEventTimestamp": stream.last_event_ts,
        "lastIngestionTime": stream.last_ingestion_time,
        "uploadSequenceToken": f"{stream.sequence:056d}",
        "arn": f"{group_arn(stream.group)}:log-stream:{stream.name}",
        "storedBytes": 0,
    }
