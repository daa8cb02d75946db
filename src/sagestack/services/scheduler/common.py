"""What the Scheduler handlers share: its error words and the group a request names."""

from __future__ import annotations

import datetime as dt

from ...domain import schedules
from ...domain.schedules import ScheduleError
from ...protocol.errors import ServiceError
from ...store.errors import InvalidToken
from ...store.resources import Resource
from ..context import RequestContext

CODES = {
    "NotFound": ("ResourceNotFoundException", 404),
    "Conflict": ("ConflictException", 409),
    "Invalid": ("ValidationException", 400),
}


def scheduler_error(kind: str, message: str) -> ServiceError:
    code, status = CODES.get(kind, (kind, 400))
    return ServiceError(code, message, status)


def errors(exc: Exception) -> ServiceError | None:
    if isinstance(exc, ScheduleError):
        return scheduler_error(exc.kind, exc.message)
    if isinstance(exc, InvalidToken):
        return scheduler_error("Invalid", "Invalid NextToken.")
    return None


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def group_row(ctx: RequestContext, name: str | None) -> Resource | None:
    """The group (None for ``default``, which always exists); ScheduleError NotFound if there is none."""
    if not name or name == schedules.DEFAULT_GROUP:
        return None
    row = ctx.platform.resources.get(ctx.account_id, ctx.region, schedules.GROUP_TYPE, name)
    if row is None:
        raise ScheduleError("NotFound", f"Schedule group {name} does not exist.")
    return row
