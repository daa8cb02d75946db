"""AWS JSON 1.0/1.1 protocol (``X-Amz-Target: Prefix.Operation``): sagemaker, logs, autoscaling."""

from __future__ import annotations

import json
from typing import Any

from botocore.model import OperationModel

from . import codec
from .base import MAX_RPC_BODY, Protocol, json_bytes
from .errors import ServiceError
from .http import BodyTooLarge, HttpRequest, HttpResponse


class JsonRpcProtocol(Protocol):
    name = "json"

    def __init__(self, service: str):
        super().__init__(service)
        version = self.model.metadata.get("jsonVersion", "1.1")
        self.content_type = f"application/x-amz-json-{version}"
        self.target_prefix = self.model.metadata.get("targetPrefix", "")

    def resolve(self, request: HttpRequest) -> OperationModel:
        target = request.headers.get("x-amz-target") or ""
        prefix, _, name = target.partition(".")
        if not name or prefix != self.target_prefix:
            raise ServiceError("UnknownOperationException", f"Unknown target {target!r}", 400)
        return self.operation_model(name)

    async def parse(self, request: HttpRequest, op: OperationModel) -> dict[str, Any]:
        try:
            body = await request.read_body(MAX_RPC_BODY)
        except BodyTooLarge:
            raise ServiceError("SerializationException", "Request body too large", 413) from None
        if not body.strip():
            document: Any = {}
        else:
            try:
                document = json.loads(body)
            except (ValueError, UnicodeDecodeError):
                raise ServiceError(
                    "SerializationException", "Start of structure or map found where not expected.", 400
                ) from None
        if not isinstance(document, dict):
            raise ServiceError("SerializationException", "Expected a JSON object as the request body", 400)
        return codec.from_json(document, op.input_shape) if op.input_shape is not None else {}

    def serialize(self, request: HttpRequest, op: OperationModel, result: Any) -> HttpResponse:
        body = codec.to_json(result or {}, op.output_shape) if op.output_shape is not None else {}
        return HttpResponse(
            200,
            [("content-type", self.content_type), ("x-amzn-requestid", request.request_id)],
            json_bytes(body),
        )

    def error(self, request: HttpRequest, error: ServiceError, op: OperationModel | None) -> HttpResponse:
        document = {"__type": error.code, "message": error.message}
        document.update(error.fields)
        headers = [
            ("content-type", self.content_type),
            ("x-amzn-requestid", request.request_id),
            ("x-amzn-errortype", error.code),
        ]
        headers.extend(error.headers.items())
        return HttpResponse(error.status, headers, json_bytes(document))
