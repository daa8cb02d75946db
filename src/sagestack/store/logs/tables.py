"""The log store's tables: groups, streams, events (epoch-millisecond times), and the keyset
condition every paged read uses."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    or_,
)

from ..schema import metadata

log_groups = Table(
    "log_groups",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account_id", String(12), nullable=False),
    Column("region", String(32), nullable=False),
    Column("name", String(512), nullable=False),
    Column("created_at", BigInteger, nullable=False),  # epoch milliseconds
    Column("retention_days", Integer),
    Column("kms_key_id", String(256)),
    Column("log_group_class", String(32), nullable=False, default="STANDARD"),
    Column("tags", Text),
    UniqueConstraint("account_id", "region", "name", name="uq_log_group"),
)

log_streams = Table(
    "log_streams",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("group_id", Integer, ForeignKey("log_groups.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(512), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("first_event_ts", BigInteger),
    Column("last_event_ts", BigInteger),
    Column("last_ingestion_time", BigInteger),
    Column("sequence", BigInteger, nullable=False, default=0),
    Column("stored_bytes", BigInteger, nullable=False, default=0),
    UniqueConstraint("group_id", "name", name="uq_log_stream"),
    Index("ix_log_streams_last_event", "group_id", "last_event_ts"),
)

log_events = Table(
    "log_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("stream_id", Integer, ForeignKey("log_streams.id", ondelete="CASCADE"), nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("ingestion_time", BigInteger, nullable=False),
    Column("message", Text, nullable=False),
    Index("ix_log_events_stream_ts", "stream_id", "timestamp", "id"),
)


def keyset(columns, values: list, descending: bool):
    """``(c1, c2) > (v1, v2)`` (or ``<``), written portably."""
    first, *rest = columns
    head, *tail = values
    if not rest:
        return first < head if descending else first > head
    beyond = first < head if descending else first > head
    return or_(beyond, and_(first == head, keyset(rest, tail, descending)))
