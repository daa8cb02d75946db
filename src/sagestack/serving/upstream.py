"""Kept-alive HTTP/1.1 connections from the gateway to worker instances (event-loop side).

A raw ``asyncio.Protocol`` with httptools' response parser: one request at a time per connection, an
idle LIFO list per instance, timeouts as timer callbacks (no extra task per request). A request that
fails on a reused connection before any response byte arrived (the worker closed it while idle, or
restarted) is retried once on a fresh connection.
"""

from __future__ import annotations

import asyncio
from typing import Any

from .tcp import set_nodelay

MAX_IDLE = 64


class UpstreamError(Exception):
    """The worker closed the connection or could not be reached (``sent``: request bytes went out)."""

    def __init__(self, message: str, received: bool = False):
        super().__init__(message)
        self.received = received


class UpstreamTimeout(Exception):
    pass


class Response:
    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes):
        self.status = status
        self.headers = headers
        self.body = body

    def header(self, name: bytes) -> bytes | None:
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return None


class UpstreamConnection(asyncio.Protocol):
    def __init__(self, loop: asyncio.AbstractEventLoop):
        import httptools

        self.loop = loop
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future | None = None
        self.closed = False
        self.keep_alive = True
        self.received = False
        self.headers: list[tuple[bytes, bytes]] = []
        self.body: list[bytes] = []

    # asyncio
    def connection_made(self, transport) -> None:
        self.transport = transport
        set_nodelay(transport)

    def data_received(self, data: bytes) -> None:
        self.received = True
        try:
            self.parser.feed_data(data)
        except Exception as exc:  # noqa: BLE001 - httptools.HttpParserError: a broken answer
            self._fail(UpstreamError(f"malformed response from the model server: {exc}", True))
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(UpstreamError("the model server closed the connection", self.received))

    def _fail(self, error: Exception) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)

    # httptools
    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.keep_alive = self.parser.should_keep_alive()
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            body = self.body[0] if len(self.body) == 1 else b"".join(self.body)
            waiter.set_result(Response(self.parser.get_status_code(), self.headers, body))

    async def request(self, data: bytes, timeout: float) -> Response:
        if self.closed:
            raise UpstreamError("the model server closed the connection")
        self.headers = []
        self.body = []
        self.received = False
        waiter = self.waiter = self.loop.create_future()
        timer = self.loop.call_later(timeout, _expire, waiter)
        self.transport.write(data)
        try:
            return await waiter
        finally:
            timer.cancel()
            self.waiter = None


def _expire(waiter: asyncio.Future) -> None:
    if not waiter.done():
        waiter.set_exception(UpstreamTimeout())


class InstancePool:
    """Idle connections to one worker instance."""

    def __init__(self, host: str, port: int):
        self.host = host
        self.port = port
        self.idle: list[UpstreamConnection] = []
        # the loop of the first request: its connections belong to it anyway (and on Python 3.11 every
        # asyncio.get_running_loop() is a getpid() syscall)
        self.loop: asyncio.AbstractEventLoop | None = None

    async def _connect(self, loop: asyncio.AbstractEventLoop) -> UpstreamConnection:
        try:
            _, conn = await loop.create_connection(lambda: UpstreamConnection(loop), self.host, self.port)
        except OSError as exc:
            raise UpstreamError(f"could not connect to the model server: {exc}") from None
        return conn

    async def request(self, data: bytes, timeout: float) -> Response:
        loop = self.loop
        if loop is None:
            loop = self.loop = asyncio.get_running_loop()
        conn = None
        while self.idle:
            candidate = self.idle.pop()
            if not candidate.closed:
                conn = candidate
                break
        reused = conn is not None
        if conn is None:
            conn = await self._connect(loop)
        try:
            response = await conn.request(data, timeout)
        except UpstreamError as exc:
            if not reused or exc.received:
                raise
            conn = await self._connect(loop)  # stale kept-alive connection: once more, fresh
            try:
                response = await conn.request(data, timeout)
            except BaseException:
                _drop(conn)
                raise
        except BaseException:
            _drop(conn)
            raise
        if conn.keep_alive and not conn.closed and len(self.idle) < MAX_IDLE:
            self.idle.append(conn)
        else:
            _drop(conn)
        return response

    def close(self) -> None:
        for conn in self.idle:
            _drop(conn)
        self.idle.clear()


def _drop(conn: Any) -> None:
    transport = getattr(conn, "transport", None)
    if transport is not None:
        transport.close()
