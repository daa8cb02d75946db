"""CloudWatch Logs storage: log groups, log streams and their events (SQLAlchemy Core).

Events are ordered by ``(timestamp, id)``; ``id`` is the insertion order, so events with equal
timestamps keep the order they were written in. Listing, filtering and paging happen in SQL; paging
through events is keyset-based (a token names the last ``(timestamp, id)`` seen), so pages stay
correct while new events arrive.

Other subsystems write through :meth:`LogStore.append` (groups and streams created on demand, one
transaction per batch) or a :class:`LogWriter` that buffers lines for one stream.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

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
    delete,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from ..protocol.errors import ServiceError
from .schema import metadata

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

GROUP_NOT_FOUND = "The specified log group does not exist."
STREAM_NOT_FOUND = "The specified log stream does not exist."
#: Retention periods PutRetentionPolicy accepts (days).
RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192,
                  2557, 2922, 3288, 3653)
EVENT_OVERHEAD = 26  # bytes AWS counts per event on top of the UTF-8 message
MAX_EVENTS_PER_PAGE = 10000
MAX_PAGE_BYTES = 1024 * 1024
FILTER_SCAN_LIMIT = 20000  # rows examined per FilterLogEvents call before returning a token


def now_ms() -> int:
    return int(time.time() * 1000)


def not_found(message: str) -> ServiceError:
    return ServiceError("ResourceNotFoundException", message, 400)


def invalid(message: str) -> ServiceError:
    return ServiceError("InvalidParameterException", message, 400)


# -- tokens -----------------------------------------------------------------------------------

def _encode(payload: dict) -> str:
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(token: str) -> dict:
    try:
        padded = token + "=" * (-len(token) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(value, dict):
            raise ValueError
        return value
    except (ValueError, TypeError, UnicodeDecodeError):
        raise invalid("The specified nextToken is invalid.") from None


def event_token(direction: str, timestamp: int, event_id: int) -> str:
    """``f/…`` (events after the position) or ``b/…`` (events before it), as AWS spells them."""
    return f"{direction}/{timestamp}/{event_id}"


def parse_event_token(token: str) -> tuple[str, int, int]:
    match = re.fullmatch(r"([fb])/(-?\d{1,20})/(\d{1,20})", token or "")
    if not match:
        raise invalid("The specified nextToken is invalid.")
    return match.group(1), int(match.group(2)), int(match.group(3))


# -- domain objects ---------------------------------------------------------------------------

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

    @property
    def arn(self) -> str:
        return f"arn:aws:logs:{self.region}:{self.account_id}:log-group:{self.name}"

    def describe(self) -> dict:
        return {
            "logGroupName": self.name,
            "creationTime": self.created_at,
            "retentionInDays": self.retention_days,
            "metricFilterCount": 0,
            "arn": self.arn + ":*",
            "logGroupArn": self.arn,
            "storedBytes": self.stored_bytes,
            "kmsKeyId": self.kms_key_id,
            "logGroupClass": self.log_group_class,
        }


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

    def describe(self) -> dict:
        return {
            "logStreamName": self.name,
            "creationTime": self.created_at,
            "firstEventTimestamp": self.first_event_ts,
            "lastEventTimestamp": self.last_event_ts,
            "lastIngestionTime": self.last_ingestion_time,
            "uploadSequenceToken": f"{self.sequence:056d}",
            "arn": f"{self.group.arn}:log-stream:{self.name}",
            "storedBytes": 0,
        }


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


# -- filter patterns --------------------------------------------------------------------------

@dataclass(frozen=True)
class FilterPattern:
    """The text form of CloudWatch Logs filter patterns: ``ERROR``, ``"exact phrase"``, several
    terms (all must match), ``?a ?b`` (any), ``-term`` (must not match), ``%regex%``. Matching is
    case-sensitive, as in AWS."""

    required: tuple[str, ...] = ()
    any_of: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()
    regex: re.Pattern | None = None

    @classmethod
    def parse(cls, text: str | None) -> FilterPattern:
        text = (text or "").strip()
        if not text or text in ('""', "''"):
            return cls()
        if len(text) >= 2 and text[0] == "%" and text[-1] == "%":
            try:
                return cls(regex=re.compile(text[1:-1]))
            except re.error:
                raise invalid("Invalid filter pattern: the regular expression does not compile.") from None
        if text[0] in "{[":
            raise invalid("Invalid filter pattern: JSON ({ $.field = … }) and space-delimited ([a, b]) "
                          "patterns are not supported by sagestack; use terms, \"quoted phrases\", "
                          "?optional, -excluded or %regex%.")
        required: list[str] = []
        any_of: list[str] = []
        excluded: list[str] = []
        for match in re.finditer(r'([?-]?)(?:"((?:[^"\\]|\\.)*)"|(\S+))', text):
            prefix, quoted, bare = match.groups()
            term = quoted.replace('\\"', '"') if quoted is not None else bare
            if not term:
                continue
            {"": required, "?": any_of, "-": excluded}[prefix].append(term)
        return cls(tuple(required), tuple(any_of), tuple(excluded))

    @property
    def empty(self) -> bool:
        return not (self.required or self.any_of or self.excluded or self.regex)

    def matches(self, message: str) -> bool:
        if self.regex is not None:
            return self.regex.search(message) is not None
        if any(term not in message for term in self.required):
            return False
        if self.any_of and not any(term in message for term in self.any_of):
            return False
        return not any(term in message for term in self.excluded)


# -- the store --------------------------------------------------------------------------------

def _group_from_row(row) -> LogGroup:
    return LogGroup(id=row["id"], account_id=row["account_id"], region=row["region"], name=row["name"],
                    created_at=row["created_at"], retention_days=row["retention_days"],
                    kms_key_id=row["kms_key_id"], log_group_class=row["log_group_class"] or "STANDARD")


def _stream_from_row(row, group: LogGroup) -> LogStream:
    return LogStream(id=row["id"], group=group, name=row["name"], created_at=row["created_at"],
                     first_event_ts=row["first_event_ts"], last_event_ts=row["last_event_ts"],
                     last_ingestion_time=row["last_ingestion_time"], sequence=row["sequence"] or 0,
                     stored_bytes=row["stored_bytes"] or 0)


class LogStore:
    """Log groups, streams and events for every account and region."""

    def __init__(self, db):
        self.db = db
        self._stream_ids: dict[tuple[str, str, str, str], int] = {}  # append() cache, per instance
        self._lock = threading.Lock()

    # -- groups ---------------------------------------------------------------------------

    def create_group(self, account: str, region: str, name: str, *, kms_key_id: str | None = None,
                     log_group_class: str | None = None, tags: dict | None = None) -> LogGroup:
        row = dict(account_id=account, region=region, name=name, created_at=now_ms(),
                   retention_days=None, kms_key_id=kms_key_id,
                   log_group_class=log_group_class or "STANDARD",
                   tags=json.dumps(tags) if tags else None)
        with self.db.begin() as conn:
            if self._group_row(conn, account, region, name) is not None:
                raise ServiceError("ResourceAlreadyExistsException",
                                   "The specified log group already exists", 400)
            row["id"] = conn.execute(log_groups.insert().values(**row)).inserted_primary_key[0]
        return _group_from_row(row)

    def get_group(self, account: str, region: str, name: str) -> LogGroup:
        with self.db.connect() as conn:
            row = self._group_row(conn, account, region, name)
        if row is None:
            raise not_found(GROUP_NOT_FOUND)
        return _group_from_row(row)

    def delete_group(self, account: str, region: str, name: str) -> None:
        with self.db.begin() as conn:
            row = self._group_row(conn, account, region, name)
            if row is None:
                raise not_found(GROUP_NOT_FOUND)
            streams = select(log_streams.c.id).where(log_streams.c.group_id == row["id"])
            conn.execute(delete(log_events).where(log_events.c.stream_id.in_(streams)))
            conn.execute(delete(log_streams).where(log_streams.c.group_id == row["id"]))
            conn.execute(delete(log_groups).where(log_groups.c.id == row["id"]))
        self._forget(account, region, name)

    def set_retention(self, account: str, region: str, name: str, days: int | None) -> None:
        if days is not None and days not in RETENTION_DAYS:
            raise invalid(f"1 validation error detected: Value '{days}' at 'retentionInDays' failed to "
                          f"satisfy constraint: Member must satisfy enum value set: "
                          f"[{', '.join(str(d) for d in RETENTION_DAYS)}]")
        with self.db.begin() as conn:
            result = conn.execute(update(log_groups).where(and_(
                log_groups.c.account_id == account, log_groups.c.region == region,
                log_groups.c.name == name)).values(retention_days=days))
        if not result.rowcount:
            raise not_found(GROUP_NOT_FOUND)

    def list_groups(self, account: str, region: str, *, prefix: str | None = None,
                    pattern: str | None = None, group_class: str | None = None,
                    names: Sequence[str] | None = None, limit: int = 50,
                    token: str | None = None) -> tuple[list[LogGroup], str | None]:
        condition = and_(log_groups.c.account_id == account, log_groups.c.region == region)
        if prefix:
            condition = and_(condition, log_groups.c.name.startswith(prefix, autoescape=True))
        if pattern:
            condition = and_(condition, func.lower(log_groups.c.name).contains(pattern.lower(),
                                                                               autoescape=True))
        if group_class:
            condition = and_(condition, log_groups.c.log_group_class == group_class)
        if names:
            condition = and_(condition, log_groups.c.name.in_(list(names)))
        if token:
            condition = and_(condition, log_groups.c.name > str(_decode(token).get("after", "")))
        stmt = select(log_groups).where(condition).order_by(log_groups.c.name).limit(limit + 1)
        with self.db.connect() as conn:
            rows = conn.execute(stmt).mappings().all()
            groups = [_group_from_row(r) for r in rows[:limit]]
            self._fill_group_bytes(conn, groups)
        next_token = _encode({"after": groups[-1].name}) if len(rows) > limit else None
        return groups, next_token

    # -- streams --------------------------------------------------------------------------

    def create_stream(self, account: str, region: str, group_name: str, name: str) -> LogStream:
        with self.db.begin() as conn:
            group_row = self._group_row(conn, account, region, group_name)
            if group_row is None:
                raise not_found(GROUP_NOT_FOUND)
            group = _group_from_row(group_row)
            if self._stream_row(conn, group.id, name) is not None:
                raise ServiceError("ResourceAlreadyExistsException",
                                   "The specified log stream already exists", 400)
            row = dict(group_id=group.id, name=name, created_at=now_ms(), first_event_ts=None,
                       last_event_ts=None, last_ingestion_time=None, sequence=1, stored_bytes=0)
            row["id"] = conn.execute(log_streams.insert().values(**row)).inserted_primary_key[0]
        return _stream_from_row(row, group)

    def get_stream(self, account: str, region: str, group_name: str, name: str) -> LogStream:
        with self.db.connect() as conn:
            return self._require_stream(conn, account, region, group_name, name)

    def delete_stream(self, account: str, region: str, group_name: str, name: str) -> None:
        with self.db.begin() as conn:
            stream = self._require_stream(conn, account, region, group_name, name)
            conn.execute(delete(log_events).where(log_events.c.stream_id == stream.id))
            conn.execute(delete(log_streams).where(log_streams.c.id == stream.id))
        self._forget(account, region, group_name, name)

    def list_streams(self, account: str, region: str, group_name: str, *, prefix: str | None = None,
                     order_by: str = "LogStreamName", descending: bool = False, limit: int = 50,
                     token: str | None = None) -> tuple[list[LogStream], str | None]:
        """Streams of a group; a token is returned only when another page really exists."""
        if order_by == "LastEventTime" and prefix:
            raise invalid("Cannot order by LastEventTime with a logStreamNamePrefix.")
        with self.db.connect() as conn:
            group_row = self._group_row(conn, account, region, group_name)
            if group_row is None:
                raise not_found(GROUP_NOT_FOUND)
            group = _group_from_row(group_row)
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
                after = _decode(token).get("after")
                if not isinstance(after, list) or len(after) != len(columns):
                    raise invalid("The specified nextToken is invalid.")
                condition = and_(condition, _keyset(columns, after, descending))
            order = [c.desc() if descending else c.asc() for c in columns]
            rows = conn.execute(select(log_streams).where(condition).order_by(*order)
                                .limit(limit + 1)).mappings().all()
        streams = [_stream_from_row(r, group) for r in rows[:limit]]
        next_token = None
        if len(rows) > limit:
            last = streams[-1]
            after = [last.last_event_ts or 0, last.id] if order_by == "LastEventTime" else [last.name]
            next_token = _encode({"after": after})
        return streams, next_token

    # -- writing events -------------------------------------------------------------------

    def put_events(self, account: str, region: str, group_name: str, stream_name: str,
                   events: Sequence[tuple[int, str]], *, now: int | None = None) -> PutResult:
        """PutLogEvents: AWS's checks, too-old/too-new events reported, the rest stored."""
        now = now_ms() if now is None else now
        if not events:
            raise invalid("The batch of log events in a single PutLogEvents request cannot be empty.")
        timestamps = [ts for ts, _ in events]
        if any(b < a for a, b in itertools.pairwise(timestamps)):
            raise invalid("Log events in a single PutLogEvents request must be in chronological order.")
        if timestamps[-1] - timestamps[0] > 24 * 3600 * 1000:
            raise invalid("Log events in a single PutLogEvents request cannot span more than 24 hours.")
        size = sum(len(m.encode("utf-8")) + EVENT_OVERHEAD for _, m in events)
        if size > 1048576:
            raise invalid("Upload too large: the batch of log events exceeds 1,048,576 bytes.")
        with self.db.begin() as conn:
            stream = self._require_stream(conn, account, region, group_name, stream_name)
            retention = stream.group.retention_days
            too_new_at = next((i for i, ts in enumerate(timestamps) if ts > now + 2 * 3600 * 1000), None)
            old_limit = now - 14 * 86400 * 1000
            expired_limit = now - retention * 86400 * 1000 if retention else None
            too_old_end = max((i for i, ts in enumerate(timestamps) if ts < old_limit), default=None)
            expired_end = (max((i for i, ts in enumerate(timestamps) if ts < expired_limit), default=None)
                           if expired_limit is not None else None)
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

    def append(self, account: str, region: str, group_name: str, stream_name: str,
               events: Iterable[tuple[int, str]]) -> int:
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

    def writer(self, account: str, region: str, group_name: str, stream_name: str, *,
               max_events: int = 500, max_delay: float = 1.0,
               clock: Callable[[], float] = time.monotonic) -> LogWriter:
        return LogWriter(self, account, region, group_name, stream_name, max_events, max_delay, clock)

    def _insert(self, conn, stream_id: int, events: Sequence[tuple[int, str]], ingestion: int,
                sequence: int | None) -> int:
        if events:
            conn.execute(log_events.insert(), [
                {"stream_id": stream_id, "timestamp": int(ts), "ingestion_time": ingestion,
                 "message": message} for ts, message in events])
        low = min(int(ts) for ts, _ in events) if events else None
        high = max(int(ts) for ts, _ in events) if events else None
        size = sum(len(m) for _, m in events)
        values: dict = {"sequence": log_streams.c.sequence + 1,
                        "stored_bytes": log_streams.c.stored_bytes + size}
        if events:
            values["last_ingestion_time"] = ingestion
            values["first_event_ts"] = _least(log_streams.c.first_event_ts, low)
            values["last_event_ts"] = _greatest(log_streams.c.last_event_ts, high)
        result = conn.execute(update(log_streams).where(log_streams.c.id == stream_id).values(**values))
        if not result.rowcount:
            raise _StreamGone()
        return (sequence or 0) + 1

    # -- reading events -------------------------------------------------------------------

    def get_events(self, account: str, region: str, group_name: str, stream_name: str, *,
                   start_time: int | None = None, end_time: int | None = None,
                   token: str | None = None, limit: int | None = None,
                   start_from_head: bool = False) -> EventsPage:
        """GetLogEvents. Tokens are positions: ``f/`` reads forward after one, ``b/`` backward
        before one. A page with no events returns the forward token it was given, so readers that
        loop until an empty page (SDK v2) stop, and readers that poll with it see new events."""
        limit = min(limit or MAX_EVENTS_PER_PAGE, MAX_EVENTS_PER_PAGE)
        direction, position = ("f" if start_from_head else "b"), None
        if token:
            direction, ts, event_id = parse_event_token(token)
            position = (ts, event_id)
        with self.db.connect() as conn:
            stream = self._require_stream(conn, account, region, group_name, stream_name)
            condition = log_events.c.stream_id == stream.id
            if start_time is not None:
                condition = and_(condition, log_events.c.timestamp >= start_time)
            if end_time is not None:
                condition = and_(condition, log_events.c.timestamp < end_time)
            columns = (log_events.c.timestamp, log_events.c.id)
            forward = direction == "f"
            if position is not None:
                condition = and_(condition, _keyset(columns, list(position), not forward))
            order = [c.asc() for c in columns] if forward else [c.desc() for c in columns]
            stmt = select(log_events.c.id, log_events.c.timestamp, log_events.c.ingestion_time,
                          log_events.c.message).where(condition).order_by(*order).limit(limit)
            rows = _cap_bytes(conn.execute(stmt).all())
        if not forward:
            rows.reverse()
        events = [{"timestamp": r.timestamp, "message": r.message, "ingestionTime": r.ingestion_time}
                  for r in rows]
        if rows:
            first, last = rows[0], rows[-1]
            return EventsPage(events, event_token("f", last.timestamp, last.id),
                              event_token("b", first.timestamp, first.id))
        if token:
            # Nothing in that direction: hand back the same position both ways.
            ts, event_id = position
            return EventsPage([], event_token("f", ts, event_id), event_token("b", ts, event_id))
        # Empty stream/window: forward starts before everything, backward after everything.
        low = (start_time - 1) if start_time is not None else -1
        high = end_time if end_time is not None else 10 ** 19
        return EventsPage([], event_token("f", low, 10 ** 19), event_token("b", high, 0))

    def filter_events(self, account: str, region: str, group_name: str, *,
                      stream_names: Sequence[str] | None = None, stream_prefix: str | None = None,
                      start_time: int | None = None, end_time: int | None = None,
                      pattern: FilterPattern = FilterPattern(), limit: int | None = None,
                      token: str | None = None) -> FilterPage:
        """FilterLogEvents across streams, in (timestamp, id) order, keyset-paged."""
        limit = min(limit or MAX_EVENTS_PER_PAGE, MAX_EVENTS_PER_PAGE)
        with self.db.connect() as conn:
            group_row = self._group_row(conn, account, region, group_name)
            if group_row is None:
                raise not_found(GROUP_NOT_FOUND)
            stream_query = select(log_streams.c.id, log_streams.c.name).where(
                log_streams.c.group_id == group_row["id"])
            if stream_names:
                stream_query = stream_query.where(log_streams.c.name.in_(list(stream_names)))
            if stream_prefix:
                stream_query = stream_query.where(log_streams.c.name.startswith(stream_prefix,
                                                                                autoescape=True))
            names = dict(conn.execute(stream_query).all())
            if not names:
                if stream_names:
                    raise not_found(STREAM_NOT_FOUND)
                return FilterPage([], [], None)
            condition = log_events.c.stream_id.in_(list(names))
            if start_time is not None:
                condition = and_(condition, log_events.c.timestamp >= start_time)
            if end_time is not None:
                condition = and_(condition, log_events.c.timestamp <= end_time)
            for term in pattern.required:  # SQL narrows (LIKE may ignore case); Python decides
                condition = and_(condition, log_events.c.message.contains(term, autoescape=True))
            if pattern.any_of:
                condition = and_(condition, or_(*[log_events.c.message.contains(t, autoescape=True)
                                                  for t in pattern.any_of]))
            columns = (log_events.c.timestamp, log_events.c.id)
            if token:
                after = _decode(token).get("after")
                if not isinstance(after, list) or len(after) != 2:
                    raise invalid("The specified nextToken is invalid.")
                condition = and_(condition, _keyset(columns, after, False))
            stmt = (select(log_events.c.id, log_events.c.stream_id, log_events.c.timestamp,
                           log_events.c.ingestion_time, log_events.c.message)
                    .where(condition).order_by(*columns))
            events: list[dict] = []
            scanned, last_seen, exhausted = 0, None, True
            result = conn.execute(stmt.limit(FILTER_SCAN_LIMIT + 1))
            for row in result:
                if len(events) >= limit or scanned >= FILTER_SCAN_LIMIT:
                    exhausted = False
                    break
                scanned += 1
                last_seen = row
                if pattern.empty or pattern.matches(row.message):
                    events.append({"logStreamName": names[row.stream_id], "timestamp": row.timestamp,
                                   "message": row.message, "ingestionTime": row.ingestion_time,
                                   "eventId": f"{row.timestamp:020d}{row.id:020d}"})
            result.close()
        next_token = None
        if not exhausted and last_seen is not None:
            next_token = _encode({"after": [last_seen.timestamp, last_seen.id]})
        return FilterPage(events, sorted(names.values()), next_token)

    # -- retention ------------------------------------------------------------------------

    def expire(self, now: int | None = None) -> int:
        """Delete events older than their group's retention; returns how many went."""
        now = now_ms() if now is None else now
        removed = 0
        with self.db.connect() as conn:
            groups = conn.execute(select(log_groups.c.id, log_groups.c.retention_days).where(
                log_groups.c.retention_days.is_not(None))).all()
        for group_id, days in groups:
            cutoff = now - int(days) * 86400 * 1000
            streams = select(log_streams.c.id).where(log_streams.c.group_id == group_id)
            with self.db.begin() as conn:
                result = conn.execute(delete(log_events).where(and_(
                    log_events.c.stream_id.in_(streams), log_events.c.timestamp < cutoff)))
                removed += result.rowcount or 0
        return removed

    # -- helpers --------------------------------------------------------------------------

    def _group_row(self, conn, account: str, region: str, name: str):
        return conn.execute(select(log_groups).where(and_(
            log_groups.c.account_id == account, log_groups.c.region == region,
            log_groups.c.name == name))).mappings().first()

    def _stream_row(self, conn, group_id: int, name: str):
        return conn.execute(select(log_streams).where(and_(
            log_streams.c.group_id == group_id, log_streams.c.name == name))).mappings().first()

    def _require_stream(self, conn, account: str, region: str, group_name: str, name: str) -> LogStream:
        group_row = self._group_row(conn, account, region, group_name)
        if group_row is None:
            raise not_found(GROUP_NOT_FOUND)
        row = self._stream_row(conn, group_row["id"], name)
        if row is None:
            raise not_found(STREAM_NOT_FOUND)
        return _stream_from_row(row, _group_from_row(group_row))

    def _ensure_stream(self, conn, account: str, region: str, group_name: str, name: str) -> int:
        group_row = self._group_row(conn, account, region, group_name)
        if group_row is None:
            group_id = conn.execute(log_groups.insert().values(
                account_id=account, region=region, name=group_name, created_at=now_ms(),
                log_group_class="STANDARD")).inserted_primary_key[0]
        else:
            group_id = group_row["id"]
        row = self._stream_row(conn, group_id, name)
        if row is not None:
            return row["id"]
        return conn.execute(log_streams.insert().values(
            group_id=group_id, name=name, created_at=now_ms(), sequence=1,
            stored_bytes=0)).inserted_primary_key[0]

    def _fill_group_bytes(self, conn, groups: list[LogGroup]) -> None:
        if not groups:
            return
        rows = conn.execute(select(log_streams.c.group_id, func.sum(log_streams.c.stored_bytes))
                            .where(log_streams.c.group_id.in_([g.id for g in groups]))
                            .group_by(log_streams.c.group_id)).all()
        sizes = {group_id: int(total or 0) for group_id, total in rows}
        for group in groups:
            group.stored_bytes = sizes.get(group.id, 0)

    def _forget(self, account: str, region: str, group_name: str, stream_name: str | None = None) -> None:
        with self._lock:
            for key in [k for k in self._stream_ids
                        if k[:3] == (account, region, group_name)
                        and (stream_name is None or k[3] == stream_name)]:
                self._stream_ids.pop(key, None)


class _StreamGone(Exception):
    pass


class LogWriter:
    """Buffers lines for one stream and appends them in batches (by count or age).

    Call :meth:`write` per line, :meth:`flush` when the source goes quiet, :meth:`close` at the end.
    Thread-safe."""

    def __init__(self, store: LogStore, account: str, region: str, group: str, stream: str,
                 max_events: int, max_delay: float, clock: Callable[[], float]):
        self.store, self.key = store, (account, region, group, stream)
        self.max_events, self.max_delay, self.clock = max_events, max_delay, clock
        self._buffer: list[tuple[int, str]] = []
        self._oldest = 0.0
        self._lock = threading.Lock()

    def write(self, message: str, timestamp: int | None = None) -> None:
        with self._lock:
            if not self._buffer:
                self._oldest = self.clock()
            self._buffer.append((now_ms() if timestamp is None else timestamp, message))
            due = len(self._buffer) >= self.max_events or self.clock() - self._oldest >= self.max_delay
        if due:
            self.flush()

    def flush(self) -> int:
        with self._lock:
            batch, self._buffer = self._buffer, []
        return self.store.append(*self.key, batch) if batch else 0

    def close(self) -> None:
        self.flush()


def _keyset(columns, values: list, descending: bool):
    """``(c1, c2) > (v1, v2)`` (or ``<``), written portably."""
    first, *rest = columns
    head, *tail = values
    if not rest:
        return first < head if descending else first > head
    beyond = first < head if descending else first > head
    return or_(beyond, and_(first == head, _keyset(rest, tail, descending)))


def _least(column, value: int):
    from sqlalchemy import case

    return case((column.is_(None), value), (column > value, value), else_=column)


def _greatest(column, value: int):
    from sqlalchemy import case

    return case((column.is_(None), value), (column < value, value), else_=column)


def _cap_bytes(rows) -> list:
    """Keep a page under 1 MB, as GetLogEvents does (always at least one event)."""
    out, size = [], 0
    for row in rows:
        size += len(row.message) + EVENT_OVERHEAD
        if out and size > MAX_PAGE_BYTES:
            break
        out.append(row)
    return out


def log_store(platform) -> LogStore:
    """The platform's log store (built once)."""
    return platform.component("logs", lambda p: LogStore(p.db))
