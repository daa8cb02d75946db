"""The gateway's HTTP protocol: a response's head and body leave in one write (gateway/http_protocol.py)."""

from __future__ import annotations

import asyncio
import re
import socket
import uuid

from sagestack.gateway.http_protocol import FLUSH_BYTES, CoalescingTransport


class FakeTransport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        assert not self.closed
        self.writes.append(bytes(data))

    def writelines(self, parts) -> None:
        assert not self.closed
        self.writes.append(list(parts))  # one writev, the parts not joined

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name, default=None):
        return {"peername": ("127.0.0.1", 1)}.get(name, default)

    def pause_reading(self) -> None:
        self.paused = True

    def resume_reading(self) -> None:
        self.paused = False


def test_writes_within_one_loop_turn_leave_as_one_write():
    async def run() -> FakeTransport:
        real = FakeTransport()
        transport = CoalescingTransport(real, asyncio.get_running_loop())
        transport.write(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n")
        transport.write(b"")
        transport.write(b"hello")
        assert real.writes == []  # held until the loop turns
        await asyncio.sleep(0)
        assert real.writes == [b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello"]
        transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")  # alone in its turn: goes out by itself
        await asyncio.sleep(0)
        assert real.writes[1:] == [b"HTTP/1.1 100 Continue\r\n\r\n"]
        transport.write(b"")  # nothing to send: nothing is scheduled or written
        await asyncio.sleep(0)
        assert len(real.writes) == 2
        return real

    asyncio.run(run())


def test_large_writes_close_and_other_calls_reach_the_real_transport():
    async def run() -> None:
        real = FakeTransport()
        transport = CoalescingTransport(real, asyncio.get_running_loop())
        transport.write(b"a" * 10)
        transport.write(b"b" * FLUSH_BYTES)  # past the threshold: written at once, not held nor copied
        assert real.writes == [[b"a" * 10, b"b" * FLUSH_BYTES]]
        await asyncio.sleep(0)  # the scheduled flush finds nothing left
        assert len(real.writes) == 1
        transport.write(b"c" * FLUSH_BYTES)  # one large write alone: as it is, at once
        assert real.writes[-1] == b"c" * FLUSH_BYTES
        transport.write(b"tail")
        transport.close()  # flushes first
        assert real.writes[-1] == b"tail" and real.closed and transport.is_closing()
        transport.write(b"late")
        await asyncio.sleep(0)  # written after close: dropped, never handed to a closed transport
        assert real.writes[-1] == b"tail"
        assert transport.get_extra_info("peername") == ("127.0.0.1", 1)
        transport.pause_reading()  # anything else is the real transport's
        assert real.paused

    asyncio.run(run())


def _read_response(sock: socket.socket) -> tuple[bytes, bytes, int]:
    """(head, body, number of recv calls it took)."""
    data, calls = b"", 0
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        calls += 1
        assert chunk, "connection closed"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(re.search(rb"(?i)content-length:\s*(\d+)", head).group(1))
    while len(body) < length:
        chunk = sock.recv(65536)
        calls += 1
        assert chunk, "connection closed"
        body += chunk
    return head, body, calls


def test_server_sends_head_and_body_in_one_segment(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        for _ in range(3):  # kept alive: every response of the connection arrives whole
            sock.sendall(b"GET /_sagestack/health HTTP/1.1\r\nHost: localhost\r\n\r\n")
            head, body, calls = _read_response(sock)
            assert head.startswith(b"HTTP/1.1 200 ")
            assert b'"status": "running"' in body
            assert calls == 1


def test_expect_100_continue_is_answered_before_the_body(server):
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    key, secret = server.credentials()
    bucket = f"coalesce-{uuid.uuid4().hex[:10]}"
    server.client("s3").create_bucket(Bucket=bucket)
    body = b"x" * 5000
    url = f"{server.url}/{bucket}/object"
    request = AWSRequest("PUT", url, data=body, headers={"Expect": "100-continue"})
    S3SigV4Auth(Credentials(key, secret), "s3", "us-east-1").add_auth(request)
    lines = [f"PUT /{bucket}/object HTTP/1.1", f"Host: 127.0.0.1:{server.port}"]
    lines += [f"{k}: {v}" for k, v in request.headers.items() if k.lower() != "host"]
    lines.append(f"Content-Length: {len(body)}")
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        interim = sock.recv(65536)  # the server asks for the body before it is sent
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(body)
        head, _, _ = _read_response(sock)
        assert head.startswith(b"HTTP/1.1 200 "), head
    got = server.client("s3").get_object(Bucket=bucket, Key="object")["Body"].read()
    assert got == body


# -- InvokeEndpoint without ASGI ----------------------------------------------------------------------


class FakeGateway:
    """``serve`` for the protocol's InvokeEndpoint path, ASGI for everything else; records which ran."""

    def __init__(self) -> None:
        self.served: list = []
        self.asgi: list[str] = []

    async def serve(self, request, respond) -> None:
        from sagestack.protocol.http import HttpResponse

        self.served.append(request)
        if request.body == b"slow":
            await asyncio.sleep(0.05)
        if request.body == b"fail":
            raise RuntimeError("boom")
        await respond(HttpResponse(200, [("content-type", "text/plain")], b"fast:" + request.body), False)

    async def __call__(self, scope, receive, send) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.asgi.append(scope["path"])
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-length", b"%d" % (5 + len(body)))],
            }
        )
        await send({"type": "http.response.body", "body": b"asgi:" + body})


def _protocol(gateway: FakeGateway):
    from uvicorn.config import Config
    from uvicorn.server import ServerState

    from sagestack.gateway.http_protocol import protocol_class

    cls = protocol_class()
    config = Config(
        app=gateway, http=cls, lifespan="off", access_log=False, proxy_headers=False, log_config=None
    )
    config.load()
    protocol = cls(config=config, server_state=ServerState(), app_state={}, _loop=asyncio.get_running_loop())
    real = FakeTransport()
    protocol.connection_made(real)
    return protocol, real


def _invoke(body: bytes, name: str = "ep", extra: str = "") -> bytes:
    head = f"POST /endpoints/{name}/invocations HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n{extra}\r\n"
    return head.encode() + body


def _responses(real: FakeTransport) -> list[bytes]:
    data = b"".join(w if isinstance(w, bytes) else b"".join(w) for w in real.writes)
    out = []
    while data:
        head, _, rest = data.partition(b"\r\n\r\n")
        length = int(re.search(rb"(?i)content-length:\s*(\d+)", head).group(1))
        out.append(rest[:length])
        data = rest[length:]
    return out


def test_invocations_skip_asgi_and_pipelined_requests_keep_their_order():
    async def run() -> None:
        gateway = FakeGateway()
        protocol, real = _protocol(gateway)
        # one segment: a slow invocation, a request for the ASGI path, a fast invocation behind both
        protocol.data_received(_invoke(b"slow") + b"GET /other HTTP/1.1\r\nHost: x\r\n\r\n" + _invoke(b"1,2"))
        for _ in range(100):
            await asyncio.sleep(0.01)
            if len(_responses(real)) == 3:
                break
        assert _responses(real) == [b"fast:slow", b"asgi:", b"fast:1,2"]
        assert gateway.asgi == ["/other"]
        request = gateway.served[1]
        assert request.raw_path == "/endpoints/ep/invocations" and request.receive is None
        assert request.headers.get("content-length") == "3"
        assert not real.closed  # kept alive

    asyncio.run(run())


def test_invocations_that_need_the_general_path_take_asgi():
    async def run() -> None:
        gateway = FakeGateway()
        protocol, real = _protocol(gateway)
        chunked = b"POST /endpoints/ep/invocations HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        protocol.data_received(chunked + b"3\r\nabc\r\n0\r\n\r\n")
        protocol.data_received(
            b"POST /endpoints/ep/invocations?x=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nq"
        )
        protocol.data_received(_invoke(b"big", extra=""))  # this one is fast
        for _ in range(100):
            await asyncio.sleep(0.01)
            if len(_responses(real)) == 3:
                break
        assert _responses(real) == [b"asgi:abc", b"asgi:q", b"fast:big"]
        assert len(gateway.served) == 1

    asyncio.run(run())


def test_invocation_body_in_pieces_and_a_failing_handler():
    async def run() -> None:
        gateway = FakeGateway()
        protocol, real = _protocol(gateway)
        body = b"7" * 300_000
        data = _invoke(body)
        for start in range(0, len(data), 65536):  # the body arrives over several reads
            protocol.data_received(data[start : start + 65536])
            await asyncio.sleep(0)
        for _ in range(100):
            await asyncio.sleep(0.01)
            if _responses(real):
                break
        assert _responses(real) == [b"fast:" + body]
        protocol.data_received(_invoke(b"fail"))
        for _ in range(100):
            await asyncio.sleep(0.01)
            if real.closed:
                break
        last = real.writes[-1]
        assert last.startswith(b"HTTP/1.1 500 ") and b"connection: close" in last and real.closed

    asyncio.run(run())


class CallbackGateway(FakeGateway):
    """``invoke_now`` takes the bodies that start with ``cb``: answered on a later turn of the loop
    (``cb-slow`` 20 ms later); ``cb-back`` is handed back to ``serve`` after it was taken."""

    def __init__(self) -> None:
        super().__init__()
        self.taken: list = []
        self.delivered: list[bool] = []  # what respond said for each answer

    def invoke_now(self, request, respond) -> bool:
        from sagestack.protocol.http import HttpResponse

        if not request.body.startswith(b"cb"):
            return False
        self.taken.append(request)
        loop = asyncio.get_running_loop()
        if request.body == b"cb-back":
            loop.call_soon(respond, None)
        else:
            answer = HttpResponse(200, [("content-type", "text/plain")], b"cb:" + request.body)
            loop.call_later(
                0.02 if request.body == b"cb-slow" else 0, lambda: self.delivered.append(respond(answer))
            )
        return True


def test_invocations_answered_from_callbacks_keep_their_order():
    async def run() -> None:
        gateway = CallbackGateway()
        protocol, real = _protocol(gateway)
        protocol.data_received(_invoke(b"cb-slow") + _invoke(b"x") + _invoke(b"cb-back") + _invoke(b"cb-1"))
        for _ in range(100):
            await asyncio.sleep(0.01)
            if len(_responses(real)) == 4:
                break
        assert _responses(real) == [b"cb:cb-slow", b"fast:x", b"fast:cb-back", b"cb:cb-1"]
        assert [r.body for r in gateway.taken] == [b"cb-slow", b"cb-back", b"cb-1"]
        assert [r.body for r in gateway.served] == [b"x", b"cb-back"]
        assert gateway.served[1] is gateway.taken[1]  # handed back whole: the same request (and its id)
        assert not real.closed
        # a request that asks to close the connection: answered, then closed
        protocol.data_received(_invoke(b"cb-2", extra="Connection: close\r\n"))
        for _ in range(100):
            await asyncio.sleep(0.01)
            if real.closed:
                break
        assert _responses(real)[-1] == b"cb:cb-2" and b"connection: close" in real.writes[-1] and real.closed
        assert gateway.delivered == [True, True, True]
        # the client goes away before the answer: nothing written, and respond says so
        protocol, real = _protocol(gateway)
        protocol.data_received(_invoke(b"cb-slow"))
        protocol.connection_lost(None)
        for _ in range(100):
            await asyncio.sleep(0.01)
            if len(gateway.delivered) == 4:
                break
        assert gateway.delivered[-1] is False and not real.writes

    asyncio.run(run())
