"""Opaque pagination tokens: a small JSON object, URL-safe base64 without padding.

Every store pages with these: offsets (``{"o": 40}``, the resource lists) or keyset positions
(``{"after": [ts, id]}``, the log store). Log event positions are plain text (``f/<ts>/<id>``). A
token that does not decode raises ``InvalidToken``; each service words that as its API does.
"""

from __future__ import annotations

import base64
import json
import re

from .errors import InvalidToken


def encode(payload: dict) -> str:
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(token: str) -> dict:
    """The payload of ``token``; ``InvalidToken`` unless it is a JSON object we encoded."""
    try:
        padded = token + "=" * (-len(token) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, TypeError, UnicodeDecodeError):
        raise InvalidToken(token) from None
    if not isinstance(value, dict):
        raise InvalidToken(token)
    return value


def encode_offset(offset: int, **extra) -> str:
    return encode({"o": offset, **extra})


def decode_offset(token: str | None) -> dict:
    """``{"o": offset, ...}`` of an offset token (``{"o": 0}`` for none)."""
    if not token:
        return {"o": 0}
    value = decode(token)
    if not isinstance(value.get("o"), int) or value["o"] < 0:
        raise InvalidToken(token)
    return value


def decode_after(token: str, length: int | None = None) -> list:
    """The keyset position (``"after"``) of a keyset token, a list of ``length`` values when given."""
    after = decode(token).get("after")
    if not isinstance(after, list) or (length is not None and len(after) != length):
        raise InvalidToken(token)
    return after


def event_token(direction: str, timestamp: int, event_id: int) -> str:
    """A log event position: ``f/…`` (read the events after it) or ``b/…`` (those before it), as
    CloudWatch Logs spells its GetLogEvents tokens."""
    return f"{direction}/{timestamp}/{event_id}"


def parse_event_token(token: str) -> tuple[str, int, int]:
    match = _EVENT_TOKEN.fullmatch(token or "")
    if not match:
        raise InvalidToken(token)
    return match.group(1), int(match.group(2)), int(match.group(3))


_EVENT_TOKEN = re.compile(r"([fb])/(-?\d{1,20})/(\d{1,20})")
