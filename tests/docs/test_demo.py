"""``make demo``'s driver, ``python -m sagestack.demo``, on ports and data dirs the test controls.

1. A fresh data dir while the port is held by something that is not sagestack: the driver says so,
   starts sagestack on a free port, the example completes with a held-out accuracy, and nothing it
   started is left running.
2. A second run on the same data dir while a sagestack server holds the port: the driver uses it,
   leaves it running, and no endpoint is left behind.
3. A sagestack server of another data dir on the port, and an example that fails half-way leaving an
   endpoint: the driver starts its own server, deletes the endpoint, and reports the failure.
"""

from __future__ import annotations

import http.server
import os
import re
import socket
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import psutil
import pytest

from sagestack.local_server import ServerProcess, free_port

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("demo") / "data"


def _demo(port: int, data_dir: Path, *extra: str, timeout: float = 480) -> subprocess.CompletedProcess:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "SAGESTACK_", "BOTOCORE_")) and k != "SAGEMAKER_USER_CONFIG_OVERRIDE"
    }
    cmd = [sys.executable, "-m", "sagestack.demo", "--port", str(port), "--data-dir", str(data_dir), *extra]
    result = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    print(result.stdout[-6000:], result.stderr[-3000:])
    return result


def _accuracy(output: str) -> float:
    match = re.search(r"done in [\d.]+ s: held-out accuracy (\d\.\d+), AUC (\d\.\d+)", output)
    assert match, output[-3000:]
    return float(match.group(1))


def _processes_using(path: Path) -> list[str]:
    found = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        cmdline = " ".join(proc.info.get("cmdline") or [])
        if str(path) in cmdline and proc.pid != os.getpid():
            found.append(f"{proc.pid}: {cmdline[:200]}")
    return found


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


class _NotSagestack(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's naming
        body = b"<html>some other web app</html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def other_service():
    """An HTTP server that is not sagestack, on a port of its own."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NotSagestack)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.sdk_flow(
    "flow01",
    "the demo: fit, FinalMetricDataList, deploy, predict, "
    "transformer().transform, CloudWatch metrics and logs, delete "
    "(examples/xgboost_end_to_end.py)",
)
@pytest.mark.sdk_flow("flow07h", "the demo: predictor.delete_model, delete_endpoint, Session.delete_model")
def test_fresh_run_on_a_port_held_by_something_else(demo_dir, other_service):
    result = _demo(other_service, demo_dir)
    out = result.stdout
    assert result.returncode == 0, out[-4000:] + result.stderr[-4000:]
    assert f"port {other_service} on 127.0.0.1 is in use by something that is not sagestack" in out
    started = re.search(r"starting sagestack on free port (\d+) instead", out)
    assert started, out[:2000]
    assert _accuracy(out) >= 0.9
    for expected in (
        "step 8/8",
        "validation:auc",
        "endpoint Invocations = 1",
        "/aws/sagemaker/TrainingJobs",
        "/aws/sagemaker/Endpoints/sagestack-demo-",
        "/aws/sagemaker/TransformJobs",
        "deleted endpoint sagestack-demo-",
        f"stopped the server it started on port {started.group(1)}",
        "demo: finished in",
    ):
        assert expected in out, expected
    assert re.search(r"largest difference from the endpoint 0\b", out)
    assert _port_free(int(started.group(1)))
    assert not _processes_using(demo_dir)
    assert (demo_dir / "demo-server.log").exists()


def test_second_run_uses_the_running_server(demo_dir):
    server = ServerProcess(demo_dir, port=free_port()).start(timeout=120)
    try:
        result = _demo(server.port, demo_dir)
        out = result.stdout
        assert result.returncode == 0, out[-4000:] + result.stderr[-4000:]
        assert f"using the sagestack server already running at http://127.0.0.1:{server.port}" in out
        assert "starting sagestack" not in out and "stopped the server" not in out
        assert _accuracy(out) >= 0.9
        assert server.proc.poll() is None  # still running: the demo did not start it
        endpoints = server.client("sagemaker").list_endpoints(NameContains="sagestack-demo-")["Endpoints"]
        assert endpoints == []
    finally:
        server.stop()


FAILING_EXAMPLE = textwrap.dedent('''
    """Creates an endpoint, then fails before cleaning up."""
    import os, boto3
    sm = boto3.client("sagemaker")
    print("caller", boto3.client("sts").get_caller_identity()["Arn"], "at", os.environ["AWS_ENDPOINT_URL"])
    role = "arn:aws:iam::000000000000:role/SageStackExecutionRole"
    image = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
    sm.create_model(ModelName="left", ExecutionRoleArn=role,
                    PrimaryContainer={"Image": image, "ModelDataUrl": "s3://nowhere/model.tar.gz"})
    sm.create_endpoint_config(EndpointConfigName="left", ProductionVariants=[{"VariantName": "AllTraffic",
        "ModelName": "left", "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}])
    sm.create_endpoint(EndpointName="sagestack-demo-left", EndpointConfigName="left")
    raise SystemExit(3)
''')


def test_foreign_server_and_leftover_endpoint(tmp_path):
    foreign = ServerProcess(tmp_path / "foreign", port=free_port()).start(timeout=120)
    example = tmp_path / "failing_example.py"
    example.write_text(FAILING_EXAMPLE)
    try:
        result = _demo(foreign.port, tmp_path / "mine", "--example", str(example))
    finally:
        foreign.stop()
    out = result.stdout
    assert result.returncode == 3, out
    assert (
        f"a sagestack server is running at http://127.0.0.1:{foreign.port}, but it does not accept the keys"
    ) in out
    assert "InvalidClientTokenId" in out
    assert re.search(r"starting another on free port \d+", out)
    assert "caller arn:aws:sts::000000000000:assumed-role/SageStackExecutionRole" in out
    assert "deleted endpoints the example left behind: sagestack-demo-left" in out
    assert "FAILED (exit status 3)" in out
    assert not _processes_using(tmp_path / "mine")


def test_make_demo_runs_the_driver():
    make = subprocess.run(
        ["make", "-n", "demo", "docs"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert make.returncode == 0, make.stderr
    assert "-m sagestack.demo" in make.stdout
    for command in (
        "sagestack coverage --markdown > docs/coverage.md",
        "-m sagestack.algorithms.catalog > docs/algorithms.md",
        "-m sagestack.environments.frameworks > docs/framework-versions.md",
        "-m sagestack.sdk_flows > docs/sdk-flows.md",
        "-m sagestack.demo --write-notebook",
    ):
        assert command in make.stdout, command


def test_probe_tells_sagestack_from_others(other_service):
    from sagestack.demo import probe
    from sagestack.settings import Settings

    assert probe(Settings(port=other_service)).kind == "other"
    assert probe(Settings(port=free_port())).kind == "free"
