"""What the Lambda handlers share: Lambda's error words (``x-amzn-errortype`` + ``{"Type", "message"}``)
and the function a request names."""

from __future__ import annotations

from ...domain import functions
from ...domain.functions import FunctionError
from ...protocol.errors import ServiceError
from ...store.errors import InvalidToken
from ...store.resources import Resource
from ..context import RequestContext

#: FunctionError kind → (Lambda error code, HTTP status).
CODES = {
    "NotFound": ("ResourceNotFoundException", 404),
    "Exists": ("ResourceConflictException", 409),
    "Conflict": ("ResourceConflictException", 409),
    "InvalidParameter": ("InvalidParameterValueException", 400),
    "InvalidZip": ("InvalidParameterValueException", 400),
    "InvalidRuntime": ("InvalidRuntimeException", 502),
    "InvalidRequestContent": ("InvalidRequestContentException", 400),
    "PreconditionFailed": ("PreconditionFailedException", 412),
}


def lambda_error(kind: str, message: str) -> ServiceError:
    code, status = CODES.get(kind, (kind, 400))
    return ServiceError(code, message, status, fields={"Type": "User"})


def errors(exc: Exception) -> ServiceError | None:
    if isinstance(exc, FunctionError):
        return lambda_error(exc.kind, exc.message)
    if isinstance(exc, InvalidToken):
        return lambda_error("InvalidParameter", "Invalid Marker")
    return None


def function_of(ctx: RequestContext, ref: str) -> tuple[Resource, str | None]:
    return functions.resolve(ctx.platform.resources, ctx.account_id, ctx.region, ref)
