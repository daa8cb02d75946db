"""Message queues (SQS): the queue record, its attributes, and sending/receiving messages.

A queue is a resource of type ``sqs-queue`` named by its queue name; its configuration attributes are
its description. Messages live in ``store.queues``. :func:`send_message` is the entry point other parts
of the server use (scheduler targets, pipeline callback steps): it takes a queue URL or ARN.

Errors are :class:`QueueError` with a neutral ``kind``; the SQS service words them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct
import time
import uuid
from urllib.parse import urlparse

from ..store.errors import AlreadyExists
from ..store.queues import Message, queue_message_store, receipt_message_id
from ..store.resources import Resource
from .state import mutate

TYPE = "sqs-queue"

#: The configuration attributes a queue has, with SQS's defaults (strings, as SQS answers them).
DEFAULTS = {
    "VisibilityTimeout": "30",
    "MessageRetentionPeriod": "345600",
    "DelaySeconds": "0",
    "MaximumMessageSize": "262144",
    "ReceiveMessageWaitTimeSeconds": "0",
    "SqsManagedSseEnabled": "true",
}
#: name → (lowest, highest) for the numeric attributes.
RANGES = {
    "VisibilityTimeout": (0, 43200),
    "MessageRetentionPeriod": (60, 1209600),
    "DelaySeconds": (0, 900),
    "MaximumMessageSize": (1024, 262144),
    "ReceiveMessageWaitTimeSeconds": (0, 20),
}
SETTABLE = set(DEFAULTS) | {
    "Policy",
    "RedrivePolicy",
    "RedriveAllowPolicy",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "FifoThroughputLimit",
}
CREATE_ONLY = {"FifoQueue"}
READ_ONLY = {
    "QueueArn",
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
    "CreatedTimestamp",
    "LastModifiedTimestamp",
}
FIFO_DEDUP_WINDOW = 300.0


class QueueError(Exception):
    """``kind``: NotFound, NameExists, InvalidAttributeName, InvalidAttributeValue, InvalidParameter,
    MissingParameter, ReceiptHandleIsInvalid, MessageNotInflight, MessageTooLong."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind
        self.message = message


# -- names and addresses -------------------------------------------------------------------------


def queue_arn(account: str, region: str, name: str) -> str:
    return f"arn:aws:sqs:{region}:{account}:{name}"


def queue_url(endpoint: str, account: str, name: str) -> str:
    return f"{endpoint.rstrip('/')}/{account}/{name}"


def parse_queue_ref(ref: str) -> tuple[str | None, str]:
    """(account or None, queue name) from a queue URL (any host), an ARN or a bare name."""
    ref = (ref or "").strip()
    if ref.startswith("arn:"):
        parts = ref.split(":")
        if len(parts) != 6 or parts[2] != "sqs":
            raise QueueError("NotFound", "The specified queue does not exist.")
        return parts[4], parts[5]
    if "://" in ref:
        path = [p for p in urlparse(ref).path.split("/") if p]
        if len(path) != 2:
            raise QueueError("NotFound", "The specified queue does not exist.")
        return path[0], path[1]
    return None, ref


def url_region(ref: str) -> str | None:
    """The region an AWS-style queue URL (``https://sqs.<region>.amazonaws.com/…``) or an ARN names."""
    if ref.startswith("arn:"):
        return ref.split(":")[3] or None
    host = urlparse(ref).hostname or "" if "://" in ref else ""
    parts = host.split(".")
    if len(parts) >= 4 and parts[0] == "sqs" and parts[-2:] == ["amazonaws", "com"]:
        return parts[1]
    return None


def valid_name(name: str) -> bool:
    base = name[:-5] if name.endswith(".fifo") else name
    return 0 < len(name) <= 80 and bool(base) and all(c.isalnum() or c in "-_" for c in base)


# -- attributes ----------------------------------------------------------------------------------


def check_attributes(attributes: dict[str, str], creating: bool, fifo: bool) -> dict[str, str]:
    """The attributes as stored (strings), or QueueError for an unknown name or bad value."""
    out = {}
    for name, value in (attributes or {}).items():
        value = str(value)
        if name in CREATE_ONLY and not creating:
            raise QueueError("InvalidAttributeName", f"Unknown Attribute {name}.")
        if name not in SETTABLE and name not in CREATE_ONLY:
            raise QueueError("InvalidAttributeName", f"Unknown Attribute {name}.")
        if name in RANGES:
            low, high = RANGES[name]
            try:
                number = int(value)
            except ValueError:
                number = None
            if number is None or not low <= number <= high:
                raise QueueError("InvalidAttributeValue", f"Invalid value for the parameter {name}.")
        if name in ("FifoQueue", "ContentBasedDeduplication", "SqsManagedSseEnabled"):
            if value.lower() not in ("true", "false"):
                raise QueueError("InvalidAttributeValue", f"Invalid value for the parameter {name}.")
            value = value.lower()
        if name == "RedrivePolicy":
            value = check_redrive_policy(value)
        if name == "ContentBasedDeduplication" and not fifo:
            raise QueueError("InvalidAttributeName", f"Unknown Attribute {name}.")
        out[name] = value
    return out


def create_queue(
    platform, account: str, region: str, name: str, attributes: dict | None, tags: dict | None
) -> Resource:
    """The queue (created, or the existing one when its attributes are the same)."""
    if not valid_name(name):
        raise QueueError(
            "InvalidParameter",
            "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length",
        )
    attributes = dict(attributes or {})
    fifo = name.endswith(".fifo")
    if attributes.get("FifoQueue", "false").lower() == "true" and not fifo:
        raise QueueError(
            "InvalidParameter",
            "The name of a FIFO queue can only include alphanumeric "
            "characters, hyphens, or underscores, must end with .fifo suffix",
        )
    if fifo and attributes.get("FifoQueue", "true").lower() != "true":
        raise QueueError("InvalidAttributeValue", "Invalid value for the parameter FifoQueue.")
    stored = check_attributes(attributes, creating=True, fifo=fifo)
    config = dict(DEFAULTS, **stored)
    if fifo:
        config["FifoQueue"] = "true"
        config.setdefault("ContentBasedDeduplication", "false")
        config.setdefault("DeduplicationScope", "queue")
        config.setdefault("FifoThroughputLimit", "perQueue")
    now = time.time()
    data = {
        "QueueName": name,
        "Attributes": config,
        "CreatedTimestamp": int(now),
        "LastModifiedTimestamp": int(now),
    }
    arn = queue_arn(account, region, name)
    try:
        return platform.resources.create(
            account,
            region,
            TYPE,
            name,
            arn,
            data,
            tag_list=[{"Key": k, "Value": v} for k, v in (tags or {}).items()],
        )
    except AlreadyExists:
        existing = platform.resources.get(account, region, TYPE, name)
        if existing is None:
            raise QueueError("NameExists", f"A queue already exists with the same name {name}") from None
        current = existing.data["Attributes"]
        if any(current.get(k) != v for k, v in stored.items()):
            raise QueueError(
                "NameExists", "A queue already exists with the same name and a different value for attribute"
            ) from None
        return existing


def get_queue(platform, account: str, region: str, ref: str) -> Resource:
    """The queue a URL, ARN or name refers to (QueueError NotFound when there is none)."""
    owner, name = parse_queue_ref(ref)
    queue = platform.resources.get(owner or account, region, TYPE, name)
    if queue is None:
        raise QueueError("NotFound", "The specified queue does not exist.")
    return queue


def attributes_of(platform, queue: Resource, names: list[str] | None) -> dict[str, str]:
    """The attributes ``names`` asks for (``All`` for every one)."""
    wanted = set(names or [])
    if not wanted:
        return {}
    config = queue.data["Attributes"]
    counts = queue_message_store(platform).counts(queue.account_id, queue.region, queue.name)
    everything = dict(config)
    everything.update(
        QueueArn=queue.arn,
        ApproximateNumberOfMessages=str(counts.visible),
        ApproximateNumberOfMessagesNotVisible=str(counts.in_flight),
        ApproximateNumberOfMessagesDelayed=str(counts.delayed),
        CreatedTimestamp=str(queue.data["CreatedTimestamp"]),
        LastModifiedTimestamp=str(queue.data["LastModifiedTimestamp"]),
    )
    if "All" in wanted:
        return everything
    unknown = wanted - set(everything) - SETTABLE - CREATE_ONLY - READ_ONLY
    if unknown:
        raise QueueError("InvalidAttributeName", f"Unknown Attribute {sorted(unknown)[0]}.")
    return {k: v for k, v in everything.items() if k in wanted}


def set_attributes(platform, queue: Resource, attributes: dict[str, str]) -> None:
    fifo = queue.data["Attributes"].get("FifoQueue") == "true"
    stored = check_attributes(attributes, creating=False, fifo=fifo)

    def change(resource: Resource) -> None:
        resource.data["Attributes"].update(stored)
        resource.data["LastModifiedTimestamp"] = int(time.time())

    mutate(platform.resources, queue.account_id, queue.region, TYPE, queue.name, change)


def delete_queue(platform, queue: Resource) -> None:
    queue_message_store(platform).purge(queue.account_id, queue.region, queue.name)
    platform.resources.delete(queue.account_id, queue.region, TYPE, queue.name)


def config_int(queue: Resource, name: str) -> int:
    return int(queue.data["Attributes"].get(name, DEFAULTS.get(name, "0")))


# -- checksums (as SQS computes them; SDKs verify them) ------------------------------------------


def md5_of_body(body: str) -> str:
    return hashlib.md5(body.encode("utf-8")).hexdigest()


def md5_of_attributes(attributes: dict[str, dict]) -> str | None:
    """SQS's MD5 of message attributes: per attribute in name order, length-prefixed name, data type,
    a transport byte (1 string, 2 binary) and the length-prefixed value."""
    if not attributes:
        return None
    digest = hashlib.md5()

    def put(data: bytes) -> None:
        digest.update(struct.pack("!I", len(data)))
        digest.update(data)

    for name in sorted(attributes):
        value = attributes[name]
        put(name.encode("utf-8"))
        put(value["DataType"].encode("utf-8"))
        if value.get("BinaryValue") is not None:
            digest.update(b"\x02")
            put(_binary(value["BinaryValue"]))
        else:
            digest.update(b"\x01")
            put(str(value.get("StringValue", "")).encode("utf-8"))
    return digest.hexdigest()


def _binary(value) -> bytes:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    return base64.b64decode(value)


def check_message_attributes(attributes: dict | None) -> dict[str, dict]:
    """Message attributes as stored (binary values base64 text), or QueueError."""
    out = {}
    for name, value in (attributes or {}).items():
        data_type = (value or {}).get("DataType")
        if not data_type:
            raise QueueError(
                "InvalidParameter",
                f"The message attribute '{name}' must contain non-empty message attribute type.",
            )
        base = data_type.split(".", 1)[0]
        if base not in ("String", "Number", "Binary"):
            raise QueueError(
                "InvalidParameter",
                f"The message attribute '{name}' has an invalid message attribute type, the set of supported "
                "type prefixes is Binary, Number, and String.",
            )
        if base == "Binary":
            if value.get("BinaryValue") is None:
                raise QueueError(
                    "InvalidParameter",
                    f"The message attribute '{name}' must contain non-empty message attribute value for message attribute type '{data_type}'.",
                )
            out[name] = {
                "DataType": data_type,
                "BinaryValue": base64.b64encode(_binary(value["BinaryValue"])).decode(),
            }
        else:
            text = value.get("StringValue")
            if text is None or text == "":
                raise QueueError(
                    "InvalidParameter",
                    f"The message attribute '{name}' must contain non-empty message attribute value for message attribute type '{data_type}'.",
                )
            if base == "Number":
                try:
                    float(text)
                except ValueError:
                    raise QueueError(
                        "InvalidParameter", f"Can't cast the value of message attribute '{name}' to a number."
                    ) from None
            out[name] = {"DataType": data_type, "StringValue": text}
    if len(out) > 10:
        raise QueueError(
            "InvalidParameter",
            f"Number of message attributes [{len(out)}] exceeds the allowed maximum [10].",
        )
    return out


# -- messages ------------------------------------------------------------------------------------


def send(
    platform,
    queue: Resource,
    body: str,
    *,
    delay: int | None = None,
    message_attributes: dict | None = None,
    group_id: str | None = None,
    dedup_id: str | None = None,
    sender: str | None = None,
) -> Message:
    """Store one message on ``queue``; the stored message (its id, MD5s and sequence number)."""
    config = queue.data["Attributes"]
    fifo = config.get("FifoQueue") == "true"
    if body is None or body == "":
        raise QueueError("MissingParameter", "The request must contain the parameter MessageBody.")
    if any(not _allowed_char(c) for c in body):
        raise QueueError("InvalidMessageContents", "Invalid characters found in the message body.")
    attrs = check_message_attributes(message_attributes)
    size = len(body.encode("utf-8")) + sum(
        len(k) + len(v["DataType"]) + len(v.get("StringValue") or v.get("BinaryValue") or "")
        for k, v in attrs.items()
    )
    if size > int(config.get("MaximumMessageSize", DEFAULTS["MaximumMessageSize"])):
        raise QueueError(
            "MessageTooLong",
            f"One or more parameters are invalid. Reason: Message must be shorter than "
            f"{config.get('MaximumMessageSize')} bytes.",
        )
    if delay is not None and not 0 <= delay <= 900:
        raise QueueError(
            "InvalidParameter",
            f"Value {delay} for parameter DelaySeconds is invalid. Reason: must be between 0 and 900.",
        )
    if fifo:
        if not group_id:
            raise QueueError("MissingParameter", "The request must contain the parameter MessageGroupId.")
        if delay:
            raise QueueError(
                "InvalidParameter",
                f"Value {delay} for parameter DelaySeconds is invalid. Reason: The request include parameter that is not valid for this queue type.",
            )
        if not dedup_id:
            if config.get("ContentBasedDeduplication") == "true":
                dedup_id = hashlib.sha256(body.encode("utf-8")).hexdigest()
            else:
                raise QueueError(
                    "InvalidParameter",
                    "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId "
                    "provided explicitly",
                )
    elif dedup_id:
        raise QueueError(
            "InvalidParameter", "The request include parameter that is not valid for this queue type."
        )
    now = time.time()
    effective_delay = config_int(queue, "DelaySeconds") if delay is None else delay
    md5_attrs = md5_of_attributes(attrs)
    message = Message(
        id=str(uuid.uuid4()),
        account_id=queue.account_id,
        region=queue.region,
        queue=queue.name,
        seq=0,
        body=body,
        attributes={
            "MessageAttributes": attrs,
            "MD5OfMessageAttributes": md5_attrs,
            "SenderId": sender or queue.account_id,
        },
        sent_at=now,
        visible_at=now + effective_delay,
        group_id=group_id,
        dedup_id=dedup_id,
    )
    return queue_message_store(platform).add(message, FIFO_DEDUP_WINDOW if fifo else None)


def _allowed_char(c: str) -> bool:
    code = ord(c)
    return (
        code in (0x9, 0xA, 0xD)
        or 0x20 <= code <= 0xD7FF
        or 0xE000 <= code <= 0xFFFD
        or 0x10000 <= code <= 0x10FFFF
    )


def send_message(
    platform,
    *,
    account: str,
    region: str,
    queue_url: str,
    body: str,
    attributes: dict | None = None,
    group_id: str | None = None,
    dedup_id: str | None = None,
) -> str:
    """Send ``body`` to the queue ``queue_url`` (URL, ARN or name) for another part of the server (a
    schedule's target, a pipeline's callback step); the message id. ``attributes``: SQS message
    attributes ({name: {"DataType", "StringValue"|"BinaryValue"}}). QueueError when the queue does not
    exist or the message is refused."""
    queue = get_queue(platform, account, url_region(queue_url) or region, queue_url)
    fifo = queue.data["Attributes"].get("FifoQueue") == "true"
    if fifo and not dedup_id and queue.data["Attributes"].get("ContentBasedDeduplication") != "true":
        dedup_id = str(uuid.uuid4())
    return send(
        platform,
        queue,
        body,
        message_attributes=attributes,
        group_id=group_id or ("default" if fifo else None),
        dedup_id=dedup_id,
        sender=account,
    ).id


def redrive_target(queue: Resource) -> tuple[int, tuple[str, str, str]] | None:
    """(maxReceiveCount, dead-letter queue's account, region, name) of the queue's RedrivePolicy."""
    text = queue.data["Attributes"].get("RedrivePolicy")
    if not text:
        return None
    policy = json.loads(text)
    parts = policy["deadLetterTargetArn"].split(":")
    return int(policy["maxReceiveCount"]), (parts[4], parts[3], parts[5])


def check_redrive_policy(text: str) -> str:
    """The RedrivePolicy as stored (JSON), or QueueError."""
    if text == "":
        return text
    try:
        policy = json.loads(text)
        arn = policy["deadLetterTargetArn"]
        count = int(policy["maxReceiveCount"])
    except (ValueError, TypeError, KeyError):
        raise QueueError(
            "InvalidAttributeValue",
            "Value for parameter RedrivePolicy is invalid. Reason: Redrive policy is not a valid JSON map "
            "with deadLetterTargetArn and maxReceiveCount.",
        ) from None
    parts = str(arn).split(":")
    if len(parts) != 6 or parts[2] != "sqs" or not 1 <= count <= 1000:
        raise QueueError(
            "InvalidAttributeValue",
            "Value for parameter RedrivePolicy is invalid. Reason: Invalid value for deadLetterTargetArn or "
            "maxReceiveCount (1 to 1000).",
        )
    return json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": count}, separators=(",", ":"))


def receive(platform, queue: Resource, max_messages: int, visibility: int | None) -> list[Message]:
    store = queue_message_store(platform)
    redrive = redrive_target(queue)
    if redrive is not None:
        store.move_exhausted(queue.account_id, queue.region, queue.name, redrive[0], redrive[1])
    return store.claim(
        queue.account_id,
        queue.region,
        queue.name,
        max_messages,
        float(config_int(queue, "VisibilityTimeout") if visibility is None else visibility),
        float(config_int(queue, "MessageRetentionPeriod")),
        fifo=queue.data["Attributes"].get("FifoQueue") == "true",
    )


def delete_message(platform, queue: Resource, receipt: str) -> None:
    message_id = receipt_message_id(receipt)
    if message_id is None:
        raise QueueError(
            "ReceiptHandleIsInvalid", f'The input receipt handle "{receipt}" is not a valid receipt handle.'
        )
    queue_message_store(platform).delete(queue.account_id, queue.region, queue.name, message_id)


def change_visibility(platform, queue: Resource, receipt: str, timeout: int) -> None:
    message_id = receipt_message_id(receipt)
    if message_id is None:
        raise QueueError(
            "ReceiptHandleIsInvalid", f'The input receipt handle "{receipt}" is not a valid receipt handle.'
        )
    if not 0 <= timeout <= 43200:
        raise QueueError(
            "InvalidParameter",
            f"Value {timeout} for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and 43200.",
        )
    if not queue_message_store(platform).change_visibility(
        queue.account_id, queue.region, queue.name, message_id, receipt, float(timeout)
    ):
        raise QueueError(
            "MessageNotInflight", "Message does not exist or is not available for visibility timeout change."
        )


def purge(platform, queue: Resource) -> None:
    queue_message_store(platform).purge(queue.account_id, queue.region, queue.name)
