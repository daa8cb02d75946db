"""Amazon SQS (JSON 1.0, ``AmazonSQS``; errors carry the query-protocol codes in ``x-amzn-query-error``):
standard and FIFO queues, messages durable in the store, long polling, visibility, batches, tags."""

from __future__ import annotations

from ..registry import OperationTable
from . import messages, queues
from .common import errors

OPERATIONS = OperationTable("sqs", errors).merge(queues.OPERATIONS, messages.OPERATIONS)
