"""In-process API calls: the control loops that act *as a caller* of other operations (a pipeline step
creating a processing job, a step's Describe*) go through here, so that what they create passes the same
shape validation and handler as a client's request and answers with the same AWS error codes.

:func:`start` registers the caller as the platform component ``api-calls``; a reconciler finds it with
``platform.get_component("api-calls")`` (reconcilers may not import services: the dependency is handed
down, not imported).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import uuid
from typing import Any

from ..protocol import models
from ..protocol.errors import ServiceError
from ..protocol.http import Headers, HttpRequest
from ..protocol.validate import validate
from .context import RequestContext
from .registry import BoundHandler, load_tables

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
        ctx = self._context(service, operation, account_id, region, principal_arn, "", None)
        try:
            result = handler.func(ctx, params)
        except ServiceError:
            raise
        except Exception as exc:
            raise _as_service_error(exc, handler, service, operation) from exc
        if inspect.isawaitable(result):  # pragma: no cover - guarded above
            raise ServiceError("InternalFailure", f"{service}:{operation} is asynchronous.", 500)
        return result

    async def call_async(
        self,
        service: str,
        operation: str,
        params: dict,
        *,
        account_id: str,
        region: str,
        principal_arn: str,
        access_key_id: str = "",
        request: HttpRequest | None = None,
    ) -> Any:
        """:meth:`call` from the event loop, for any handler: a synchronous one runs in a worker thread, an
        asynchronous one (S3 PutObject, whose body streams) is awaited with ``request`` as the request whose
        body it reads. The result may be an HttpResponse where the operation answers with one."""
        op = models.operation_model(service, operation)
        validate(params, op.input_shape, check_patterns=service != "s3", check_enums=service != "s3")
        handler = self._tables.get(service, {}).get(operation)
        if handler is None:
            raise ServiceError("InvalidAction", f"{service}:{operation} is not served here.", 400)
        ctx = self._context(service, operation, account_id, region, principal_arn, access_key_id, request)
        try:
            if handler.is_async:
                return await handler.func(ctx, params)
            return await asyncio.to_thread(handler.func, ctx, params)
        except ServiceError:
            raise
        except Exception as exc:
            raise _as_service_error(exc, handler, service, operation) from exc

    def _context(
        self,
        service: str,
        operation: str,
        account_id: str,
        region: str,
        principal_arn: str,
        access_key_id: str,
        request: HttpRequest | None,
    ) -> RequestContext:
        """The context a handler sees for an in-process call (a blank request unless one is given)."""
        if request is None:
            request = HttpRequest("POST", "/", "", Headers([]), body=b"", request_id=str(uuid.uuid4()))
        return RequestContext(
            platform=self.platform,
            request=request,
            service=service,
            operation=operation,
            account_id=account_id,
            region=region,
            principal_arn=principal_arn,
            access_key_id=access_key_id,
        )


def _as_service_error(exc: Exception, handler: BoundHandler, service: str, operation: str) -> ServiceError:
    """A handler's failure (not a ServiceError) as the gateway words it: a domain error through the
    service's ``errors`` mapping, anything else an InternalFailure (logged)."""
    mapped = handler.errors(exc) if handler.errors is not None else None
    if mapped is None:
        log.exception("in-process %s:%s failed", service, operation)
        return ServiceError("InternalFailure", f"{type(exc).__name__}: {exc}", 500)
    return mapped


def start(platform) -> None:
    platform.component("api-calls", ApiCaller)
