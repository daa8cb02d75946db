"""What the SQS handlers share: the queue a request names, SQS's error words (JSON protocol with the
``x-amzn-query-error`` header, so that SDKs see the query-protocol codes SQS always had)."""

from __future__ import annotations

from ...domain import queues
from ...domain.queues import QueueError
from ...protocol.errors import ServiceError
from ...store.errors import InvalidToken
from ...store.resources import Resource
from ..context import RequestContext

#: QueueError kind → (JSON error code, query-protocol code).
CODES = {
    "NotFound": ("QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue"),
    "NameExists": ("QueueNameExists", "QueueAlreadyExists"),
    "InvalidAttributeName": ("InvalidAttributeName", "InvalidAttributeName"),
    "InvalidAttributeValue": ("InvalidAttributeValue", "InvalidAttributeValue"),
    "InvalidParameter": ("InvalidParameterValueException", "InvalidParameterValue"),
    "MissingParameter": ("MissingRequiredParameterException", "MissingParameter"),
    "MessageTooLong": ("InvalidParameterValueException", "InvalidParameterValue"),
    "InvalidMessageContents": ("InvalidMessageContents", "InvalidMessageContents"),
    "ReceiptHandleIsInvalid": ("ReceiptHandleIsInvalid", "ReceiptHandleIsInvalid"),
    "MessageNotInflight": ("MessageNotInflight", "AWS.SimpleQueueService.MessageNotInflight"),
    "EmptyBatchRequest": ("EmptyBatchRequest", "AWS.SimpleQueueService.EmptyBatchRequest"),
    "TooManyEntries": ("TooManyEntriesInBatchRequest", "AWS.SimpleQueueService.TooManyEntriesInBatchRequest"),
    "BatchIdsNotDistinct": ("BatchEntryIdsNotDistinct", "AWS.SimpleQueueService.BatchEntryIdsNotDistinct"),
    "InvalidBatchEntryId": ("InvalidBatchEntryId", "AWS.SimpleQueueService.InvalidBatchEntryId"),
}


def sqs_error(kind: str, message: str) -> ServiceError:
    code, query_code = CODES.get(kind, (kind, kind))
    return ServiceError(
        "com.amazonaws.sqs#" + code, message, 400, headers={"x-amzn-query-error": f"{query_code};Sender"}
    )


def error_of(exc: QueueError) -> ServiceError:
    return sqs_error(exc.kind, exc.message)


def errors(exc: Exception) -> ServiceError | None:
    if isinstance(exc, QueueError):
        return error_of(exc)
    if isinstance(exc, InvalidToken):
        return sqs_error("InvalidParameter", "Invalid NextToken value.")
    return None


def queue_of(ctx: RequestContext, params: dict) -> Resource:
    return queues.get_queue(ctx.platform, ctx.account_id, ctx.region, params.get("QueueUrl") or "")


def url_of(ctx: RequestContext, queue: Resource) -> str:
    return queues.queue_url(ctx.platform.settings.endpoint_url, queue.account_id, queue.name)
