"""The console's one door to the data: an AWS operation run in-process (``services/calls.py``, component
``api-calls``) as the signed-in identity. Parameters arrive as JSON and are shaped like the operation's
input (timestamps as ISO-8601 strings or epoch seconds, blobs as text); results go back as JSON
(timestamps as ISO-8601, bytes as text). Errors are the operation's own AWS errors."""

from __future__ import annotations

import base64
import datetime as _dt
import json
from typing import Any

from ..protocol import models
from ..protocol.errors import ServiceError
from ..protocol.http import HttpRequest
from .sessions import Session

#: Services the console may call (those a client reaches on this port with the same credentials).
SERVICES = frozenset(
    {
        "sagemaker",
        "s3",
        "logs",
        "cloudwatch",
        "application-autoscaling",
        "sts",
        "iam",
        "kms",
        "sagemaker-metrics",
        "lambda",
        "sqs",
        "scheduler",
        "ecr",
    }
)


def _timestamp(value: Any) -> Any:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _dt.datetime.fromtimestamp(value, _dt.UTC)
    if isinstance(value, str):
        try:
            parsed = _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value  # validation words the error
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=_dt.UTC)
    return value


def shape_params(value: Any, shape) -> Any:
    """JSON values → the Python types the operation's input shape names (timestamps, blobs)."""
    if shape is None or value is None:
        return value
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        members = shape.members
        return {k: shape_params(v, members.get(k)) for k, v in value.items()}
    if kind == "list" and isinstance(value, list):
        return [shape_params(v, shape.member) for v in value]
    if kind == "map" and isinstance(value, dict):
        return {k: shape_params(v, shape.value) for k, v in value.items()}
    if kind == "timestamp":
        return _timestamp(value)
    if kind == "blob" and isinstance(value, str):
        return value.encode()
    return value


def _default(value: Any) -> Any:
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=_dt.UTC)
        return value.isoformat()
    if isinstance(value, _dt.date):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
        try:
            return data.decode()
        except UnicodeDecodeError:
            return base64.b64encode(data).decode()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if hasattr(value, "__aiter__") or hasattr(value, "read"):
        return None  # a streamed body: the console downloads through GET
    return str(value)


def encode(result: Any) -> bytes:
    return json.dumps(result, default=_default, separators=(",", ":")).encode()


def operation_input(service: str, operation: str, params: Any) -> dict:
    if service not in SERVICES:
        raise ServiceError("UnknownService", f"Service {service} is not served to the console", 400)
    try:
        op = models.operation_model(service, operation)
    except Exception as exc:
        raise ServiceError("InvalidAction", f"{operation} is not an operation of {service}", 400) from exc
    if not isinstance(params, dict):
        raise ServiceError("SerializationException", "The request body must be a JSON object", 400)
    return shape_params(params, op.input_shape)


async def run(
    platform, session: Session, service: str, operation: str, params: dict, request: HttpRequest | None = None
) -> Any:
    """Run ``service:operation`` as the session's identity (raises ServiceError as a client gets it)."""
    from ..services import calls

    caller = platform.component("api-calls", calls.ApiCaller)
    return await caller.call_async(
        service,
        operation,
        params,
        account_id=session.account_id,
        region=platform.settings.region,
        principal_arn=session.principal_arn,
        access_key_id=session.access_key_id,
        request=request,
    )
