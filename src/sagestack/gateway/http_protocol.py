"""uvicorn's httptools protocol with one write per response instead of two.

uvicorn writes a response's head when the app sends ``http.response.start`` and its body when the app sends
``http.response.body``: two ``write`` syscalls, two TCP segments and, on loopback, up to two wake-ups of
the client per InvokeEndpoint. Here the connection's transport, as uvicorn's protocol and response cycles
see it, joins what is written within one turn of the event loop and hands it to the real transport once,
at the end of that turn (``call_soon``), or at once when it grows past ``FLUSH_BYTES`` (then as one
``writelines``, which uvloop sends with one ``writev`` without copying the bytes) or the connection is
closed. Nothing waits longer than the current turn: a ``100 Continue``, the chunks of a streamed
response and the head of a response whose body comes later still go out when the loop next turns, and
uvicorn's flow control (``pause_writing`` from the real transport) still applies to every flushed write.
"""

from __future__ import annotations

import asyncio
from typing import Any

FLUSH_BYTES = 64 * 1024


class CoalescingTransport:
    """A transport whose writes within one event-loop turn leave as one ``write``."""

    __slots__ = ("_flush", "_loop", "_pending", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop):
        self._transport = transport
        self._loop = loop
        self._pending: bytes | None = None  # what this turn wrote so far (small: joined as it comes)
        self._flush = self.flush  # bound once: call_soon takes it on every response

    def write(self, data: bytes) -> None:
        pending = self._pending
        if pending is None:
            if not data:
                return
            if len(data) >= FLUSH_BYTES:
                self._transport.write(data)
                return
            self._pending = bytes(data)
            self._loop.call_soon(self._flush)
            return
        if len(pending) + len(data) >= FLUSH_BYTES:  # large: one writev, the bytes not copied again
            self._pending = None
            if not self._transport.is_closing():
                self._transport.writelines((pending, data))
            return
        self._pending = pending + data

    def flush(self) -> None:
        pending = self._pending
        if pending is None:
            return
        self._pending = None
        if not self._transport.is_closing():
            self._transport.write(pending)

    def writelines(self, lines) -> None:
        for line in lines:
            self.write(line)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def abort(self) -> None:
        self._pending = None
        self._transport.abort()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._transport.get_extra_info(name, default)

    def __getattr__(self, name: str) -> Any:  # pause_reading, set_protocol, … (not on the hot path)
        return getattr(self._transport, name)


def protocol_class():
    """uvicorn's ``HttpToolsProtocol`` whose response cycles write through a ``CoalescingTransport``."""
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class CoalescingHttpToolsProtocol(HttpToolsProtocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)  # flow control stays on the real transport
            self.transport = CoalescingTransport(transport, self.loop)  # type: ignore[assignment]

    return CoalescingHttpToolsProtocol
