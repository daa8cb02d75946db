"""SQS messages: send (one, batch), receive (long polling awaits on the event loop, never holding a
worker thread), delete (one, batch), change visibility (one, batch)."""

from __future__ import annotations

import asyncio
import base64
import re
import time
from collections.abc import Callable

from ...domain import queues
from ...domain.queues import QueueError
from ...store.queues import Message
from ...store.resources import Resource
from ..context import RequestContext
from ..registry import OperationTable
from .common import error_of, errors, queue_of, sqs_error

OPERATIONS = OperationTable("sqs", errors)
BATCH_ID = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
POLL_INTERVAL = 0.2


def _sent(message: Message, fifo: bool) -> dict:
    out = {"MessageId": message.id, "MD5OfMessageBody": queues.md5_of_body(message.body)}
    if message.attributes.get("MD5OfMessageAttributes"):
        out["MD5OfMessageAttributes"] = message.attributes["MD5OfMessageAttributes"]
    if fifo:
        out["SequenceNumber"] = f"{message.seq:020d}"
    return out


def _send_one(ctx: RequestContext, queue, entry: dict) -> Message:
    return queues.send(
        ctx.platform,
        queue,
        entry.get("MessageBody"),
        delay=entry.get("DelaySeconds"),
        message_attributes=entry.get("MessageAttributes"),
        group_id=entry.get("MessageGroupId"),
        dedup_id=entry.get("MessageDeduplicationId"),
        sender=ctx.access_key_id,
    )


def _fifo(queue) -> bool:
    return queue.data["Attributes"].get("FifoQueue") == "true"


@OPERATIONS.handler("SendMessage")
def send_message(ctx: RequestContext, params: dict) -> dict:
    queue = queue_of(ctx, params)
    return _sent(_send_one(ctx, queue, params), _fifo(queue))


def _check_batch(entries: list[dict]) -> None:
    if not entries:
        raise sqs_error(
            "EmptyBatchRequest", "There should be at least one SendMessageBatchRequestEntry in the request."
        )
    if len(entries) > 10:
        raise sqs_error(
            "TooManyEntries", f"Maximum number of entries per request are 10. You have sent {len(entries)}."
        )
    ids = [e.get("Id", "") for e in entries]
    for entry_id in ids:
        if not BATCH_ID.match(entry_id):
            raise sqs_error(
                "InvalidBatchEntryId",
                "A batch entry id can only contain alphanumeric characters, hyphens and underscores. "
                "It can be at most 80 letters long.",
            )
    if len(set(ids)) != len(ids):
        raise sqs_error("BatchIdsNotDistinct", "Two or more batch entries in the request have the same Id.")


def _failed(entry_id: str, exc: QueueError) -> dict:
    error = error_of(exc)
    return {
        "Id": entry_id,
        "SenderFault": True,
        "Code": error.code.rsplit("#", 1)[-1],
        "Message": exc.message,
    }


def _batch(ctx: RequestContext, params: dict, one: Callable[[Resource, dict], dict]) -> dict:
    """What the *Batch operations share: the entries checked as a whole, then ``one(queue, entry)`` for
    each, its QueueError answered as that entry's failure."""
    queue = queue_of(ctx, params)
    entries = params.get("Entries") or []
    _check_batch(entries)
    ok, failed = [], []
    for entry in entries:
        try:
            ok.append({"Id": entry["Id"], **one(queue, entry)})
        except QueueError as exc:
            failed.append(_failed(entry["Id"], exc))
    return {"Successful": ok, "Failed": failed}


@OPERATIONS.handler("SendMessageBatch")
def send_message_batch(ctx: RequestContext, params: dict) -> dict:
    return _batch(ctx, params, lambda queue, entry: _sent(_send_one(ctx, queue, entry), _fifo(queue)))


def _wanted(names: list[str], key: str) -> bool:
    for name in names:
        if name in ("All", ".*") or name == key or (name.endswith(".*") and key.startswith(name[:-1])):
            return True
    return False


def _received(message: Message, system_names: list[str], attribute_names: list[str]) -> dict:
    out: dict = {
        "MessageId": message.id,
        "ReceiptHandle": message.receipt,
        "MD5OfBody": queues.md5_of_body(message.body),
        "Body": message.body,
    }
    system = {
        "SenderId": message.attributes.get("SenderId", message.account_id),
        "SentTimestamp": str(int(message.sent_at * 1000)),
        "ApproximateReceiveCount": str(message.receive_count),
        "ApproximateFirstReceiveTimestamp": str(int((message.first_received_at or message.sent_at) * 1000)),
    }
    if message.group_id:
        system.update(
            MessageGroupId=message.group_id,
            MessageDeduplicationId=message.dedup_id or "",
            SequenceNumber=f"{message.seq:020d}",
        )
    picked = {k: v for k, v in system.items() if _wanted(system_names, k)}
    if picked:
        out["Attributes"] = picked
    stored = message.attributes.get("MessageAttributes") or {}
    chosen = {k: v for k, v in stored.items() if _wanted(attribute_names, k)}
    if chosen:
        out["MD5OfMessageAttributes"] = queues.md5_of_attributes(chosen)
        out["MessageAttributes"] = {
            k: (
                {"DataType": v["DataType"], "BinaryValue": base64.b64decode(v["BinaryValue"])}
                if "BinaryValue" in v
                else v
            )
            for k, v in chosen.items()
        }
    return out


@OPERATIONS.handler("ReceiveMessage")
async def receive_message(ctx: RequestContext, params: dict) -> dict:
    queue = await asyncio.to_thread(queue_of, ctx, params)
    limit = params.get("MaxNumberOfMessages", 1)
    if not 1 <= limit <= 10:
        raise QueueError(
            "InvalidParameter",
            f"Value {limit} for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided.",
        )
    wait = params.get("WaitTimeSeconds")
    if wait is None:
        wait = queues.config_int(queue, "ReceiveMessageWaitTimeSeconds")
    if not 0 <= wait <= 20:
        raise QueueError(
            "InvalidParameter",
            f"Value {wait} for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, if provided.",
        )
    visibility = params.get("VisibilityTimeout")
    if visibility is not None and not 0 <= visibility <= 43200:
        raise QueueError(
            "InvalidParameter",
            f"Value {visibility} for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and 43200.",
        )
    system_names = list(params.get("MessageSystemAttributeNames") or []) + list(
        params.get("AttributeNames") or []
    )
    attribute_names = params.get("MessageAttributeNames") or []
    deadline = time.monotonic() + wait
    while True:
        messages = await asyncio.to_thread(queues.receive, ctx.platform, queue, limit, visibility)
        if messages or time.monotonic() >= deadline or ctx.platform.draining:
            break
        await asyncio.sleep(min(POLL_INTERVAL, max(0.0, deadline - time.monotonic())))
    if not messages:
        return {}
    return {"Messages": [_received(m, system_names, attribute_names) for m in messages]}


@OPERATIONS.handler("DeleteMessage")
def delete_message(ctx: RequestContext, params: dict) -> dict:
    queues.delete_message(ctx.platform, queue_of(ctx, params), params.get("ReceiptHandle") or "")
    return {}


@OPERATIONS.handler("DeleteMessageBatch")
def delete_message_batch(ctx: RequestContext, params: dict) -> dict:
    def delete(queue: Resource, entry: dict) -> dict:
        queues.delete_message(ctx.platform, queue, entry.get("ReceiptHandle") or "")
        return {}

    return _batch(ctx, params, delete)


@OPERATIONS.handler("ChangeMessageVisibility")
def change_message_visibility(ctx: RequestContext, params: dict) -> dict:
    queues.change_visibility(
        ctx.platform, queue_of(ctx, params), params.get("ReceiptHandle") or "", params["VisibilityTimeout"]
    )
    return {}


@OPERATIONS.handler("ChangeMessageVisibilityBatch")
def change_message_visibility_batch(ctx: RequestContext, params: dict) -> dict:
    def change(queue: Resource, entry: dict) -> dict:
        receipt = entry.get("ReceiptHandle") or ""
        queues.change_visibility(ctx.platform, queue, receipt, entry.get("VisibilityTimeout", 0))
        return {}

    return _batch(ctx, params, change)
