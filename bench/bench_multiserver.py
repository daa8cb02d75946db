"""Invocations per second through one gateway vs two (``--cluster``), the same workers behind both.

Usage: ``python -m bench.bench_multiserver [--database-url URL] [--seconds 8] [--connections 8]
[--instances 2] [--alternate]``

Two ``sagestack serve --cluster`` processes share a PostgreSQL database (a fresh database is created
on the server ``--database-url`` or ``SAGESTACK_TEST_DATABASE_URL`` names, and dropped at the end) and
one data dir. Server A owns an echo endpoint with ``--instances`` workers; server B routes to the same
workers (serving/remote.py). The load is a closed loop of ``--connections`` keep-alive connections
replaying a botocore-signed InvokeEndpoint (bench_endpoint's generator): first all on A, then half on A
and half on B. The figure that matters is the ratio: whether a second gateway adds throughput with the
workers fixed, which needs the gateway (not the workers, nor the load generator) to be the bottleneck
and spare cores for the second one.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
import uuid
from pathlib import Path

from .bench_endpoint import _pct, _read_response, raw_request
from .common import table

ECHO = """
def model_fn(model_dir):
    return None

def input_fn(body, content_type):
    return body

def predict_fn(data, model):
    return b"0.5"

def output_fn(prediction, accept):
    return prediction, "text/csv"
"""


def load(targets: list[tuple[int, bytes]], seconds: float) -> dict:
    """Closed loop: one thread per (port, request), keep-alive sockets, for ``seconds``."""
    import socket

    latencies: list[list[float]] = [[] for _ in targets]
    errors = [0]
    stop = time.monotonic() + seconds

    def run(index: int, port: int, request: bytes) -> None:
        sock = socket.create_connection(("127.0.0.1", port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buffer = bytearray()
        while time.monotonic() < stop:
            started = time.perf_counter()
            sock.sendall(request)
            if _read_response(sock, buffer) != 200:
                errors[0] += 1
            latencies[index].append(time.perf_counter() - started)
        sock.close()

    threads = [threading.Thread(target=run, args=(i, p, r)) for i, (p, r) in enumerate(targets)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    flat = sorted(v for group in latencies for v in group)
    return {
        "requests": len(flat),
        "rps": len(flat) / elapsed,
        "p50_ms": _pct(flat, 50) * 1e3,
        "p99_ms": _pct(flat, 99) * 1e3,
        "errors": errors[0],
    }


def signed(server, endpoint: str) -> bytes:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    key, secret = server.credentials()
    path = f"/endpoints/{endpoint}/invocations"
    request = AWSRequest("POST", server.url + path, data=b"1,2", headers={"Content-Type": "text/csv"})
    SigV4Auth(Credentials(key, secret), "sagemaker", "us-east-1").add_auth(request)
    return raw_request("127.0.0.1", server.port, "POST", path, dict(request.headers.items()), b"1,2")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_multiserver")
    parser.add_argument("--database-url", default=os.environ.get("SAGESTACK_TEST_DATABASE_URL"))
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--instances", type=int, default=2)
    parser.add_argument("--alternate", action="store_true", help="also 1-connection runs on A and B in turn")
    args = parser.parse_args(argv)
    if not args.database_url:
        print("bench_multiserver: needs PostgreSQL (--database-url or SAGESTACK_TEST_DATABASE_URL)")
        return 0
    from sqlalchemy import create_engine, text

    from sagestack.local_server import ServerProcess

    from .common import tar_gz

    base = args.database_url.rpartition("/")[0]
    name = f"sagestack_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base + "/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    env = {"SAGESTACK_CLUSTER": "1", "SAGESTACK_LOG_LEVEL": "warning"}
    servers: list[ServerProcess] = []
    try:
        with tempfile.TemporaryDirectory(prefix="bench-multiserver-") as tmp:
            data = Path(tmp) / "data"
            a = ServerProcess(data, database_url=f"{base}/{name}", extra_env=env).start(60)
            servers.append(a)
            s3, sm = a.client("s3"), a.client("sagemaker")
            s3.create_bucket(Bucket="bench")
            s3.put_object(Bucket="bench", Key="m/model.tar.gz", Body=tar_gz({"code/inference.py": ECHO}))
            sm.create_model(
                ModelName="echo",
                ExecutionRoleArn="arn:aws:iam::000000000000:role/SageStackExecutionRole",
                PrimaryContainer={
                    "Image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3",
                    "ModelDataUrl": "s3://bench/m/model.tar.gz",
                    "Environment": {"SAGEMAKER_PROGRAM": "inference.py"},
                },
            )
            sm.create_endpoint_config(
                EndpointConfigName="echo",
                ProductionVariants=[
                    {
                        "VariantName": "AllTraffic",
                        "ModelName": "echo",
                        "InitialInstanceCount": args.instances,
                        "InstanceType": "ml.m5.large",
                    }
                ],
            )
            sm.create_endpoint(EndpointName="echo", EndpointConfigName="echo")
            sm.get_waiter("endpoint_in_service").wait(EndpointName="echo", WaiterConfig={"Delay": 1})
            b = ServerProcess(data, database_url=f"{base}/{name}", extra_env=env).start(60)
            servers.append(b)
            runtime_b = b.client("sagemaker-runtime")
            deadline = time.time() + 30
            while True:  # b follows a's addresses within a pass
                try:
                    runtime_b.invoke_endpoint(EndpointName="echo", Body=b"1,2", ContentType="text/csv")
                    break
                except Exception:
                    if time.time() > deadline:
                        raise
                    time.sleep(0.3)
            req_a, req_b = signed(a, "echo"), signed(b, "echo")
            load([(a.port, req_a)] * args.connections, 2.0)  # warm-up
            one = load([(a.port, req_a)] * args.connections, args.seconds)
            half = args.connections // 2
            two = load([(a.port, req_a)] * half + [(b.port, req_b)] * (args.connections - half), args.seconds)
            only_b = load([(b.port, req_b)] * args.connections, args.seconds)
            if args.alternate:  # one connection, A and B in turn: the forwarding hop's latency
                for _ in range(3):
                    for label, port, req in (("A", a.port, req_a), ("B", b.port, req_b)):
                        r = load([(port, req)], 2.0)
                        print(label, "1 conn", f"{r['rps']:.0f}/s p50 {r['p50_ms']:.2f} ms")
            rows = [
                [
                    "one gateway (B, forwarding to A's workers)",
                    f"{only_b['rps']:.0f}",
                    f"{only_b['p50_ms']:.2f}",
                    f"{only_b['p99_ms']:.2f}",
                    only_b["errors"],
                ],
                [
                    "one gateway (A)",
                    f"{one['rps']:.0f}",
                    f"{one['p50_ms']:.2f}",
                    f"{one['p99_ms']:.2f}",
                    one["errors"],
                ],
                [
                    "two gateways (A+B)",
                    f"{two['rps']:.0f}",
                    f"{two['p50_ms']:.2f}",
                    f"{two['p99_ms']:.2f}",
                    two["errors"],
                ],
            ]
            print(
                table(
                    f"Invocations through gateways, {args.instances} workers on A, {args.connections} connections, "
                    f"{os.cpu_count()} CPUs",
                    ["", "inv/s", "p50 ms", "p99 ms", "errors"],
                    rows,
                )
            )
            print(f"two / one: {two['rps'] / one['rps']:.2f}x")
    finally:
        for server in reversed(servers):
            server.stop()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
