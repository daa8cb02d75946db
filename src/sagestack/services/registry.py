"""Dispatch tables: operation name → handler, one table per service, built once at import.

A handler is ``def handler(ctx: RequestContext, params: dict) -> dict`` (run in a worker thread)
or ``async def`` (awaited on the event loop; used where the body streams, e.g. S3 objects).
It validates, records desired state through the store and returns the output shape as a dict.
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass
from typing import Any, Callable

from ..protocol import models

Handler = Callable[..., Any]


class OperationTable:
    def __init__(self, service: str):
        self.service = service
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

    def merge(self, *tables: "OperationTable") -> "OperationTable":
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


#: Service name (botocore) → module exposing ``OPERATIONS: OperationTable``.
SERVICE_MODULES: dict[str, str] = {
    "s3": "sagestack.services.s3",
    "sts": "sagestack.services.sts",
    "iam": "sagestack.services.iam",
    "logs": "sagestack.services.logs",
    "cloudwatch": "sagestack.services.cloudwatch",
    "sagemaker": "sagestack.services.sagemaker",
    "sagemaker-runtime": "sagestack.services.runtime",
    "application-autoscaling": "sagestack.services.autoscaling",
    "kms": "sagestack.services.kms",
    "ec2": "sagestack.services.ec2",
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
            name: BoundHandler(func, inspect.iscoroutinefunction(func))
            for name, func in table.handlers.items()
        }
    return tables
