"""The log store: log groups, log streams and their events (SQLAlchemy Core), for every account and
region. Events are ordered by ``(timestamp, id)``; ``id`` is the insertion order, so events with equal
timestamps keep the order they were written in. Listing, filtering and paging happen in SQL.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Sequence

from sqlalchemy import and_, case, delete, func, select, update
from sqlalchemy.exc import IntegrityError

from .. import tokens
from ..errors import AlreadyExists, NotFound
from . import reads
from .records import (
    EventFilter,
    EventsPage,
    FilterPage,
    LogGroup,
    LogStream,
    PutResult,
    group_from_row,
    stream_from_row,
)
from .tables import keyset, log_events, log_groups, log_streams
from .writer import LogWriter, now_ms

GROUP = "log group"  # the kinds NotFound / AlreadyExists name
STREAM = "log stream"


class LogStore:
    """Log groups, streams and events for every account and region."""

    def __init__(self, db):
        self.db = db
        self._stream_ids: dict[tuple[str, str, str, str], int] = {}  # append() cache, per instance
        self._lock = threading.Lock()

    # -- groups ---------------------------------------------------------------------------

    def create_group(
        self,
        account: str,
        region: str,
        name: str,
        *,
        kms_key_id: str | None = None,
        log_group_class: str | None = None,
        tags: dict | None = None,
    ) -> LogGroup:
        row = dict(
            account_id=account,
            region=region,
            name=name,
            created_at=now_ms(),
            retention_days=None,
            kms_key_id=kms_key_id,
            log_group_class=log_group_class or "STANDARD",
            tags=json.dumps(tags) if tags else None,
        )
        with self.db.begin() as conn:
            if self._group_row(conn, account, region, name) is not None:
                raise AlreadyExists(GROUP, name)
            row["id"] = conn.execute(log_groups.insert().values(**row)).inserted_primary_key[0]
        return group_from_row(row)

    def get_group(self, account: str, region: str, name: str) -> LogGroup:
        with self.db.connect() as conn:
            row = self._group_row(conn, account, region, name)
        if row is None:
            raise NotFound(GROUP, name)
        return group_from_row(row)

    def delete_group(self, account: str, region: str, name: str) -> None:
        with self.db.begin() as conn:
            row = self._group_row(conn, account, region, name)
            if row is None:
                raise NotFound(GROUP, name)
            streams = select(log_streams.c.id).where(log_streams.c.group_id == row["id"])
            conn.execute(delete(log_events).where(log_events.c.stream_id.in_(streams)))
            conn.execute(delete(log_streams).where(log_streams.c.group_id == row["id"]))
            conn.execute(delete(log_groups).where(log_groups.c.id == row["id"]))
        self._forget(account, region, name)

    def set_retention(self, account: str, region: str, name: str, days: int | None) -> None:
        with self.db.begin() as conn:
            result = conn.execute(
                update(log_groups)
                .where(
                    and_(
                        log_groups.c.account_id == account,
                        log_groups.c.region == region,
                        log_groups.c.name == name,
                    )
                )
                .values(retention_days=days)
            )
        if not result.rowcount:
            raise NotFound(GROUP, name)

    def list_groups(
        self,
        account: str,
        region: str,
        *,
        prefix: str | None = None,
        pattern: str | None = None,
        group_class: str | None = None,
        names: Sequence[str] | None = None,
        limit: int = 50,
        token: str | None = None,
    ) -> tuple[list[LogGroup], str | None]:
        condition = and_(log_groups.c.account_id == account, log_groups.c.region == region)
        if prefix:
            condition = and_(condition, log_groups.c.name.startswith(prefix, autoescape=True))
        if pattern:
            condition = and_(
                condition, func.lower(log_groups.c.name).contains(pattern.lower(), autoescape=True)
            )
        if group_class:
            condition = and_(condition, log_groups.c.log_group_class == group_class)
        if names:
            condition = and_(condition, log_groups.c.name.in_(list(names)))
        if token:
            condition = and_(condition, log_groups.c.name > str(tokens.decode(token).get("after", "")))
        stmt = select(log_groups).where(condition).order_by(log_groups.c.name).limit(limit + 1)
        with self.db.connect() as conn:
            rows = conn.execute(stmt).mappings().all()
            groups = [group_from_row(r) for r in rows[:limit]]
            self._fill_group_bytes(conn, groups)
        next_token = tokens.encode({"after": groups[-1].name}) if len(rows) > limit else None
        return groups, next_token

    # -- streams --------------------------------------------------------------------------

    def create_stream(self, account: str, region: str, group_name: str, name: str) -> LogStream:
        with self.db.begin() as conn:
            group_row = self._group_row(conn, account, region, group_name)
            if group_row is None:
                raise NotFound(GROUP, group_name)
            group = group_from_row(group_row)
            if self._stream_row(conn, group.id, name) is not None:
                raise AlreadyExists(STREAM, name)
            row = dict(
                group_id=group.id,
                name=name,
                created_at=now_ms(),
                first_event_ts=None,
                last_event_ts=None,
                last_ingestion_time=None,
                sequence=1,
                stored_bytes=0,
            )
            row["id"] = conn.execute(log_streams.insert().values(**row)).inserted_primary_key[0]
        return stream_from_row(row, group)

    def get_stream(self, account: str, region: str, group_name: str, name: str) -> LogStream:
        with self.db.connect() as conn:
            return self._require_stream(conn, account, region, group_name, name)

    def delete_stream(self, account: str, region: str, group_name: str, name: str) -> None:
        with self.db.begin() as conn:
            stream = self._require_stream(conn, account, region, group_name, name)
            conn.execute(delete(log_events).where(log_events.c.stream_id == stream.id))
            conn.execute(delete(log_streams).where(log_streams.c.id == stream.id))
        self._forget(account, region, group_name, name)

    def list_streams(
        self,
        account: str,
        region: str,
        group_name: str,
        *,
        prefix: str | None = None,
        order_by: str = "LogStreamName",
        descending: bool = False,
        limit: int = 50,
        token: str | None = None,
    ) -> tuple[list[LogStream], str | None]:
        """Streams of a group; a token is returned only when another page really exists.
        ``order_by="LastEventTime"`` ignores ``prefix`` (the API refuses the combination)."""
        with self.db.connect() as conn:
            group_row = self._group_row(conn, account, region, group_name)
            if group_row is None:
                raise NotFound(GROUP, group_name)
            group = group_from_row(group_row)
            condition = log_streams.c.group_id == group.id
            if prefix:
                condition = and_(condition, log_streams.c.name.startswith(prefix, autoescape=True))
            if order_by == "LastEventTime":
                # Streams without events sort as time 0 (before everything), ties by id.
                key = func.coalesce(log_streams.c.last_event_ts, 0)
                columns = (key, log_streams.c.id)
            else:
                columns = (log_streams.c.name,)
            if token:
                after = tokens.decode_after(token, len(columns))
                condition = and_(condition, keyset(columns, after, descending))
            order = [c.desc() if descending else c.asc() for c in columns]
            rows = (
                conn.execute(select(log_streams).where(condition).order_by(*order).limit(limit + 1))
                .mappings()
                .all()
            )
        streams = [stream_from_row(r, group) for r in rows[:limit]]
        next_token = None
        if len(rows) > limit:
            last = streams[-1]
            after = [last.last_event_ts or 0, last.id] if order_by == "LastEventTime" else [last.name]
            next_token = tokens.encode({"after": after})
        return streams, next_token

    # -- writing events -------------------------------------------------------------------

    def put_events(
        self,
        account: str,
        region: str,
        group_name: str,
        stream_name: str,
        events: Sequence[tuple[int, str]],
        *,
        now: int | None = None,
    ) -> PutResult:
        """PutLogEvents for a batch the API has checked (non-empty, in order): too-old/too-new events
        reported, the rest stored."""
        now = now_ms() if now is None else now
        timestamps = [ts for ts, _ in events]
        with self.db.begin() as conn:
            stream = self._require_stream(conn, account, region, group_name, stream_name)
            retention = stream.group.retention_days
            too_new_at = next((i for i, ts in enumerate(timestamps) if ts > now + 2 * 3600 * 1000), None)
            old_limit = now - 14 * 86400 * 1000
            expired_limit = now - retention * 86400 * 1000 if retention else None
            too_old_end = max((i for i, ts in enumerate(timestamps) if ts < old_limit), default=None)
            expired_end = (
                max((i for i, ts in enumerate(timestamps) if ts < expired_limit), default=None)
                if expired_limit is not None
                else None
            )
            rejected: dict = {}
            if too_new_at is not None:
                rejected["tooNewLogEventStartIndex"] = too_new_at
            if too_old_end is not None:
                rejected["tooOldLogEventEndIndex"] = too_old_end
            if expired_end is not None:
                rejected["expiredLogEventEndIndex"] = expired_end
            first = max(i for i in (too_old_end, expired_end, -1) if i is not None) + 1
            last = too_new_at if too_new_at is not None else len(events)
            accepted = events[first:last]
            sequence = self._insert(conn, stream.id, accepted, now, stream.sequence)
        return PutResult(sequence=sequence, rejected=rejected)

    def append(
        self, account: str, region: str, group_name: str, stream_name: str, events: Iterable[tuple[int, str]]
    ) -> int:
        """Store events for a stream, creating its group and stream if needed (for subsystems:
        training jobs, endpoint workers). One transaction per call; returns the number stored."""
        batch = sorted(events, key=lambda e: e[0])
        if not batch:
            return 0
        key = (account, region, group_name, stream_name)
        for attempt in range(3):
            stream_id = self._stream_ids.get(key)
            try:
                with self.db.begin() as conn:
                    if stream_id is None:
                        stream_id = self._ensure_stream(conn, account, region, group_name, stream_name)
                    self._insert(conn, stream_id, batch, now_ms(), None)
                with self._lock:
                    if len(self._stream_ids) > 4096:
                        self._stream_ids.clear()
                    self._stream_ids[key] = stream_id
                return len(batch)
            except (IntegrityError, _StreamGone):
                # The cached stream was deleted meanwhile, or another writer created it first.
                self._forget(account, region, group_name, stream_name)
                if attempt == 2:
                    raise
        return 0

    def writer(
        self,
        account: str,
        region: str,
        group_name: str,
        stream_name: str,
        *,
        max_events: int = 500,
        max_delay: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> LogWriter:
        return LogWriter(self, account, region, group_name, stream_name, max_events, max_delay, clock)

    def _insert(
        self, conn, stream_id: int, events: Sequence[tuple[int, str]], ingestion: int, sequence: int | None
    ) -> int:
        if events:
            conn.execute(
                log_events.insert(),
                [
                    {
                        "stream_id": stream_id,
                        "timestamp": int(ts),
                        "ingestion_time": ingestion,
                        "message": message,
                    }
                    for ts, message in events
                ],
            )
        low = min(int(ts) for ts, _ in events) if events else None
        high = max(int(ts) for ts, _ in events) if events else None
        size = sum(len(m) for _, m in events)
        values: dict = {
            "sequence": log_streams.c.sequence + 1,
            "stored_bytes": log_streams.c.stored_bytes + size,
        }
        if events:
            values["last_ingestion_time"] = ingestion
            values["first_event_ts"] = _least(log_streams.c.first_event_ts, low)
            values["last_event_ts"] = _greatest(log_streams.c.last_event_ts, high)
        result = conn.execute(update(log_streams).where(log_streams.c.id == stream_id).values(**values))
        if not result.rowcount:
            raise _StreamGone()
        return (sequence or 0) + 1

    # -- reading events -------------------------------------------------------------------

    def get_events(
        self,
        account: str,
        region: str,
        group_name: str,
        stream_name: str,
        *,
        start_time: int | None = None,
        end_time: int | None = None,
        token: str | None = None,
        limit: int | None = None,
        start_from_head: bool = False,
    ) -> EventsPage:
        """GetLogEvents: one stream's events from a position (see ``reads.events_page``)."""
        with self.db.connect() as conn:
            stream = self._require_stream(conn, account, region, group_name, stream_name)
            return reads.events_page(
                conn,
                stream.id,
                start_time=start_time,
                end_time=end_time,
                token=token,
                limit=limit,
                start_from_head=start_from_head,
            )

    def filter_events(
        self,
        account: str,
        region: str,
        group_name: str,
        *,
        stream_names: Sequence[str] | None = None,
        stream_prefix: str | None = None,
        start_time: int | None = None,
        end_time: int | None = None,
        pattern: EventFilter | None = None,
        limit: int | None = None,
        token: str | None = None,
    ) -> FilterPage:
        """FilterLogEvents across the group's streams (all, named, or by prefix), keyset-paged."""
        with self.db.connect() as conn:
            group_row = self._group_row(conn, account, region, group_name)
            if group_row is None:
                raise NotFound(GROUP, group_name)
            stream_query = select(log_streams.c.id, log_streams.c.name).where(
                log_streams.c.group_id == group_row["id"]
            )
            if stream_names:
                stream_query = stream_query.where(log_streams.c.name.in_(list(stream_names)))
            if stream_prefix:
                stream_query = stream_query.where(
                    log_streams.c.name.startswith(stream_prefix, autoescape=True)
                )
            streams = dict(conn.execute(stream_query).all())
            if not streams:
                if stream_names:
                    raise NotFound(STREAM, ", ".join(stream_names))
                return FilterPage([], [], None)
            return reads.filter_page(
                conn,
                streams,
                start_time=start_time,
                end_time=end_time,
                pattern=pattern if pattern is not None else EventFilter(),
                limit=limit,
                token=token,
            )

    # -- retention ------------------------------------------------------------------------

    def expire(self, now: int | None = None) -> int:
        """Delete events older than their group's retention; returns how many went."""
        now = now_ms() if now is None else now
        removed = 0
        with self.db.connect() as conn:
            groups = conn.execute(
                select(log_groups.c.id, log_groups.c.retention_days).where(
                    log_groups.c.retention_days.is_not(None)
                )
            ).all()
        for group_id, days in groups:
            cutoff = now - int(days) * 86400 * 1000
            streams = select(log_streams.c.id).where(log_streams.c.group_id == group_id)
            with self.db.begin() as conn:
                result = conn.execute(
                    delete(log_events).where(
                        and_(log_events.c.stream_id.in_(streams), log_events.c.timestamp < cutoff)
                    )
                )
                removed += result.rowcount or 0
        return removed

    # -- helpers --------------------------------------------------------------------------

    def _group_row(self, conn, account: str, region: str, name: str):
        return (
            conn.execute(
                select(log_groups).where(
                    and_(
                        log_groups.c.account_id == account,
                        log_groups.c.region == region,
                        log_groups.c.name == name,
                    )
                )
            )
            .mappings()
            .first()
        )

    def _stream_row(self, conn, group_id: int, name: str):
        return (
            conn.execute(
                select(log_streams).where(
                    and_(log_streams.c.group_id == group_id, log_streams.c.name == name)
                )
            )
            .mappings()
            .first()
        )

    def _require_stream(self, conn, account: str, region: str, group_name: str, name: str) -> LogStream:
        group_row = self._group_row(conn, account, region, group_name)
        if group_row is None:
            raise NotFound(GROUP, group_name)
        row = self._stream_row(conn, group_row["id"], name)
        if row is None:
            raise NotFound(STREAM, name)
        return stream_from_row(row, group_from_row(group_row))

    def _ensure_stream(self, conn, account: str, region: str, group_name: str, name: str) -> int:
        group_row = self._group_row(conn, account, region, group_name)
        if group_row is None:
            group_id = conn.execute(
                log_groups.insert().values(
                    account_id=account,
                    region=region,
                    name=group_name,
                    created_at=now_ms(),
                    log_group_class="STANDARD",
                )
            ).inserted_primary_key[0]
        else:
            group_id = group_row["id"]
        row = self._stream_row(conn, group_id, name)
        if row is not None:
            return row["id"]
        return conn.execute(
            log_streams.insert().values(
                group_id=group_id, name=name, created_at=now_ms(), sequence=1, stored_bytes=0
            )
        ).inserted_primary_key[0]

    def _fill_group_bytes(self, conn, groups: list[LogGroup]) -> None:
        if not groups:
            return
        rows = conn.execute(
            select(log_streams.c.group_id, func.sum(log_streams.c.stored_bytes))
            .where(log_streams.c.group_id.in_([g.id for g in groups]))
            .group_by(log_streams.c.group_id)
        ).all()
        sizes = {group_id: int(total or 0) for group_id, total in rows}
        for group in groups:
            group.stored_bytes = sizes.get(group.id, 0)

    def _forget(self, account: str, region: str, group_name: str, stream_name: str | None = None) -> None:
        with self._lock:
            for key in [
                k
                for k in self._stream_ids
                if k[:3] == (account, region, group_name) and (stream_name is None or k[3] == stream_name)
            ]:
                self._stream_ids.pop(key, None)


class _StreamGone(Exception):
    pass


def _least(column, value: int):
    return case((column.is_(None), value), (column > value, value), else_=column)


def _greatest(column, value: int):
    return case((column.is_(None), value), (column < value, value), else_=column)
