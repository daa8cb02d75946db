"""In-process API calls: the control loops that act *as a caller* of other operations (a pipeline step
creating a processing job, a step's Describe*) go through here, so that what they create passes the same
shape validation and handler as a client's request and answers with the same AWS error codes.

:func:`start` registers the caller as the platform component ``api-calls``; a reconciler finds it with
``platform.get_component("api-calls")`` (reconcilers may not import services: the dependency is handed
down, not imported).
"""

from __future__ import annotations

import inspect
import logging
import uuid

from ..protocol import models
from ..protocol.errors import ServiceError
from ..protocol.http import Headers, HttpRequest
from ..protocol.validate import validate
from .context import RequestContext
from .registry import load_tables

log = logging.getLogger("sagestack.calls")


class ApiCaller:
    def __init__(self, platform):
        self.platform = platform
        self._tables = load_tables()

    def call(
        self,
        service: str,
        operation: str,
        params: dict,
        *,
        account_id: str,
        region: str,
        principal_arn: str,
    ) -> dict:
        """Validate ``params`` against the operation's input shape and run its handler; raises
        ServiceError (AWS code and message) as a client would receive it."""
        op = models.operation_model(service, operation)
        validate(params, op.input_shape, check_patterns=True, check_enums=True)
        handler = self._tables.get(service, {}).get(operation)
        if handler is None or handler.is_async:
            raise ServiceError("InternalFailure", f"{service}:{operation} cannot be called in-process.", 500)
        request = HttpRequest("POST", "/", "", Headers([]), body=b"", request_id=str(uuid.uuid4()))
        ctx = RequestContext(
            platform=self.platform,
            request=request,
            service=service,
            operation=operation,
            account_id=account_id,
            region=region,
            principal_arn=principal_arn,
            access_key_id="",
        )
        try:
            result = handler.func(ctx, params)
        except ServiceError:
            raise
        except Exception as exc:
            mapped = handler.errors(exc) if handler.errors is not None else None
            if mapped is None:
                log.exception("in-process %s:%s failed", service, operation)
                raise ServiceError("InternalFailure", f"{type(exc).__name__}: {exc}", 500) from exc
            raise mapped from exc
        if inspect.isawaitable(result):  # pragma: no cover - guarded above
            raise ServiceError("InternalFailure", f"{service}:{operation} is asynchronous.", 500)
        return result


def start(platform) -> None:
    platform.component("api-calls", ApiCaller)
