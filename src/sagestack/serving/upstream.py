"""Kept-alive HTTP/1.1 connections from the gateway to worker instances (event-loop side).

A raw ``asyncio.Protocol`` with httptools' response parser: one request at a time per connection, an
idle LIFO list per instance, timeouts as timer callbacks (no extra task per request). A request is sent
with a callback (``UpstreamConnection.send``: what the router's InvokeEndpoint path uses, no coroutine at
all) or awaited (``InstancePool.request``). An awaited request that fails on a reused connection before
any response byte arrived (the worker closed it while idle, or restarted) is retried once on a fresh
connection.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from functools import partial
from typing import Any

from .tcp import set_nodelay

MAX_IDLE = 64
log = logging.getLogger("sagestack.serving")


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
        self.done: Done | None = None  # the request in flight's callback
        self.timer: asyncio.TimerHandle | None = None
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
            self._complete(None, UpstreamError(f"malformed response from the model server: {exc}", True))
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._complete(None, UpstreamError("the model server closed the connection", self.received))

    # httptools
    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.keep_alive = self.parser.should_keep_alive()
        body = self.body[0] if len(self.body) == 1 else b"".join(self.body)
        self._complete(Response(self.parser.get_status_code(), self.headers, body), None)

    # one request at a time
    def send(self, data: bytes, timeout: float, done: Done) -> None:
        """Write one request; ``done(response, None)`` or ``done(None, error)`` is called once, from the
        event loop: the answer, the connection lost (``UpstreamError``) or ``timeout`` seconds passed
        (``UpstreamTimeout``; the connection must then be dropped)."""
        if self.closed:
            raise UpstreamError("the model server closed the connection")
        self.headers = []
        self.body = []
        self.received = False
        self.done = done
        self.timer = self.loop.call_later(timeout, self._expire)
        self.transport.write(data)

    def abandon(self) -> None:
        """Forget the request in flight (its caller went away): no callback will come."""
        self.done = None
        timer, self.timer = self.timer, None
        if timer is not None:
            timer.cancel()

    def _expire(self) -> None:
        self.timer = None
        self._complete(None, UpstreamTimeout())

    def _complete(self, response: Response | None, error: Exception | None) -> None:
        done = self.done
        if done is None:
            return
        self.abandon()
        try:
            done(response, error)
        except Exception:  # noqa: BLE001 - a failing callback must not read as a broken answer
            log.exception("the answer's callback failed")

    async def request(self, data: bytes, timeout: float) -> Response:
        waiter = self.loop.create_future()
        self.send(data, timeout, partial(_settle, waiter))
        try:
            return await waiter
        finally:
            self.abandon()


Done = Callable[["Response | None", "Exception | None"], None]


def _settle(waiter: asyncio.Future, response: Response | None, error: Exception | None) -> None:
    if waiter.done():
        return
    if error is not None:
        waiter.set_exception(error)
    else:
        waiter.set_result(response)


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

    def idle_connection(self) -> UpstreamConnection | None:
        """A kept-alive connection to reuse (``release`` it after its answer), or None."""
        idle = self.idle
        while idle:
            conn = idle.pop()
            if not conn.closed:
                return conn
        return None

    def release(self, conn: UpstreamConnection) -> None:
        """``conn`` answered: kept for the next request, or closed."""
        if conn.keep_alive and not conn.closed and len(self.idle) < MAX_IDLE:
            self.idle.append(conn)
        else:
            drop(conn)

    async def request(self, data: bytes, timeout: float) -> Response:
        loop = self.loop
        if loop is None:
            loop = self.loop = asyncio.get_running_loop()
        conn = self.idle_connection()
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
                drop(conn)
                raise
        except BaseException:
            drop(conn)
            raise
        self.release(conn)
        return response

    def close(self) -> None:
        for conn in self.idle:
            drop(conn)
        self.idle.clear()


def drop(conn: Any) -> None:
    transport = getattr(conn, "transport", None)
    if transport is not None:
        transport.close()
