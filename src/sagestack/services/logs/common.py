"""Helpers shared by the Logs handlers."""

from __future__ import annotations

from ...store.logs import LogGroup, LogStore, log_store
from ..context import RequestContext
from .errors import invalid


def store(ctx: RequestContext) -> LogStore:
    return log_store(ctx.platform)


def group_arn(group: LogGroup) -> str:
    return f"arn:aws:logs:{group.region}:{group.account_id}:log-group:{group.name}"


def group_name(params: dict, required: bool = True) -> str | None:
    """``logGroupName`` or ``logGroupIdentifier`` (a name or an ARN), never both."""
    name, identifier = params.get("logGroupName"), params.get("logGroupIdentifier")
    if name and identifier:
        raise invalid("LogGroup name and LogGroup identifier are mutually exclusive parameters.")
    if identifier:
        if identifier.startswith("arn:"):
            _, _, rest = identifier.partition(":log-group:")
            identifier = rest.removesuffix(":*")
        return identifier
    if not name and required:
        raise invalid("Either LogGroupName or LogGroupIdentifier must be specified.")
    return name


def page_limit(params: dict, default: int, maximum: int) -> int:
    limit = params.get("limit")
    if limit is None:
        return default
    if not 1 <= limit <= maximum:
        raise invalid(
            f"1 validation error detected: Value '{limit}' at 'limit' failed to satisfy "
            f"constraint: Member must have value less than or equal to {maximum}"
        )
    return limit
