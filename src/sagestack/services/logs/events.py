"""Log events: PutLogEvents, GetLogEvents, FilterLogEvents."""

from __future__ import annotations

import itertools

from ...store.logs.reads import EVENT_OVERHEAD
from ..context import RequestContext
from ..registry import OperationTable
from .common import group_name, page_limit, store
from .errors import invalid
from .filter_pattern import FilterPattern

OPERATIONS = OperationTable("logs")


@OPERATIONS.handler("PutLogEvents")
def put_log_events(ctx: RequestContext, params: dict) -> dict:
    # Sequence tokens are accepted and ignored, as AWS does since 2023.
    events = [(int(e["timestamp"]), e["message"]) for e in params["logEvents"]]
    _check_batch(events)
    result = store(ctx).put_events(
        ctx.account_id, ctx.region, params["logGroupName"], params["logStreamName"], events
    )
    out: dict = {"nextSequenceToken": f"{result.sequence:056d}"}
    if result.rejected:
        out["rejectedLogEventsInfo"] = result.rejected
    return out


@OPERATIONS.handler("GetLogEvents")
def get_log_events(ctx: RequestContext, params: dict) -> dict:
    page = store(ctx).get_events(
        ctx.account_id,
        ctx.region,
        group_name(params),
        params["logStreamName"],
        start_time=params.get("startTime"),
        end_time=params.get("endTime"),
        token=params.get("nextToken"),
        limit=page_limit(params, 10000, 10000),
        start_from_head=bool(params.get("startFromHead")),
    )
    return {
        "events": page.events,
        "nextForwardToken": page.forward_token,
        "nextBackwardToken": page.backward_token,
    }


@OPERATIONS.handler("FilterLogEvents")
def filter_log_events(ctx: RequestContext, params: dict) -> dict:
    names, prefix = params.get("logStreamNames"), params.get("logStreamNamePrefix")
    if names and prefix:
        raise invalid("logStreamNames and logStreamNamePrefix are mutually exclusive parameters.")
    start, end = params.get("startTime"), params.get("endTime")
    if start is not None and end is not None and end < start:
        raise invalid("endTime must be greater than or equal to startTime.")
    page = store(ctx).filter_events(
        ctx.account_id,
        ctx.region,
        group_name(params),
        stream_names=names,
        stream_prefix=prefix,
        start_time=start,
        end_time=end,
        pattern=FilterPattern.parse(params.get("filterPattern")).compile(),
        limit=page_limit(params, 10000, 10000),
        token=params.get("nextToken"),
    )
    result: dict = {
        "events": page.events,
        "searchedLogStreams": [
            {"logStreamName": n, "searchedCompletely": page.next_token is None} for n in page.searched_streams
        ],
    }
    if page.next_token:
        result["nextToken"] = page.next_token
    return result


def _check_batch(events: list[tuple[int, str]]) -> None:
    if not events:
        raise invalid("The batch of log events in a single PutLogEvents request cannot be empty.")
    timestamps = [ts for ts, _ in events]
    if any(b < a for a, b in itertools.pairwise(timestamps)):
        raise invalid("Log events in a single PutLogEvents request must be in chronological order.")
    if timestamps[-1] - timestamps[0] > 24 * 3600 * 1000:
        raise invalid("Log events in a single PutLogEvents request cannot span more than 24 hours.")
    size = sum(len(m.encode("utf-8")) + EVENT_OVERHEAD for _, m in events)
    if size > 1048576:
        raise invalid("Upload too large: the batch of log events exceeds 1,048,576 bytes.")
