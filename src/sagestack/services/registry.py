"""Dispatch tables: operation name → handler, one table per service, built once at import.

A handler is ``def handler(ctx: RequestContext, params: dict) -> dict`` (run in a worker thread)
or ``async def`` (awaited on the event loop; used where the body streams, e.g. S3 objects).
It validates, records desired state through the store and returns the output shape as a dict.

The layers below raise domain errors (``store.errors``, ``objects.errors``, …); a table's ``errors``
function is the one place its service words them as AWS errors (``None``: not one of ours, answered
as an internal error).
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..protocol import models
from ..protocol.errors import ServiceError

Handler = Callable[..., Any]
ErrorMap = Callable[[Exception], ServiceError | None]


class OperationTable:
    def __init__(self, service: str, errors: ErrorMap | None = None):
        self.service = service
        self.errors = errors
        self.handlers: dict[str, Handler] = {}

    def handler(self, *names: str) -> Callable[[Handler], Handler]:
        def register(func: Handler) -> Handler:
            for name in names:
                if name not in models.service_model(self.service).operation_names:
                    raise ValueError(f"{name} is not an operation of {self.service}")
                if name in self.handlers:
                    raise ValueError(f"{self.service}.{name} registered twice")
                self.handlers[name] = func
            return func

        return register

    def merge(self, *tables: OperationTable) -> OperationTable:
        for table in tables:
            for name, func in table.handlers.items():
                if name in self.handlers:
                    raise ValueError(f"{self.service}.{name} registered twice")
                self.handlers[name] = func
        return self


@dataclass(frozen=True)
class BoundHandler:
    func: Handler
    is_async: bool
    errors: ErrorMap | None = None  # the service's domain-error mapping


#: Service name (botocore) → module exposing ``OPERATIONS: OperationTable``.
SERVICE_MODULES: dict[str, str] = {
    "s3": "sagestack.services.s3",
    "sts": "sagestack.services.sts",
    "iam": "sagestack.services.iam",
    "logs": "sagestack.services.logs",
    "cloudwatch": "sagestack.services.cloudwatch",
    "sagemaker": "sagestack.services.sagemaker",
    "sagemaker-runtime": "sagestack.services.runtime",
    "sagemaker-metrics": "sagestack.services.metrics",
    "application-autoscaling": "sagestack.services.autoscaling",
    "kms": "sagestack.services.kms",
    "ec2": "sagestack.services.ec2",
    "sqs": "sagestack.services.sqs",
    "lambda": "sagestack.services.awslambda",
    "scheduler": "sagestack.services.scheduler",
    "ecr": "sagestack.services.ecr",
}


def load_tables() -> dict[str, dict[str, BoundHandler]]:
    tables: dict[str, dict[str, BoundHandler]] = {}
    for service, module_name in SERVICE_MODULES.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                tables[service] = {}
                continue
            raise
        table: OperationTable | None = getattr(module, "OPERATIONS", None)
        if table is None:  # a service package still being written
            tables[service] = {}
            continue
        tables[service] = {
            name: BoundHandler(func, inspect.iscoroutinefunction(func), table.errors)
            for name, func in table.handlers.items()
        }
    return tables
