"""SQS queues: create, look up, list, delete, purge, attributes, tags."""

from __future__ import annotations

from ...domain import queues
from ...store.resources import FieldFilter, ListQuery
from ..context import RequestContext
from ..registry import OperationTable
from ..tags import tag_list, tag_map
from .common import errors, queue_of, sqs_error, url_of

OPERATIONS = OperationTable("sqs", errors)


@OPERATIONS.handler("CreateQueue")
def create_queue(ctx: RequestContext, params: dict) -> dict:
    queue = queues.create_queue(
        ctx.platform,
        ctx.account_id,
        ctx.region,
        params["QueueName"],
        params.get("Attributes"),
        params.get("tags"),
    )
    return {"QueueUrl": url_of(ctx, queue)}


@OPERATIONS.handler("GetQueueUrl")
def get_queue_url(ctx: RequestContext, params: dict) -> dict:
    owner = params.get("QueueOwnerAWSAccountId") or ctx.account_id
    queue = ctx.platform.resources.get(owner, ctx.region, queues.TYPE, params["QueueName"])
    if queue is None:
        raise sqs_error("NotFound", "The specified queue does not exist.")
    return {"QueueUrl": url_of(ctx, queue)}


@OPERATIONS.handler("ListQueues")
def list_queues(ctx: RequestContext, params: dict) -> dict:
    prefix = params.get("QueueNamePrefix")
    limit = params.get("MaxResults")
    if limit is not None and not 1 <= limit <= 1000:
        raise sqs_error(
            "InvalidParameter",
            "Value for parameter MaxResults is invalid. Reason: must be between 1 and 1000.",
        )
    query = ListQuery(
        fields=(FieldFilter.starts_with("QueueName", prefix),) if prefix else (),
        sort_by="Name",
        sort_order="Ascending",
        max_results=limit or 1000,
        next_token=params.get("NextToken"),
    )
    rows, token = ctx.platform.resources.list(ctx.account_id, ctx.region, queues.TYPE, query)
    out: dict = {"QueueUrls": [url_of(ctx, row) for row in rows]}
    if token and limit:
        out["NextToken"] = token
    return out


@OPERATIONS.handler("DeleteQueue")
def delete_queue(ctx: RequestContext, params: dict) -> dict:
    queues.delete_queue(ctx.platform, queue_of(ctx, params))
    return {}


@OPERATIONS.handler("PurgeQueue")
def purge_queue(ctx: RequestContext, params: dict) -> dict:
    queues.purge(ctx.platform, queue_of(ctx, params))
    return {}


@OPERATIONS.handler("GetQueueAttributes")
def get_queue_attributes(ctx: RequestContext, params: dict) -> dict:
    queue = queue_of(ctx, params)
    attributes = queues.attributes_of(ctx.platform, queue, params.get("AttributeNames"))
    return {"Attributes": attributes} if attributes else {}


@OPERATIONS.handler("SetQueueAttributes")
def set_queue_attributes(ctx: RequestContext, params: dict) -> dict:
    queues.set_attributes(ctx.platform, queue_of(ctx, params), params.get("Attributes") or {})
    return {}


@OPERATIONS.handler("TagQueue")
def tag_queue(ctx: RequestContext, params: dict) -> dict:
    queue = queue_of(ctx, params)
    ctx.platform.resources.add_tags(queue.arn, tag_list(params.get("Tags")))
    return {}


@OPERATIONS.handler("UntagQueue")
def untag_queue(ctx: RequestContext, params: dict) -> dict:
    queue = queue_of(ctx, params)
    ctx.platform.resources.delete_tags(queue.arn, params.get("TagKeys") or [])
    return {}


@OPERATIONS.handler("ListQueueTags")
def list_queue_tags(ctx: RequestContext, params: dict) -> dict:
    queue = queue_of(ctx, params)
    tags = tag_map(ctx.platform.resources.list_tags(queue.arn))
    return {"Tags": tags} if tags else {}
