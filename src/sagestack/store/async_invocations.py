"""The durable queue of asynchronous invocations (InvokeEndpointAsync).

A request is a row from the moment InvokeEndpointAsync answers until its output (or error) is in S3:
``Queued`` → ``InProgress`` (claimed by the dispatcher) → deleted once written. After a server restart,
rows left ``InProgress`` go back to ``Queued`` (at-least-once: the output key is fixed, so a repeat
overwrites the same object).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import Column, Float, Index, Integer, String, Table, Text, and_, func, select

from .schema import metadata

QUEUED, IN_PROGRESS = "Queued", "InProgress"

async_invocations = Table(
    "async_invocations",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("account_id", String(12), nullable=False),
    Column("region", String(32), nullable=False),
    Column("endpoint", String(63), nullable=False),
    Column("inference_id", String(64), nullable=False),
    Column("input_location", String(2048), nullable=False),
    Column("output_location", String(2048), nullable=False),
    Column("failure_location", String(2048), nullable=False),
    Column("content_type", String(1024)),
    Column("accept", String(1024)),
    Column("custom_attributes", String(1024)),
    Column("status", String(16), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("timeout_s", Float, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text),
    Index("ix_async_invocations_queue", "account_id", "region", "endpoint", "status", "created_at"),
)


@dataclass
class AsyncInvocation:
    id: str
    account_id: str
    region: str
    endpoint: str
    inference_id: str
    input_location: str
    output_location: str
    failure_location: str
    content_type: str | None
    accept: str | None
    custom_attributes: str | None
    status: str
    created_at: float
    expires_at: float
    timeout_s: float
    attempts: int
    last_error: str | None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.account_id, self.region, self.endpoint)


@dataclass(frozen=True)
class Backlog:
    size: int  # queued + in progress
    oldest_created_at: float | None


class AsyncInvocationStore:
    def __init__(self, db):
        self.db = db

    def enqueue(self, item: AsyncInvocation) -> None:
        with self.db.begin() as conn:
            conn.execute(async_invocations.insert().values(**item.__dict__))

    def claim(self, key: tuple[str, str, str], limit: int) -> list[AsyncInvocation]:
        """Up to ``limit`` queued requests of one endpoint, oldest first, now marked InProgress."""
        if limit <= 0:
            return []
        account, region, endpoint = key
        table = async_invocations
        where = and_(
            table.c.account_id == account,
            table.c.region == region,
            table.c.endpoint == endpoint,
            table.c.status == QUEUED,
        )
        with self.db.begin() as conn:
            rows = (
                conn.execute(select(table).where(where).order_by(table.c.created_at, table.c.id).limit(limit))
                .mappings()
                .all()
            )
            if not rows:
                return []
            ids = [r["id"] for r in rows]
            conn.execute(
                table.update()
                .where(and_(table.c.id.in_(ids), table.c.status == QUEUED))
                .values(status=IN_PROGRESS, attempts=table.c.attempts + 1)
            )
        return [AsyncInvocation(**dict(r, status=IN_PROGRESS, attempts=r["attempts"] + 1)) for r in rows]

    def done(self, item_id: str) -> None:
        with self.db.begin() as conn:
            conn.execute(async_invocations.delete().where(async_invocations.c.id == item_id))

    def requeue(self, item_id: str, error: str, refund: bool = False) -> None:
        """Back to the queue; ``refund``: this try does not count as an attempt."""
        table = async_invocations
        with self.db.begin() as conn:
            conn.execute(
                table.update()
                .where(table.c.id == item_id)
                .values(status=QUEUED, last_error=error, attempts=table.c.attempts - (1 if refund else 0))
            )

    def recover(self) -> int:
        """After a restart: whatever was in progress is queued again."""
        with self.db.begin() as conn:
            result = conn.execute(
                async_invocations.update()
                .where(async_invocations.c.status == IN_PROGRESS)
                .values(status=QUEUED)
            )
        return result.rowcount or 0

    def expired(self, now: float | None = None, limit: int = 100) -> list[AsyncInvocation]:
        """Queued requests whose RequestTTLSeconds ran out (claimed: the caller writes their error)."""
        now = time.time() if now is None else now
        table = async_invocations
        with self.db.begin() as conn:
            rows = (
                conn.execute(
                    select(table).where(and_(table.c.status == QUEUED, table.c.expires_at < now)).limit(limit)
                )
                .mappings()
                .all()
            )
            if rows:
                conn.execute(
                    table.update()
                    .where(and_(table.c.id.in_([r["id"] for r in rows]), table.c.status == QUEUED))
                    .values(status=IN_PROGRESS)
                )
        return [AsyncInvocation(**dict(r, status=IN_PROGRESS)) for r in rows]

    def backlog(self) -> dict[tuple[str, str, str], Backlog]:
        """Per endpoint: requests not yet answered and the creation time of the oldest."""
        table = async_invocations
        stmt = select(
            table.c.account_id, table.c.region, table.c.endpoint, func.count(), func.min(table.c.created_at)
        ).group_by(table.c.account_id, table.c.region, table.c.endpoint)
        with self.db.connect() as conn:
            rows = conn.execute(stmt).all()
        return {(a, r, e): Backlog(int(n), oldest) for a, r, e, n, oldest in rows}

    def delete_endpoint(self, key: tuple[str, str, str]) -> int:
        account, region, endpoint = key
        table = async_invocations
        with self.db.begin() as conn:
            result = conn.execute(
                table.delete().where(
                    and_(
                        table.c.account_id == account, table.c.region == region, table.c.endpoint == endpoint
                    )
                )
            )
        return result.rowcount or 0


def async_invocation_store(platform) -> AsyncInvocationStore:
    return platform.component("async-invocations", lambda p: AsyncInvocationStore(p.db))
