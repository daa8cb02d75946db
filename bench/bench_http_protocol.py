"""What an HTTP server's per-request machinery costs, in process: uvicorn's httptools protocol (as sagestack
served before), the gateway's protocol (uvicorn's with one write per response, gateway/http_protocol.py)
and the endpoint worker's own protocol (serving/worker.py), each fed an InvokeEndpoint-sized request and
answering at once (no model, no SigV4), the transport a no-op that records writes.

Usage: ``python -m bench.bench_http_protocol [--requests 20000] [--rounds 5]``

CPU µs per request (median of the rounds) and writes per response. Syscalls are not in it: the gateway's
transport saves one ``send`` per response, which this harness cannot see.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

REQUEST = (
    b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\nAccept: text/csv\r\n"
    b"X-Amz-Date: 20261207T000000Z\r\nAuthorization: AWS4-HMAC-SHA256 Credential=abc/20261207/us-east-1/"
    b"sagemaker/aws4_request, SignedHeaders=accept;content-type;host;x-amz-date, Signature="
    + b"0"
    * 64
    + b"\r\nUser-Agent: Boto3/1.35 md/Botocore#1.35 ua/2.0 os/linux\r\namz-sdk-invocation-id: 1234\r\n"
    b"amz-sdk-request: attempt=1\r\nContent-Length: 5\r\n\r\n1,2,3"
)


INVOKE = REQUEST.replace(b"POST /invocations ", b"POST /endpoints/bench/invocations ", 1)


def _gateway():
    """sagestack's Gateway (handle_http, serve, send_response, the request log) whose dispatch answers at
    once: what the ASGI path and the protocol's InvokeEndpoint path cost around SigV4 and the router."""
    from sagestack.gateway.app import Gateway
    from sagestack.protocol.http import HttpResponse

    class AnsweringGateway(Gateway):
        def __init__(self) -> None:  # no platform, no service tables
            pass

        async def dispatch(self, request, call=None):
            body = await request.read_body()
            assert body == b"1,2,3"
            return HttpResponse(
                200, [("content-type", "text/csv"), ("x-amzn-requestid", request.request_id)], b"0.5"
            )

    return AnsweringGateway()


class NullTransport:
    def __init__(self) -> None:
        self.waiter: asyncio.Future | None = None
        self.writes = 0

    def write(self, data: bytes) -> None:
        self.writes += 1
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    def writelines(self, parts) -> None:
        self.write(b"".join(parts))

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        pass

    def get_extra_info(self, name: str, default=None):
        return {"sockname": ("127.0.0.1", 1), "peername": ("127.0.0.1", 2)}.get(name, default)

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def _app(scope, receive, send) -> None:
    if scope["type"] != "http":
        return
    await receive()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/csv"), (b"content-length", b"3")],
        }
    )
    await send({"type": "http.response.body", "body": b"0.5"})


class _Model:
    def invoke(self, body, content_type, accept, target):
        return b"0.5", "text/csv"


def _uvicorn_protocol(http_class, app=_app):
    import uvicorn
    from uvicorn.server import ServerState

    config = uvicorn.Config(
        app,
        loop="none",
        http=http_class,
        lifespan="off",
        access_log=False,
        log_config=None,
        proxy_headers=False,
        server_header=False,
    )
    config.load()
    return config.http_protocol_class(config=config, server_state=ServerState(), app_state={})


async def _drive(protocol, requests: int, request: bytes = REQUEST) -> tuple[float, float]:
    transport = NullTransport()
    protocol.connection_made(transport)
    loop = asyncio.get_running_loop()
    started = time.process_time()
    for _ in range(requests):
        transport.waiter = loop.create_future()
        protocol.data_received(request)
        await transport.waiter
        await asyncio.sleep(0)  # the turn ends: a coalesced write goes out, the cycle completes
    cpu = (time.process_time() - started) / requests * 1e6
    return cpu, transport.writes / requests


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_http_protocol")
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    from sagestack.gateway.http_protocol import protocol_class
    from sagestack.serving import worker

    targets = {
        "uvicorn httptools": lambda: _uvicorn_protocol(HttpToolsProtocol),
        "gateway (one write per response)": lambda: _uvicorn_protocol(protocol_class()),
        "endpoint worker protocol": lambda: worker.HttpProtocol(worker.InvocationApp(_Model())),
        "Gateway app, ASGI path": lambda: _uvicorn_protocol(protocol_class(), _gateway()),
        "Gateway app, InvokeEndpoint path": lambda: _uvicorn_protocol(protocol_class(), _gateway()),
    }
    requests = {"Gateway app, InvokeEndpoint path": INVOKE}
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in targets}

    async def run() -> None:
        for _ in range(args.rounds):
            for name, make in targets.items():
                results[name].append(await _drive(make(), args.requests, requests.get(name, REQUEST)))

    try:
        import uvloop

        uvloop.run(run())
    except ImportError:
        asyncio.run(run())
    print(f"\nHTTP protocol per request, in process, {args.rounds} × {args.requests:,} requests (median)")
    print(f"{'protocol':<34} {'CPU/req':>9} {'writes/resp':>12}")
    for name, rows in results.items():
        cpu = statistics.median(r[0] for r in rows)
        print(f"{name:<34} {cpu:>7.1f}µs {rows[0][1]:>12.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
