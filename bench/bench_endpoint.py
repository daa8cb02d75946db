"""Real-time endpoint latency and throughput: sagestack's full path against its parts and a bare app.

Usage: ``python -m bench.bench_endpoint [--seconds 5] [--warmup 2] [--connections 16]``

Same model everywhere (perf-anchors.md): XGBoost binary classifier, 100 trees, depth 6, 20 features; one
request = one CSV row of 20 floats → one score. Targets, measured in the same run on the same machine:

* ``in-process``: ``sagestack.algorithms.xgboost.predict`` called in a loop (no HTTP);
* ``bare app``: a minimal ASGI app under uvicorn (uvloop + httptools, 1 worker) calling the same predict;
* ``worker``: a sagestack endpoint worker called directly (container contract, ``POST /invocations``);
* ``gateway``: ``InvokeEndpoint`` through ``sagestack serve`` with SigV4 verification on every request
  (router → kept-alive connection → worker).

Load: wrk (closed loop; 1 connection for p50/p99 latency, N connections for throughput) when installed,
else a Python raw-socket closed loop. Requests to the gateway are signed by botocore once, ahead of time,
and the identical signed bytes are replayed: the server verifies the full SigV4 signature (HMAC chain,
canonical request, body hash) on every request and only checks that the timestamp is within 15 minutes,
so replayed requests cost the server exactly what fresh ones do. Server CPU per request is the user+sys
time of the server's process tree (gateway plus workers) during the N-connection run, divided by requests.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
XGBOOST_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
ROW = ",".join(
    f"{v:.4f}"
    for v in [
        0.5,
        -1.2,
        0.3,
        2.2,
        -0.7,
        0.1,
        1.5,
        -0.2,
        0.9,
        -1.1,
        0.4,
        0.0,
        -0.6,
        1.8,
        0.2,
        -0.3,
        0.7,
        -1.9,
        1.1,
        0.6,
    ]
).encode()


# -- the model --------------------------------------------------------------------------------------


def train_model(directory: Path) -> Path:
    import numpy as np
    import xgboost as xgb

    rng = np.random.default_rng(0)
    x = rng.normal(size=(5000, 20)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] * x[:, 2] + rng.normal(scale=0.5, size=5000) > 0).astype(np.float32)
    booster = xgb.train(
        {"objective": "binary:logistic", "max_depth": 6, "nthread": 2},
        xgb.DMatrix(x, label=y),
        num_boost_round=100,
    )
    model_dir = directory / "model"
    model_dir.mkdir(parents=True, exist_ok=True)
    booster.save_model(str(model_dir / "xgboost-model"))
    with tarfile.open(directory / "model.tar.gz", "w:gz") as archive:
        archive.add(model_dir / "xgboost-model", arcname="xgboost-model")
    return model_dir


# -- the bare app (run as a subprocess: ``--serve-bare PORT MODEL_DIR``) ------------------------------


def serve_bare(port: int, model_dir: str) -> None:
    import uvicorn

    from sagestack.algorithms.xgboost import serving

    model = serving.load_model(model_dir)

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        headers = dict(scope["headers"])
        body, content_type = serving.predict(
            model,
            b"".join(chunks),
            headers.get(b"content-type", b"").decode(),
            headers.get(b"accept", b"").decode() or None,
        )
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", content_type.encode()),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
    )


# -- load generation ----------------------------------------------------------------------------------


def raw_request(host: str, port: int, method: str, path: str, headers: dict[str, str], body: bytes) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}"]
    lines += [f"{k}: {v}" for k, v in headers.items() if k.lower() not in ("host", "content-length")]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def _read_response(sock: socket.socket, buffer: bytearray) -> int:
    while True:
        end = buffer.find(b"\r\n\r\n")
        if end >= 0:
            head = bytes(buffer[:end]).lower()
            status = int(head[9:12])
            match = re.search(rb"content-length:\s*(\d+)", head)
            total = end + 4 + (int(match.group(1)) if match else 0)
            while len(buffer) < total:
                buffer += sock.recv(65536)
            del buffer[:total]
            return status
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        buffer += chunk


def python_load(port: int, request: bytes, connections: int, seconds: float) -> dict:
    """Closed loop over raw keep-alive sockets (fallback when wrk is not installed)."""
    latencies: list[list[float]] = [[] for _ in range(connections)]
    errors = [0]
    stop = time.monotonic() + seconds

    def run(index: int) -> None:
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

    threads = [threading.Thread(target=run, args=(i,)) for i in range(connections)]
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


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return values[min(len(values) - 1, int(len(values) * q / 100))]


WRK_SCRIPT = """
wrk.method = "POST"
wrk.path = {path}
wrk.body = {body}
{headers}
done = function(summary, latency, requests)
  io.write(string.format("RESULT %d %d %d %f %f\\n", summary.requests, summary.errors.status,
    summary.duration, latency:percentile(50), latency:percentile(99)))
end
"""


def wrk_load(
    port: int,
    path: str,
    headers: dict[str, str],
    body: bytes,
    connections: int,
    seconds: float,
    workdir: Path,
) -> dict:
    lua = WRK_SCRIPT.format(
        path=json.dumps(path),
        body=json.dumps(body.decode()),
        headers="\n".join(
            f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}"
            for k, v in headers.items()
            if k.lower() != "content-length"
        ),
    )
    script = workdir / f"wrk-{port}.lua"
    script.write_text(lua)
    threads = 1 if connections == 1 else 2
    out = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{seconds}s",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}{path}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    match = re.search(r"RESULT (\d+) (\d+) (\d+) ([\d.]+) ([\d.]+)", out)
    requests, errors, duration_us, p50_us, p99_us = match.groups()
    return {
        "requests": int(requests),
        "rps": int(requests) / (int(duration_us) / 1e6),
        "p50_ms": float(p50_us) / 1e3,
        "p99_ms": float(p99_us) / 1e3,
        "errors": int(errors),
    }


class Target:
    def __init__(self, name: str, port: int, path: str, headers: dict[str, str], body: bytes, pid: int):
        self.name, self.port, self.path, self.headers, self.body, self.pid = (
            name,
            port,
            path,
            headers,
            body,
            pid,
        )

    def load(self, connections: int, seconds: float, workdir: Path) -> dict:
        if shutil.which("wrk"):
            return wrk_load(self.port, self.path, self.headers, self.body, connections, seconds, workdir)
        request = raw_request("127.0.0.1", self.port, "POST", self.path, self.headers, self.body)
        return python_load(self.port, request, connections, seconds)


def tree_cpu(pid: int) -> float:
    return split_cpu(pid)[0]


def split_cpu(pid: int) -> tuple[float, float]:
    """(user+sys of the process tree, of its root process alone): for the gateway the root is the
    gateway process and the rest its workers."""
    import psutil

    try:
        root = psutil.Process(pid)
        total = own = 0.0
        for proc in [root] + root.children(recursive=True):
            try:
                times = proc.cpu_times()
                total += times.user + times.system
                if proc.pid == pid:
                    own = times.user + times.system
            except psutil.Error:
                pass
        return total, own
    except psutil.Error:
        return 0.0, 0.0


def measure(target: Target, args, workdir: Path) -> dict:
    target.load(args.connections, args.warmup, workdir)
    single = target.load(1, args.seconds, workdir)
    # what the process tree burns with no requests (sagestack's control loops poll the store): at a few
    # hundred requests/s on a loaded machine it is a visible share of "CPU per request"
    idle_before, idle_started = tree_cpu(target.pid), time.monotonic()
    time.sleep(2.0)
    idle_per_s = (tree_cpu(target.pid) - idle_before) / (time.monotonic() - idle_started)
    (cpu_before, root_before), started = split_cpu(target.pid), time.monotonic()
    multi = target.load(args.connections, args.seconds, workdir)
    cpu_after, root_after = split_cpu(target.pid)
    cpu = cpu_after - cpu_before
    elapsed = time.monotonic() - started
    errors = single["errors"] + multi["errors"]
    requests = max(1, multi["requests"])
    return {
        "p50_ms": single["p50_ms"],
        "p99_ms": single["p99_ms"],
        "rps1": single["rps"],
        "rpsN": multi["rps"],
        "cpu_us": cpu / requests * 1e6,
        "root_cpu_us": (root_after - root_before) / requests * 1e6,
        "net_cpu_us": max(0.0, cpu - idle_per_s * elapsed) / requests * 1e6,
        "idle_pct": idle_per_s * 100,
        "errors": errors,
    }


def wait_port(port: int, timeout: float = 60.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on {port}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- targets ------------------------------------------------------------------------------------------


def in_process(model_dir: Path, seconds: float) -> dict:
    from sagestack.algorithms.xgboost import serving

    model = serving.load_model(model_dir)
    for _ in range(200):
        serving.predict(model, ROW, "text/csv", None)
    times = []
    stop = time.monotonic() + seconds
    while time.monotonic() < stop:
        started = time.perf_counter()
        serving.predict(model, ROW, "text/csv", None)
        times.append(time.perf_counter() - started)
    times.sort()
    return {"p50_ms": _pct(times, 50) * 1e3, "p99_ms": _pct(times, 99) * 1e3, "rps1": len(times) / seconds}


def start_server(data_dir: Path, port: int, src: Path | None = None) -> subprocess.Popen:
    """``sagestack serve`` on ``port`` (the sources under ``src`` when given), its log beside the data dir."""
    env = dict(os.environ)
    env.pop("AWS_ENDPOINT_URL", None)
    if src is not None:
        env["PYTHONPATH"] = str(src)
    with open(data_dir.parent / (f"server-{port}.log" if src is not None else "server.log"), "ab") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "sagestack",
                "serve",
                "--port",
                str(port),
                "--data-dir",
                str(data_dir),
                "--log-level",
                "warning",
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    wait_port(port)
    return proc


def signed_invoke(url: str, key: str, secret: str, endpoint: str) -> tuple[str, dict[str, str]]:
    """botocore-signed InvokeEndpoint request (path and headers), prepared once."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    path = f"/endpoints/{endpoint}/invocations"
    request = AWSRequest(
        "POST", url + path, data=ROW, headers={"Content-Type": "text/csv", "Accept": "text/csv"}
    )
    SigV4Auth(Credentials(key, secret), "sagemaker", "us-east-1").add_auth(request)
    return path, {k: v for k, v in request.headers.items()}


def deploy(port: int, data_dir: Path, tarball: Path) -> tuple[str, str, float]:
    """The XGBoost model in ``tarball`` on the endpoint ``bench-xgb`` of the server on ``port``: the server's
    key pair and the seconds CreateEndpoint took to InService."""
    import boto3

    creds = dict(line.split("=", 1) for line in (data_dir / "credentials").read_text().split())
    key, secret = creds["aws_access_key_id"], creds["aws_secret_access_key"]

    def client(name: str):
        return boto3.client(
            name,
            endpoint_url=f"http://127.0.0.1:{port}",
            region_name="us-east-1",
            aws_access_key_id=key,
            aws_secret_access_key=secret,
        )

    s3, sm = client("s3"), client("sagemaker")
    s3.create_bucket(Bucket="bench-models")
    s3.upload_file(str(tarball), "bench-models", "xgb/model.tar.gz")
    sm.create_model(
        ModelName="bench-xgb",
        ExecutionRoleArn="arn:aws:iam::000000000000:role/R",
        PrimaryContainer={"Image": XGBOOST_IMAGE, "ModelDataUrl": "s3://bench-models/xgb/model.tar.gz"},
    )
    sm.create_endpoint_config(
        EndpointConfigName="bench-xgb",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": "bench-xgb",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    started = time.monotonic()
    sm.create_endpoint(EndpointName="bench-xgb", EndpointConfigName="bench-xgb")
    while sm.describe_endpoint(EndpointName="bench-xgb")["EndpointStatus"] == "Creating":
        time.sleep(0.05)
    return key, secret, time.monotonic() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_endpoint")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--serve-bare", nargs=2, metavar=("PORT", "MODEL_DIR"))
    args = parser.parse_args(argv)
    if args.serve_bare:
        serve_bare(int(args.serve_bare[0]), args.serve_bare[1])
        return 0
    args.seconds = int(max(1, args.seconds))
    args.warmup = int(max(1, args.warmup))
    sys.path.insert(0, str(ROOT / "src"))
    workdir = Path(tempfile.mkdtemp(prefix="bench-endpoint-"))
    processes: list[subprocess.Popen] = []
    instance = None
    try:
        model_dir = train_model(workdir)
        rows: dict[str, dict] = {"in-process predict": in_process(model_dir, args.seconds)}

        port = free_port()
        bare = subprocess.Popen(
            [sys.executable, "-m", "bench.bench_endpoint", "--serve-bare", str(port), str(model_dir)],
            cwd=ROOT,
        )
        processes.append(bare)
        wait_port(port)
        rows["bare uvicorn app"] = measure(
            Target("bare", port, "/invocations", {"Content-Type": "text/csv"}, ROW, bare.pid), args, workdir
        )
        bare.terminate()

        from sagestack.serving.instances import Instance, WorkerSpec

        spec = WorkerSpec(
            [
                {
                    "hostname": "primary",
                    "image": XGBOOST_IMAGE,
                    "model_dir": str(model_dir),
                    "code_dir": None,
                    "environment": {},
                }
            ],
            labels={"endpoint": "bench"},
        )
        instance = Instance(spec, workdir).start()
        if not instance.wait(120):
            raise RuntimeError(instance.failure)
        rows["worker direct"] = measure(
            Target(
                "worker",
                instance.port,
                "/invocations",
                {"Content-Type": "text/csv"},
                ROW,
                instance.process.pid,
            ),
            args,
            workdir,
        )
        instance.stop()
        instance = None

        data_dir = workdir / "data"
        port = free_port()
        server = start_server(data_dir, port)
        processes.append(server)
        key, secret, in_service = deploy(port, data_dir, workdir / "model.tar.gz")
        url = f"http://127.0.0.1:{port}"
        path, headers = signed_invoke(url, key, secret, "bench-xgb")
        rows["gateway (SigV4, router)"] = measure(
            Target("gateway", port, path, headers, ROW, server.pid), args, workdir
        )
        report(rows, args, in_service)
    finally:
        if instance is not None:
            instance.stop()
        for proc in processes:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


def report(rows: dict[str, dict], args, in_service: float) -> None:
    loader = "wrk" if shutil.which("wrk") else "python raw sockets"
    print(
        f"\nXGBoost 100 trees depth 6, 20 features, one CSV row per request; load: {loader}, closed loop, "
        f"{args.seconds}s per measurement after {args.warmup}s warm-up; CPU: {os.cpu_count()} cores"
    )
    print(
        f"{'target':<26} {'1-conn p50':>10} {'p99':>9} {'1-conn req/s':>13} "
        f"{f'{args.connections}-conn req/s':>14} {'CPU/req':>9} {'net of idle':>11} {'idle CPU':>8} "
        f"{'errors':>7}"
    )
    for name, row in rows.items():
        rps_n = f"{row['rpsN']:,.0f}" if "rpsN" in row else "-"
        cpu = f"{row['cpu_us']:,.0f}µs" if "cpu_us" in row else "-"
        net = f"{row['net_cpu_us']:,.0f}µs" if "net_cpu_us" in row else "-"
        idle = f"{row['idle_pct']:.1f}%" if "idle_pct" in row else "-"
        print(
            f"{name:<26} {row['p50_ms']:>8.3f}ms {row['p99_ms']:>7.3f}ms {row['rps1']:>13,.0f} {rps_n:>14} "
            f"{cpu:>9} {net:>11} {idle:>8} {row.get('errors', 0):>7}"
        )
    bare, gateway, worker = rows["bare uvicorn app"], rows["gateway (SigV4, router)"], rows["worker direct"]
    print(
        f"\ngateway / bare app throughput ({args.connections} conn): {gateway['rpsN'] / bare['rpsN']:.2f}x "
        f"(goal >= 0.6x); worker / bare: {worker['rpsN'] / bare['rpsN']:.2f}x"
    )
    print(
        f"gateway / bare app CPU per request: {gateway['cpu_us'] / bare['cpu_us']:.2f}x "
        f"(net of idle: {gateway['net_cpu_us'] / max(1e-9, bare['net_cpu_us']):.2f}x; goal <= 1.3x)"
    )
    print(
        f"gateway CPU per request by process: gateway {gateway['root_cpu_us']:,.0f}µs, workers "
        f"{gateway['cpu_us'] - gateway['root_cpu_us']:,.0f}µs (worker called directly: {worker['cpu_us']:,.0f}µs)"
    )
    print(
        f"router overhead at 1 conn (gateway p50 - worker p50): "
        f"{(gateway['p50_ms'] - worker['p50_ms']) * 1e3:.0f}µs"
    )
    print(f"CreateEndpoint -> InService: {in_service:.2f}s")


if __name__ == "__main__":
    sys.exit(main())
