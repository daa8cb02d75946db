"""The messages of the message queues (SQS), durable in the SQL store.

A queue itself is a resource (``resources``, type ``sqs-queue``); its messages are rows here. A message
is visible when ``visible_at`` has passed; a receive hides it until ``now + visibility timeout`` and gives
it a new receipt handle (``receipt``); a delete removes the row. FIFO queues deliver a message group in
order: a group with a message in flight gives out nothing more until it is deleted or visible again.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass, field

from sqlalchemy import Column, Float, Index, Integer, String, Table, Text, and_, func, select

from .schema import metadata

queue_messages = Table(
    "queue_messages",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("account_id", String(12), nullable=False),
    Column("region", String(32), nullable=False),
    Column("queue", String(80), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("body", Text, nullable=False),
    Column("attributes", Text, nullable=False),  # JSON: message attributes, system attributes, MD5s
    Column("sent_at", Float, nullable=False),
    Column("visible_at", Float, nullable=False),
    Column("receive_count", Integer, nullable=False, default=0),
    Column("first_received_at", Float),
    Column("receipt", String(128)),
    Column("group_id", String(128)),
    Column("dedup_id", String(128)),
    Index("ix_queue_messages_queue", "account_id", "region", "queue", "visible_at"),
)


@dataclass
class Message:
    id: str
    account_id: str
    region: str
    queue: str
    seq: int
    body: str
    attributes: dict
    sent_at: float
    visible_at: float
    receive_count: int = 0
    first_received_at: float | None = None
    receipt: str | None = None
    group_id: str | None = None
    dedup_id: str | None = None

    @classmethod
    def from_row(cls, row) -> Message:
        values = dict(row)
        values["attributes"] = json.loads(values["attributes"])
        return cls(**values)


@dataclass(frozen=True)
class QueueCounts:
    visible: int
    in_flight: int
    delayed: int


@dataclass
class Claim:
    """What a receive hands out: the messages, each with its new receipt handle."""

    messages: list[Message] = field(default_factory=list)


class QueueMessageStore:
    def __init__(self, db):
        self.db = db

    def _queue(self, account: str, region: str, queue: str):
        t = queue_messages.c
        return and_(t.account_id == account, t.region == region, t.queue == queue)

    def add(self, message: Message, dedup_window: float | None = None) -> Message:
        """Store ``message``; with ``dedup_window`` (FIFO) a message with the same deduplication id sent
        within the window is answered instead (and nothing is stored)."""
        t = queue_messages.c
        with self.db.begin() as conn:
            cond = self._queue(message.account_id, message.region, message.queue)
            if dedup_window is not None and message.dedup_id:
                row = (
                    conn.execute(
                        select(queue_messages).where(
                            and_(
                                cond,
                                t.dedup_id == message.dedup_id,
                                t.sent_at >= message.sent_at - dedup_window,
                            )
                        )
                    )
                    .mappings()
                    .first()
                )
                if row is not None:
                    return Message.from_row(row)
            last = conn.execute(select(func.max(t.seq)).where(cond)).scalar()
            message.seq = (last or 0) + 1
            values = dict(message.__dict__)
            values["attributes"] = json.dumps(message.attributes, separators=(",", ":"))
            conn.execute(queue_messages.insert().values(**values))
        return message

    def claim(
        self,
        account: str,
        region: str,
        queue: str,
        limit: int,
        visibility: float,
        retention: float,
        fifo: bool = False,
        now: float | None = None,
    ) -> list[Message]:
        """Up to ``limit`` visible messages, oldest first, now hidden for ``visibility`` seconds with a
        new receipt handle each. Messages older than ``retention`` are dropped on the way."""
        now = time.time() if now is None else now
        t = queue_messages.c
        cond = self._queue(account, region, queue)
        out: list[Message] = []
        with self.db.begin() as conn:
            conn.execute(queue_messages.delete().where(and_(cond, t.sent_at < now - retention)))
            busy_groups: set[str] = set()
            if fifo:
                busy_groups = {
                    g
                    for (g,) in conn.execute(
                        select(t.group_id).where(and_(cond, t.visible_at > now, t.receive_count > 0))
                    )
                }
            rows = (
                conn.execute(
                    select(queue_messages)
                    .where(and_(cond, t.visible_at <= now))
                    .order_by(t.seq)
                    .limit(limit if not fifo else max(limit * 10, 100))
                )
                .mappings()
                .all()
            )
            for row in rows:
                if len(out) >= limit:
                    break
                message = Message.from_row(row)
                if fifo and message.group_id in busy_groups:
                    continue
                if fifo and out and out[-1].group_id != message.group_id:
                    # one receive answers messages of one group at a time (in order)
                    if any(m.group_id == message.group_id for m in out):
                        continue
                receipt = new_receipt(message.id)
                message.receive_count += 1
                message.first_received_at = message.first_received_at or now
                message.visible_at = now + visibility
                message.receipt = receipt
                claimed = conn.execute(
                    queue_messages.update()
                    .where(and_(t.id == message.id, t.visible_at <= now))  # not taken by a concurrent receive
                    .values(
                        receive_count=message.receive_count,
                        first_received_at=message.first_received_at,
                        visible_at=message.visible_at,
                        receipt=receipt,
                    )
                )
                if not claimed.rowcount:
                    continue
                out.append(message)
        return out

    def move_exhausted(
        self, account: str, region: str, queue: str, max_receives: int, target: tuple[str, str, str]
    ) -> int:
        """Move the visible messages received ``max_receives`` times or more to the ``target`` queue
        (account, region, name): a redrive policy's dead-letter queue. They keep their id, body and
        sent time; their receive count starts again."""
        t = queue_messages.c
        now = time.time()
        with self.db.begin() as conn:
            ids = [
                i
                for (i,) in conn.execute(
                    select(t.id)
                    .where(
                        and_(
                            self._queue(account, region, queue),
                            t.visible_at <= now,
                            t.receive_count >= max_receives,
                        )
                    )
                    .order_by(t.seq)
                )
            ]
            if not ids:
                return 0
            last = conn.execute(select(func.max(t.seq)).where(self._queue(*target))).scalar() or 0
            for offset, message_id in enumerate(ids, start=1):
                conn.execute(
                    queue_messages.update()
                    .where(t.id == message_id)
                    .values(
                        account_id=target[0],
                        region=target[1],
                        queue=target[2],
                        seq=last + offset,
                        receive_count=0,
                        first_received_at=None,
                        receipt=None,
                        visible_at=now,
                    )
                )
        return len(ids)

    def delete(self, account: str, region: str, queue: str, message_id: str) -> bool:
        t = queue_messages.c
        with self.db.begin() as conn:
            result = conn.execute(
                queue_messages.delete().where(and_(self._queue(account, region, queue), t.id == message_id))
            )
        return bool(result.rowcount)

    def change_visibility(
        self, account: str, region: str, queue: str, message_id: str, receipt: str, timeout: float
    ) -> bool:
        """Hide (or show) an in-flight message until ``now + timeout``; False if it is not in flight
        under this receipt handle."""
        t = queue_messages.c
        now = time.time()
        with self.db.begin() as conn:
            result = conn.execute(
                queue_messages.update()
                .where(
                    and_(
                        self._queue(account, region, queue),
                        t.id == message_id,
                        t.receipt == receipt,
                        t.visible_at > now,
                    )
                )
                .values(visible_at=now + timeout)
            )
        return bool(result.rowcount)

    def purge(self, account: str, region: str, queue: str) -> int:
        with self.db.begin() as conn:
            return conn.execute(queue_messages.delete().where(self._queue(account, region, queue))).rowcount

    def counts(self, account: str, region: str, queue: str, now: float | None = None) -> QueueCounts:
        now = time.time() if now is None else now
        t = queue_messages.c
        cond = self._queue(account, region, queue)
        with self.db.connect() as conn:
            visible = conn.execute(select(func.count()).where(and_(cond, t.visible_at <= now))).scalar()
            in_flight = conn.execute(
                select(func.count()).where(and_(cond, t.visible_at > now, t.receive_count > 0))
            ).scalar()
            delayed = conn.execute(
                select(func.count()).where(and_(cond, t.visible_at > now, t.receive_count == 0))
            ).scalar()
        return QueueCounts(visible or 0, in_flight or 0, delayed or 0)


def new_receipt(message_id: str) -> str:
    return f"{message_id}:{secrets.token_urlsafe(24)}"


def receipt_message_id(receipt: str) -> str | None:
    """The message a receipt handle names, or None when it is not one of ours."""
    message_id, sep, nonce = (receipt or "").partition(":")
    if not sep or not nonce or len(message_id) != 36:
        return None
    return message_id


def queue_message_store(platform) -> QueueMessageStore:
    return platform.component("queue-messages", lambda p: QueueMessageStore(p.db))
