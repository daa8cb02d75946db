"""The gateway's own CPU per InvokeEndpoint, in-process (no sockets, no model): SigV4 + routing + response.

Usage: ``python -m bench.bench_invocations [--requests 20000] [--rounds 5] [--log-level info]``

``bench_endpoint`` measures the whole path over HTTP, where the model, the sockets and (on a shared
machine) every other process weigh in. This one isolates the part sagestack adds in front of the model:
``Gateway.handle_http`` on a botocore-signed InvokeEndpoint request (full SigV4 verification: HMAC
chain, canonical request, body hash), with the serving router replaced by a handler that answers at
once. The floor is a bare ASGI app that reads the same body and sends the same answer. Figures are
process CPU time (``time.process_time``) per request, median of ``--rounds`` rounds, so other load on
the machine moves them little.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from .bench_endpoint import ROW, signed_invoke

KEY, SECRET = "AKIDBENCHINVOKE", "bench-secret"
HOST = "127.0.0.1:8080"


def _scope(path: str, headers: dict[str, str]) -> dict:
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items() if k.lower() != "host"]
    raw.append((b"host", HOST.encode()))
    return {
        "type": "http",
        "method": "POST",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": raw,
        "client": ("127.0.0.1", 50000),
    }


async def _receive() -> dict:
    return {"type": "http.request", "body": ROW, "more_body": False}


async def _floor(scope, receive, send) -> None:
    """A bare ASGI app: read the body, answer with the model's content type and a fixed score."""
    message = await receive()
    assert message["body"]
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/csv"), (b"content-length", b"3")],
        }
    )
    await send({"type": "http.response.body", "body": b"0.5"})


def _gateway(data_dir: Path):
    from sagestack.gateway import sigv4
    from sagestack.protocol.http import HttpResponse
    from sagestack.server import build_app
    from sagestack.settings import Settings

    gateway = build_app(dataclasses.replace(Settings.from_env({}), data_dir=data_dir))
    credentials = sigv4.Credentials(KEY, SECRET, "000000000000", "arn:aws:iam::000000000000:root")
    gateway.lookup = lambda key: credentials if key == KEY else None

    async def answer(request, auth, protocol):  # the router's place: the body read, an answer sent
        await request.read_body(6 * 1024 * 1024)
        headers = [
            ("content-type", "text/csv"),
            ("x-amzn-invoked-production-variant", "AllTraffic"),
            ("x-amzn-requestid", request.request_id),
        ]
        return HttpResponse(200, headers, b"0.5")

    gateway.invocation_handler = answer
    return gateway.handle_http


def _cpu_per_request(app, scope: dict, requests: int, rounds: int) -> list[float]:
    statuses: list[int] = []

    async def send(message: dict) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    async def run(n: int) -> None:
        for _ in range(n):
            await app(scope, _receive, send)

    async def measure() -> list[float]:
        await run(500)
        out = []
        for _ in range(rounds):
            started = time.process_time()
            await run(requests)
            out.append((time.process_time() - started) / requests * 1e6)
        return out

    results = asyncio.run(measure())
    if set(statuses) != {200}:
        raise RuntimeError(f"unexpected statuses {sorted(set(statuses))}")
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_invocations")
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--log-level",
        default=None,
        help="configure logging as the server does at this level (info: one request line per call), "
        "its output to a temp file",
    )
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="bench-invocations-"))
    if args.log_level:
        import sys

        from sagestack.server import configure_logging

        sys.stderr = open(tmp / "server.log", "w")  # noqa: SIM115 - the process's log, as a server's
        configure_logging(args.log_level)
    try:
        path, headers = signed_invoke(f"http://{HOST}", KEY, SECRET, "bench")
        scope = _scope(path, headers)
        floor = _cpu_per_request(_floor, scope, args.requests, args.rounds)
        gateway = _cpu_per_request(_gateway(tmp / "data"), scope, args.requests, args.rounds)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    f, g = statistics.median(floor), statistics.median(gateway)
    print(f"\nIn-process CPU per InvokeEndpoint ({args.requests:,} requests x {args.rounds} rounds, median)")
    print(f"{'target':<44} {'CPU/req':>9}  rounds")
    print(f"{'bare ASGI app (floor)':<44} {f:>7.1f}µs  {', '.join(f'{x:.1f}' for x in floor)}")
    print(
        f"{'gateway (SigV4 verify, routing, response)':<44} {g:>7.1f}µs  {', '.join(f'{x:.1f}' for x in gateway)}"
    )
    print(f"gateway's own work: {g - f:.1f}µs per request")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
