"""What the log store takes and returns: groups, streams, pages of events, and the filter the
CloudWatch Logs service compiles its filter patterns into (``EventFilter``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class LogGroup:
    id: int
    account_id: str
    region: str
    name: str
    created_at: int
    retention_days: int | None
    kms_key_id: str | None
    log_group_class: str
    stored_bytes: int = 0


@dataclass
class LogStream:
    id: int
    group: LogGroup
    name: str
    created_at: int
    first_event_ts: int | None
    last_event_ts: int | None
    last_ingestion_time: int | None
    sequence: int
    stored_bytes: int


@dataclass
class EventsPage:
    events: list[dict]
    forward_token: str
    backward_token: str


@dataclass
class FilterPage:
    events: list[dict]
    searched_streams: list[str]
    next_token: str | None


@dataclass
class PutResult:
    sequence: int
    rejected: dict = field(default_factory=dict)


@dataclass(frozen=True)
class EventFilter:
    """Which events a filtered read keeps. Each of ``contains_all`` and one of ``contains_any`` must
    occur in the message: the store narrows its scan with them in SQL, where matching may ignore case.
    ``matches`` then decides per message, exactly (``None``: every event the narrowing leaves)."""

    contains_all: tuple[str, ...] = ()
    contains_any: tuple[str, ...] = ()
    matches: Callable[[str], bool] | None = None


def group_from_row(row) -> LogGroup:
    return LogGroup(
        id=row["id"],
        account_id=row["account_id"],
        region=row["region"],
        name=row["name"],
        created_at=row["created_at"],
        retention_days=row["retention_days"],
        kms_key_id=row["kms_key_id"],
        log_group_class=row["log_group_class"] or "STANDARD",
    )


def stream_from_row(row, group: LogGroup) -> LogStream:
    return LogStream(
        id=row["id"],
        group=group,
        name=row["name"],
        created_at=row["created_at"],
        first_event_ts=row["first_event_ts"],
        last_event_ts=row["last_event_ts"],
        last_ingestion_time=row["last_ingestion_time"],
        sequence=row["sequence"] or 0,
        stored_bytes=row["stored_bytes"] or 0,
    )
