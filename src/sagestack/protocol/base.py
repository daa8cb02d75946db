"""What every protocol implementation offers the gateway."""

from __future__ import annotations

import json
from typing import Any

from botocore.model import OperationModel, ServiceModel

from . import models
from .errors import ServiceError
from .http import HttpRequest, HttpResponse

MAX_RPC_BODY = 16 * 1024 * 1024  # control-plane request bodies (pipeline definitions fit easily)


class Protocol:
    """Parses requests into (operation, params) and serializes results/errors for one service."""

    name = ""

    def __init__(self, service: str):
        self.service = service
        self.model: ServiceModel = models.service_model(service)

    def operation_model(self, name: str) -> OperationModel:
        try:
            return models.operation_model(self.service, name)
        except Exception:
            raise ServiceError(
                "UnknownOperationException", f"Unknown operation {name} for service {self.service}", 400
            ) from None

    def resolve(self, request: HttpRequest) -> OperationModel:  # pragma: no cover - interface
        raise NotImplementedError

    async def parse(self, request: HttpRequest, op: OperationModel) -> dict[str, Any]:
        raise NotImplementedError

    def serialize(self, request: HttpRequest, op: OperationModel, result: Any) -> HttpResponse:
        raise NotImplementedError

    def error(self, request: HttpRequest, error: ServiceError, op: OperationModel | None) -> HttpResponse:
        raise NotImplementedError


def json_bytes(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
