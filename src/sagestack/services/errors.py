"""The resource store's errors as the services built on it answer them (SageMaker, Application Auto
Scaling, IAM): the ``errors`` mapping of their operation tables (see ``registry.OperationTable``).

A handler that words a case differently (``ResourceInUse`` for a duplicate job name, …) says so where
it writes (``in_use_if_exists``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from ..protocol.errors import ServiceError, in_use, validation
from ..store.errors import AlreadyExists, InvalidToken


def resource_error(exc: Exception) -> ServiceError | None:
    if isinstance(exc, InvalidToken):
        return validation("Invalid pagination token: NextToken is not valid.")
    if isinstance(exc, AlreadyExists):
        return validation(f'Cannot create already existing {exc.kind} "{exc.arn}".')
    return None


@contextlib.contextmanager
def in_use_if_exists(message: str, code: str = "ResourceInUse", status: int = 400) -> Iterator[None]:
    """Answer ``AlreadyExists`` inside the block as ``ResourceInUse`` (or ``code``) with ``message``."""
    try:
        yield
    except AlreadyExists:
        raise (in_use(message) if code == "ResourceInUse" else ServiceError(code, message, status)) from None
