"""Server CPU per small PutObject, in-process, against writing the same bytes to a file.

Usage: ``python -m bench.bench_s3_put [--size 1024] [--requests 300] [--rounds 3]``

``bench_s3`` measures PUT throughput with a boto3 client over HTTP, where the client's own hashing and
the shared disk's fsync latency dominate small objects. This one isolates the server's fixed cost per
request: ``Gateway.handle_http`` on a botocore-signed PutObject (payload signed, CRC32 flexible checksum,
as boto3 sends them), run in-process so the figure is the process CPU time (``time.process_time``, all
threads) per request, median of ``--rounds``. The floor does what any durable write of those bytes must:
write them to a temp file, fsync, rename into place, remove the replaced file.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import dataclasses
import hashlib
import os
import shutil
import statistics
import tempfile
import time
import zlib
from pathlib import Path

KEY, SECRET = "AKIDBENCHS3PUT", "bench-secret"
HOST = "127.0.0.1:8080"


def _signed_scope(method: str, path: str, body: bytes, headers: dict[str, str] | None = None):
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(method, f"http://{HOST}{path}", data=body, headers=dict(headers or {}))
    request.headers["x-amz-content-sha256"] = hashlib.sha256(body).hexdigest()
    S3SigV4Auth(Credentials(KEY, SECRET), "s3", "us-east-1").add_auth(request)
    raw = [(k.lower().encode(), v.encode()) for k, v in request.headers.items()]
    raw += [(b"host", HOST.encode()), (b"content-length", str(len(body)).encode())]
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": raw,
        "client": ("127.0.0.1", 50000),
    }
    return scope, body


def _server_cpu(data_dir: Path, size: int, requests: int, rounds: int) -> list[float]:
    from sagestack.gateway import sigv4
    from sagestack.server import build_app
    from sagestack.settings import Settings

    gateway = build_app(dataclasses.replace(Settings.from_env({}), data_dir=data_dir))
    credentials = sigv4.Credentials(KEY, SECRET, "000000000000", "arn:aws:iam::000000000000:root")
    gateway.lookup = lambda key: credentials if key == KEY else None

    async def call(scope: dict, body: bytes) -> int:
        statuses = []

        async def receive() -> dict:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict) -> None:
            if message["type"] == "http.response.start":
                statuses.append(message["status"])

        await gateway.handle_http(scope, receive, send)
        return statuses[0]

    async def run() -> list[float]:
        if await call(*_signed_scope("PUT", "/bench-put", b"")) != 200:
            raise RuntimeError("CreateBucket failed")
        body = os.urandom(size)
        crc = base64.b64encode(zlib.crc32(body).to_bytes(4, "big")).decode()
        put = _signed_scope(
            "PUT",
            "/bench-put/object",
            body,
            {"x-amz-checksum-crc32": crc, "x-amz-sdk-checksum-algorithm": "CRC32"},
        )
        for _ in range(30):
            if await call(*put) != 200:
                raise RuntimeError("PutObject failed")
        out = []
        for _ in range(rounds):
            started = time.process_time()
            for _ in range(requests):
                await call(*put)
            out.append((time.process_time() - started) / requests * 1e6)
        return out

    try:
        return asyncio.run(run())
    finally:
        gateway.platform.stop()


def _file_floor(directory: Path, size: int, requests: int, rounds: int) -> list[float]:
    directory.mkdir(parents=True, exist_ok=True)
    body = os.urandom(size)
    out = []
    previous = None
    for _ in range(rounds):
        started = time.process_time()
        for i in range(requests):
            temp = directory / f"tmp-{i}"
            with open(temp, "wb") as handle:
                handle.write(body)
                handle.flush()
                os.fsync(handle.fileno())
            final = directory / f"obj-{i % 2}"
            os.replace(temp, final)
            if previous is not None and previous != final and previous.exists():
                os.unlink(previous)
            previous = final
        out.append((time.process_time() - started) / requests * 1e6)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_s3_put")
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="bench-s3-put-"))
    try:
        floor = _file_floor(tmp / "files", args.size, args.requests, args.rounds)
        server = _server_cpu(tmp / "data", args.size, args.requests, args.rounds)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    f, s = statistics.median(floor), statistics.median(server)
    print(f"\nCPU per PutObject of {args.size:,} bytes ({args.requests} x {args.rounds} rounds, median)")
    print(f"{'write + fsync + rename (floor)':<40} {f:>8.0f}µs  {', '.join(f'{x:.0f}' for x in floor)}")
    print(f"{'PutObject through the gateway':<40} {s:>8.0f}µs  {', '.join(f'{x:.0f}' for x in server)}")
    print(f"server / floor: {s / f:.1f}x; server's own work: {s - f:.0f}µs per request")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
