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

InvokeEndpoint (``POST /endpoints/<name>/invocations``) does not go through ASGI at all: when a request's
head says it is one, with a ``Content-Length`` of at most 6 MB, no ``Transfer-Encoding``, no
``Expect: 100-continue``, no query string and HTTP/1.1, the protocol collects its headers and body from
httptools' callbacks into an :class:`InvocationCycle` (no ASGI scope, no ``receive``/``send``, no message
dicts, no per-request ``asyncio.Event``) and answers it in one write. Two ways: first
``Gateway.invoke_now``, plain callbacks from here to the worker's answer and back (no task, no coroutine:
the usual case, a signed call of a real-time endpoint with a kept-alive connection to its worker ready);
when that declines, a task running ``Gateway.serve`` — the function the ASGI path calls too: SigV4, the
router, errors, request log. Any other request, and any invocation that does not fit, takes uvicorn's
ASGI path as before. Pipelined requests keep their order: an invocation cycle takes its turn in uvicorn's
pipeline like any other cycle.
"""

from __future__ import annotations

import asyncio
import logging
from functools import partial
from typing import Any

from ..protocol.http import FileBody, Headers, HttpRequest, HttpResponse

FLUSH_BYTES = 64 * 1024
FAST_MAX_BODY = 6 * 1024 * 1024  # InvokeEndpoint's limit: a larger body takes the ASGI path (413 there)
FAST_PREFIX = b"/endpoints/"
FAST_SUFFIX = b"/invocations"
log = logging.getLogger("sagestack.gateway")


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

    def write_now(self, data: bytes) -> None:
        """Write ``data`` at once, after (and with) whatever this turn already holds."""
        pending = self._pending
        if pending is not None:
            self._pending = None
            data = pending + data
        if not self._transport.is_closing():
            self._transport.write(data)

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


class _NoEvent:
    """What uvicorn's ``connection_lost`` sets on the current cycle; an invocation cycle waits on nothing."""

    __slots__ = ()

    def set(self) -> None:
        return None


NO_EVENT = _NoEvent()


class InvocationCycle:
    """One InvokeEndpoint request read by the protocol itself (no ASGI): the head, the body as it comes,
    and the state uvicorn's protocol reads on its current cycle (``response_complete``, ``disconnected``,
    ``keep_alive``, ``message_event``)."""

    __slots__ = (
        "body",
        "disconnected",
        "headers",
        "keep_alive",
        "path",
        "previous",
        "protocol",
        "request",
        "response_complete",
    )

    message_event = NO_EVENT

    def __init__(self, protocol, path: bytes, headers: list, keep_alive: bool, previous) -> None:
        self.protocol = protocol
        self.path = path
        self.headers = headers
        self.keep_alive = keep_alive
        self.previous = previous  # the cycle before this one on the connection: it answers first
        self.body: bytes | bytearray = b""
        self.request: HttpRequest | None = None  # built once the body is complete
        self.disconnected = False
        self.response_complete = False

    async def run_asgi(self, app: Any = None) -> None:  # the name uvicorn's pipeline calls
        await self.protocol.run_invocation(self)


def _fast_candidate(method: bytes, url: bytes, headers: list) -> bool:
    if method != b"POST" or not url.endswith(FAST_SUFFIX) or not url.startswith(FAST_PREFIX):
        return False
    length = None
    for name, value in headers:
        if name == b"content-length":
            if length is not None:
                return False
            length = value
        elif name == b"transfer-encoding" or name == b"expect":
            return False
    return length is not None and length.isdigit() and int(length) <= FAST_MAX_BODY


def protocol_class():
    """uvicorn's ``HttpToolsProtocol`` whose response cycles write through a ``CoalescingTransport`` and
    which answers InvokeEndpoint without ASGI (module docstring)."""
    from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

    class CoalescingHttpToolsProtocol(HttpToolsProtocol):
        gateway: Any = None
        invoke_now: Any = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)  # flow control stays on the real transport
            self.transport = CoalescingTransport(transport, self.loop)  # type: ignore[assignment]
            gateway = self.app
            while gateway is not None and not hasattr(gateway, "serve"):
                gateway = getattr(gateway, "app", None)  # through any ASGI wrapper uvicorn put around it
            self.gateway = gateway
            self.invoke_now = getattr(gateway, "invoke_now", None)

        def on_message_begin(self) -> None:  # the ASGI scope is built only for requests that need it
            self.url = b""
            self.expect_100_continue = False
            self.headers = []

        def on_headers_complete(self) -> None:
            parser = self.parser
            method = parser.get_method()
            if (
                self.gateway is not None
                and self.limit_concurrency is None
                and _fast_candidate(method, self.url, self.headers)
                and parser.get_http_version() == "1.1"
                and not parser.should_upgrade()
            ):
                self.cycle = InvocationCycle(  # type: ignore[assignment]
                    self, self.url, self.headers, parser.should_keep_alive(), self.cycle
                )
                return
            url, headers, expect = self.url, self.headers, self.expect_100_continue
            super().on_message_begin()  # uvicorn's scope for the ASGI path, with the head read so far
            self.url, self.headers, self.expect_100_continue = url, headers, expect
            self.scope["headers"] = headers
            super().on_headers_complete()

        def on_body(self, body: bytes) -> None:
            cycle = self.cycle
            if type(cycle) is InvocationCycle:
                held = cycle.body
                if not held:
                    cycle.body = body  # the usual case: the whole body in one read, kept without a copy
                elif type(held) is bytes:
                    cycle.body = bytearray(held) + body  # in pieces: grown in place from here on
                else:
                    held += body
                return
            super().on_body(body)

        def on_message_complete(self) -> None:
            cycle = self.cycle
            if type(cycle) is not InvocationCycle:
                super().on_message_complete()
                return
            previous = cycle.previous
            cycle.previous = None
            if previous is None or previous.response_complete:
                self._start_asgi_task(cycle, None)  # type: ignore[arg-type]
            else:  # pipelined behind a request still being answered: its turn comes in uvicorn's queue
                self.flow.pause_reading()
                self.pipeline.appendleft((cycle, None))  # type: ignore[arg-type]

        def _start_asgi_task(self, cycle, app) -> None:  # type: ignore[override]
            """Start answering ``cycle`` (now, or when its turn in the pipeline comes): an invocation
            through ``Gateway.invoke_now`` when it takes it, else as a task."""
            if type(cycle) is InvocationCycle:
                request = cycle.request = self.invocation_request(cycle)
                # a slow reader (writes paused): the task waits for the buffer to drain
                if self.invoke_now is not None and not self.flow.write_paused:
                    try:
                        if self.invoke_now(request, partial(self.finish_invocation, cycle)):
                            return
                    except Exception:  # noqa: BLE001 - nothing was sent: the task answers (and words it)
                        log.exception("InvokeEndpoint's callback path failed")
            HttpToolsProtocol._start_asgi_task(self, cycle, app)

        def invocation_request(self, cycle: InvocationCycle) -> HttpRequest:
            request = HttpRequest(
                method="POST",
                raw_path=cycle.path.decode("latin-1"),
                query_string="",
                headers=Headers(cycle.headers),
                body=cycle.body if type(cycle.body) is bytes else bytes(cycle.body),
                client=self.client,
            )
            cycle.body = b""
            return request

        def finish_invocation(self, cycle: InvocationCycle, response: HttpResponse | None) -> bool:
            """``invoke_now``'s answer (None: answer through the task after all); whether it was written."""
            if response is None:
                HttpToolsProtocol._start_asgi_task(self, cycle, None)  # type: ignore[arg-type]
                return False
            delivered = not cycle.disconnected
            if delivered:
                self.transport.write_now(self.response_bytes(cycle, response, response.body))  # type: ignore[attr-defined]
            cycle.response_complete = True
            if not cycle.keep_alive or cycle.disconnected:
                self.transport.close()
            self.on_response_complete()
            return delivered

        async def run_invocation(self, cycle: InvocationCycle) -> None:
            request = cycle.request or self.invocation_request(cycle)

            async def respond(response: HttpResponse, head: bool) -> None:
                await self.write_response(cycle, response)

            try:
                await self.gateway.serve(request, respond)
            except asyncio.CancelledError:
                cycle.keep_alive = False  # the server is stopping: the connection goes with the task
                raise
            except Exception:  # what uvicorn does when the app fails before answering
                log.exception("Exception in InvokeEndpoint")
                if not cycle.response_complete and not cycle.disconnected:
                    self.transport.write_now(  # type: ignore[attr-defined]
                        STATUS_LINE[500]
                        + b"content-type: text/plain; charset=utf-8\r\ncontent-length: 21\r\n"
                        b"connection: close\r\n\r\nInternal Server Error"
                    )
                cycle.keep_alive = False
            finally:
                if not cycle.response_complete:
                    cycle.response_complete = True
                if not cycle.keep_alive or cycle.disconnected:
                    self.transport.close()
                self.on_response_complete()

        async def write_response(self, cycle: InvocationCycle, response: HttpResponse) -> None:
            body = response.body
            if isinstance(body, FileBody):
                body = await asyncio.to_thread(_read_file, body)
            elif not isinstance(body, (bytes, bytearray, memoryview)):
                body = b"".join([chunk async for chunk in body])
            data = self.response_bytes(cycle, response, body)
            if cycle.disconnected:
                cycle.response_complete = True
                return
            if self.flow.write_paused:
                await self.flow.drain()
            self.transport.write_now(data)  # type: ignore[attr-defined]
            cycle.response_complete = True

        def response_bytes(self, cycle: InvocationCycle, response: HttpResponse, body: bytes) -> bytes:
            """The answer's head and body (``connection: close`` when the cycle will not be kept alive)."""
            parts = [STATUS_LINE[response.status]]
            for name, value in self.server_state.default_headers:
                parts += (name, b": ", value, b"\r\n")
            has_length = has_close = False
            for name, value in response.headers:
                lowered = name.lower()
                if lowered == "content-length":
                    has_length = True
                elif lowered == "connection" and "close" in value.lower():
                    cycle.keep_alive, has_close = False, True
                parts.append(f"{name}: {value}\r\n".encode("latin-1"))
            if not has_length:
                parts.append(b"content-length: %d\r\n" % len(body))
            if not cycle.keep_alive and not has_close:
                parts.append(b"connection: close\r\n")
            parts.append(b"\r\n")
            parts.append(body)
            return b"".join(parts)

    return CoalescingHttpToolsProtocol


def _read_file(body: FileBody) -> bytes:
    with open(body.path, "rb") as handle:
        handle.seek(body.start)
        return handle.read() if body.length is None else handle.read(body.length)
