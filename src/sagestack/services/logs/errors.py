"""CloudWatch Logs' error wording: the log store's domain errors as the Logs API answers them (the
``errors`` mapping of this service's operation table), and its parameter errors."""

from __future__ import annotations

from ...protocol.errors import ServiceError
from ...store.errors import AlreadyExists, InvalidToken, NotFound


def invalid(message: str) -> ServiceError:
    return ServiceError("InvalidParameterException", message, 400)


def log_error(exc: Exception) -> ServiceError | None:
    if isinstance(exc, NotFound):  # kind: "log group" | "log stream"
        return ServiceError("ResourceNotFoundException", f"The specified {exc.kind} does not exist.", 400)
    if isinstance(exc, AlreadyExists):
        return ServiceError("ResourceAlreadyExistsException", f"The specified {exc.kind} already exists", 400)
    if isinstance(exc, InvalidToken):
        return invalid("The specified nextToken is invalid.")
    return None
