"""The HTTP request/response objects the protocol layer works on (framework-free)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from random import getrandbits
from typing import Any
from urllib.parse import parse_qsl, unquote


class Headers:
    """Case-insensitive, multi-valued request headers built from ASGI's raw list."""

    __slots__ = ("_index", "multi", "raw")

    def __init__(self, raw: list[tuple[bytes, bytes]] | list[tuple[str, str]]):
        # one pass: the wire-order list, the comma-joined index and the multi-valued map SigV4 signs from
        items: list[tuple[str, str]] = []
        index: dict[str, str] = {}
        multi: dict[str, list[str]] = {}
        for k, v in raw:
            key = k.decode("latin-1") if isinstance(k, bytes) else k
            value = v.decode("latin-1") if isinstance(v, bytes) else v
            items.append((key, value))
            lowered = key.lower()
            if lowered in index:
                index[lowered] = f"{index[lowered]},{value}"
            else:
                index[lowered] = value
            stripped = lowered.strip()
            values = multi.get(stripped)
            if values is None:
                multi[stripped] = [value]
            else:
                values.append(value)
        self.raw: list[tuple[str, str]] = items
        self._index = index
        #: lower-cased (stripped) name → its values in wire order, as ``signing.header_map`` builds it
        self.multi: dict[str, list[str]] = multi

    def get(self, name: str, default: str | None = None) -> str | None:
        return self._index.get(name.lower(), default)

    @property
    def lowered(self) -> dict[str, str]:
        """Lower-cased name → value (comma-joined when repeated): look up names already lower-cased."""
        return self._index

    def __contains__(self, name: str) -> bool:
        return name.lower() in self._index

    def __getitem__(self, name: str) -> str:
        return self._index[name.lower()]

    def items(self):
        return self._index.items()

    def with_prefix(self, prefix: str) -> dict[str, str]:
        prefix = prefix.lower()
        return {k[len(prefix) :]: v for k, v in self._index.items() if k.startswith(prefix)}


# a version-4 UUID's fixed bits: version 0100 (bits 76-79), variant 10 (bits 62-63)
_UUID4_CLEAR = ~((0xF << 76) | (0x3 << 62))
_UUID4_SET = (0x4 << 76) | (0x2 << 62)


def new_request_id() -> str:
    """A random version-4 UUID string (what ``str(uuid.uuid4())`` gives, without a syscall per call:
    request ids are identifiers, not secrets)."""
    h = "%032x" % ((getrandbits(128) & _UUID4_CLEAR) | _UUID4_SET)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


BodyReader = Callable[[], Awaitable[bytes]]


@dataclass
class HttpRequest:
    method: str
    raw_path: str
    query_string: str
    headers: Headers
    receive: Callable[[], Awaitable[dict]] | None = None
    body: bytes | None = None  # set once read
    client: tuple[str, int] | None = None
    request_id: str = field(default_factory=new_request_id)
    path_override: str | None = None  # virtual-hosted S3: "/bucket" + path

    @property
    def path(self) -> str:
        return unquote(self.path_override if self.path_override is not None else self.raw_path)

    @property
    def route_path(self) -> str:
        """The raw (still percent-encoded) path used for routing."""
        return self.path_override if self.path_override is not None else self.raw_path

    def query_items(self) -> list[tuple[str, str]]:
        return parse_qsl(self.query_string, keep_blank_values=True)

    def query(self) -> dict[str, str]:
        return dict(self.query_items())

    async def read_body(self, limit: int | None = None) -> bytes:
        if self.body is not None:
            return self.body
        chunks = []
        size = 0
        async for chunk in self.stream():
            size += len(chunk)
            if limit is not None and size > limit:
                raise BodyTooLarge(limit)
            chunks.append(chunk)
        self.body = b"".join(chunks)
        return self.body

    async def stream(self) -> AsyncIterator[bytes]:
        if self.body is not None:
            if self.body:
                yield self.body
            return
        if self.receive is None:
            return
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                raise ClientDisconnected()
            chunk = message.get("body", b"")
            if chunk:
                yield chunk
            if not message.get("more_body", False):
                break
        self.receive = None


class BodyTooLarge(Exception):
    def __init__(self, limit: int):
        super().__init__(f"body larger than {limit} bytes")
        self.limit = limit


class ClientDisconnected(Exception):
    pass


@dataclass
class FileBody:
    """A response body streamed from a file (whole or a byte range)."""

    path: str
    start: int = 0
    length: int | None = None
    chunk_size: int = 1 << 20


@dataclass
class HttpResponse:
    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes | FileBody | AsyncIterator[bytes] | Any = b""
