"""AWS event stream framing (``application/vnd.amazon.eventstream``) for streamed invocations.

A message is: total length and headers length (big-endian uint32), the CRC32 of those 8 bytes, the
headers (name length, name, type 7 = string, value length uint16, value), the payload, and the CRC32 of
everything before it.
"""

from __future__ import annotations

import json
import struct
import zlib


def _headers(items: dict[str, str]) -> bytes:
    out = bytearray()
    for name, value in items.items():
        raw_name, raw_value = name.encode(), value.encode()
        out += bytes([len(raw_name)]) + raw_name + b"\x07" + struct.pack(">H", len(raw_value)) + raw_value
    return bytes(out)


def message(headers: dict[str, str], payload: bytes) -> bytes:
    head = _headers(headers)
    prelude = struct.pack(">II", 16 + len(head) + len(payload), len(head))
    body = prelude + struct.pack(">I", zlib.crc32(prelude)) + head + payload
    return body + struct.pack(">I", zlib.crc32(body))


def payload_part(data: bytes) -> bytes:
    return message(
        {":event-type": "PayloadPart", ":content-type": "application/octet-stream", ":message-type": "event"},
        data,
    )


def exception(kind: str, text: str, error_code: str | None = None) -> bytes:
    payload = {"Message": text}
    if error_code:
        payload["ErrorCode"] = error_code
    return message(
        {":exception-type": kind, ":content-type": "application/json", ":message-type": "exception"},
        json.dumps(payload).encode(),
    )
