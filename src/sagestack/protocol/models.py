"""botocore's service models, loaded once per process (they are immutable)."""

from __future__ import annotations

import functools

import botocore.session
from botocore.model import OperationModel, ServiceModel


@functools.cache
def _session() -> botocore.session.Session:
    return botocore.session.get_session()


@functools.cache
def service_model(name: str) -> ServiceModel:
    return _session().get_service_model(name)


@functools.lru_cache(maxsize=4096)
def operation_model(service: str, operation: str) -> OperationModel:
    return service_model(service).operation_model(operation)


def operation_names(service: str) -> list[str]:
    return list(service_model(service).operation_names)
