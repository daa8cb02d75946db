"""Reading events: one stream's events page by page from a position (GetLogEvents), and a filtered scan
across streams (FilterLogEvents). Both order by ``(timestamp, id)`` and page by keyset, so pages stay
correct while events arrive; a filter is applied while scanning, before the page is cut."""

from __future__ import annotations

from sqlalchemy import and_, or_, select

from .. import tokens
from .records import EventFilter, EventsPage, FilterPage
from .tables import keyset, log_events

EVENT_OVERHEAD = 26  # bytes AWS counts per event on top of the UTF-8 message
MAX_EVENTS_PER_PAGE = 10000
MAX_PAGE_BYTES = 1024 * 1024
FILTER_SCAN_LIMIT = 20000  # rows examined per FilterLogEvents call before returning a token


def events_page(
    conn,
    stream_id: int,
    *,
    start_time: int | None,
    end_time: int | None,
    token: str | None,
    limit: int | None,
    start_from_head: bool,
) -> EventsPage:
    """Tokens are positions: ``f/`` reads forward after one, ``b/`` backward before one. A page with no
    events returns the forward token it was given, so readers that loop until an empty page (SDK v2)
    stop, and readers that poll with it see new events."""
    limit = min(limit or MAX_EVENTS_PER_PAGE, MAX_EVENTS_PER_PAGE)
    direction, position = ("f" if start_from_head else "b"), None
    if token:
        direction, ts, event_id = tokens.parse_event_token(token)
        position = (ts, event_id)
    condition = log_events.c.stream_id == stream_id
    if start_time is not None:
        condition = and_(condition, log_events.c.timestamp >= start_time)
    if end_time is not None:
        condition = and_(condition, log_events.c.timestamp < end_time)
    columns = (log_events.c.timestamp, log_events.c.id)
    forward = direction == "f"
    if position is not None:
        condition = and_(condition, keyset(columns, list(position), not forward))
    order = [c.asc() for c in columns] if forward else [c.desc() for c in columns]
    stmt = (
        select(log_events.c.id, log_events.c.timestamp, log_events.c.ingestion_time, log_events.c.message)
        .where(condition)
        .order_by(*order)
        .limit(limit)
    )
    rows = _cap_bytes(conn.execute(stmt).all())
    if not forward:
        rows.reverse()
    events = [
        {"timestamp": r.timestamp, "message": r.message, "ingestionTime": r.ingestion_time} for r in rows
    ]
    if rows:
        first, last = rows[0], rows[-1]
        return EventsPage(
            events,
            tokens.event_token("f", last.timestamp, last.id),
            tokens.event_token("b", first.timestamp, first.id),
        )
    if position is not None:
        # Nothing in that direction: hand back the same position both ways.
        ts, event_id = position
        return EventsPage([], tokens.event_token("f", ts, event_id), tokens.event_token("b", ts, event_id))
    # Empty stream/window: forward starts before everything, backward after everything.
    low = (start_time - 1) if start_time is not None else -1
    high = end_time if end_time is not None else 10**19
    return EventsPage([], tokens.event_token("f", low, 10**19), tokens.event_token("b", high, 0))


def filter_page(
    conn,
    streams: dict[int, str],
    *,
    start_time: int | None,
    end_time: int | None,
    pattern: EventFilter,
    limit: int | None,
    token: str | None,
) -> FilterPage:
    """Events of ``streams`` (id → name) that ``pattern`` keeps. At most ``FILTER_SCAN_LIMIT`` rows are
    examined per call; the token then resumes after the last row examined, matched or not."""
    limit = min(limit or MAX_EVENTS_PER_PAGE, MAX_EVENTS_PER_PAGE)
    condition = log_events.c.stream_id.in_(list(streams))
    if start_time is not None:
        condition = and_(condition, log_events.c.timestamp >= start_time)
    if end_time is not None:
        condition = and_(condition, log_events.c.timestamp <= end_time)
    for term in pattern.contains_all:  # SQL narrows (LIKE may ignore case); Python decides
        condition = and_(condition, log_events.c.message.contains(term, autoescape=True))
    if pattern.contains_any:
        condition = and_(
            condition, or_(*[log_events.c.message.contains(t, autoescape=True) for t in pattern.contains_any])
        )
    columns = (log_events.c.timestamp, log_events.c.id)
    if token:
        condition = and_(condition, keyset(columns, tokens.decode_after(token, 2), False))
    stmt = (
        select(
            log_events.c.id,
            log_events.c.stream_id,
            log_events.c.timestamp,
            log_events.c.ingestion_time,
            log_events.c.message,
        )
        .where(condition)
        .order_by(*columns)
    )
    events: list[dict] = []
    scanned, last_seen, exhausted = 0, None, True
    result = conn.execute(stmt.limit(FILTER_SCAN_LIMIT + 1))
    for row in result:
        if len(events) >= limit or scanned >= FILTER_SCAN_LIMIT:
            exhausted = False
            break
        scanned += 1
        last_seen = row
        if pattern.matches is None or pattern.matches(row.message):
            events.append(
                {
                    "logStreamName": streams[row.stream_id],
                    "timestamp": row.timestamp,
                    "message": row.message,
                    "ingestionTime": row.ingestion_time,
                    "eventId": f"{row.timestamp:020d}{row.id:020d}",
                }
            )
    result.close()
    next_token = None
    if not exhausted and last_seen is not None:
        next_token = tokens.encode({"after": [last_seen.timestamp, last_seen.id]})
    return FilterPage(events, sorted(streams.values()), next_token)


def _cap_bytes(rows) -> list:
    """Keep a page under 1 MB, as GetLogEvents does (always at least one event)."""
    out, size = [], 0
    for row in rows:
        size += len(row.message) + EVENT_OVERHEAD
        if out and size > MAX_PAGE_BYTES:
            break
        out.append(row)
    return out
