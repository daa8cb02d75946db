"""SDK v3 tests: scripts run with the SageMaker Python SDK v3 in its own venv (``.venv-sdkv3``, built by
``make test`` from requirements/sdk-v3.txt; v3 cannot share a venv with v2), against a server of their own.

Each test runs one program from ``scripts/`` with ``.venv-sdkv3/bin/python`` in the environment
``sagestack env`` prints, as a user would, and reads the ``RESULT {json}`` line it prints last. A
``sitecustomize`` refuses (and records) every connection and name lookup outside 127.0.0.0/8, so a test
fails if the SDK tries to reach AWS.
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from pathlib import Path

import pytest

from sagestack.local_server import ServerProcess
from v3_support import ROLE  # noqa: F401 (the role the programs use)

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = Path(__file__).resolve().parent / "scripts"
V3_PYTHON = Path(os.environ.get("SAGESTACK_TEST_SDK_V3_PYTHON") or ROOT / ".venv-sdkv3" / "bin" / "python")

GUARD = textwrap.dedent('''
    """Tests only: refuse network traffic that does not stay on this machine, and record the attempt."""
    import ipaddress, os, socket

    _LOG = os.environ.get("SAGESTACK_TEST_NETWORK_LOG")
    _LOCAL_NAMES = {"localhost", "ip6-localhost"}


    def _refuse(what):
        if _LOG:
            with open(_LOG, "a") as log:
                log.write(f"{what}\\n")
        raise OSError(f"sagestack tests: no network beyond 127.0.0.0/8 ({what})")


    def _local(host):
        if host is None or host in _LOCAL_NAMES or str(host).startswith("algo-"):
            return True
        try:
            return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
        except ValueError:
            return False


    _getaddrinfo = socket.getaddrinfo


    def getaddrinfo(host, *args, **kwargs):
        if not _local(host if not isinstance(host, bytes) else host.decode()):
            _refuse(f"lookup {host}")
        return _getaddrinfo(host, *args, **kwargs)


    socket.getaddrinfo = getaddrinfo
    _connect, _connect_ex = socket.socket.connect, socket.socket.connect_ex


    def _check(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not _local(address[0]):
            _refuse(f"connect {address[0]}")


    def connect(self, address):
        _check(self, address)
        return _connect(self, address)


    def connect_ex(self, address):
        _check(self, address)
        return _connect_ex(self, address)


    socket.socket.connect, socket.socket.connect_ex = connect, connect_ex
''')


@pytest.fixture(scope="session")
def v3_python() -> Path:
    if not V3_PYTHON.exists():
        pytest.skip(f"no SDK v3 venv at {V3_PYTHON}: `make test` (or `make sdkv3-venv`) builds it")
    return V3_PYTHON


@pytest.fixture(scope="session")
def v3_server(v3_python, tmp_path_factory) -> ServerProcess:
    """A server whose ModelBuilder endpoints load with the v3 venv's Python (SAGESTACK_SDK_V3_PYTHON)."""
    proc = ServerProcess(
        tmp_path_factory.mktemp("sdkv3") / "data", extra_env={"SAGESTACK_SDK_V3_PYTHON": str(v3_python)}
    )
    proc.start()
    yield proc
    proc.stop()


class V3Runner:
    """Runs a program of scripts/ with SDK v3 against the server; returns the JSON it printed last."""

    def __init__(self, python: Path, server: ServerProcess, root: Path):
        self.python, self.server, self.root = python, server, root
        guard = root / "guard"
        guard.mkdir(exist_ok=True)
        (guard / "sitecustomize.py").write_text(GUARD)
        self.guard = guard

    def env(self, work: Path) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("AWS_", "SAGEMAKER_", "PYTHON", "VIRTUAL_ENV", "BOTOCORE_"))
        }
        env.update(self.server.client_env())
        env["PYTHONPATH"] = os.pathsep.join([str(self.guard), env["PYTHONPATH"]])
        env.update(
            SAGESTACK_TEST_NETWORK_LOG=str(work / "network.log"),
            PYTHONUNBUFFERED="1",
            HOME=str(work),  # no ~/.aws or ~/.config/sagemaker from the machine
        )
        return env

    def __call__(self, script: str, *args: str, timeout: float = 480) -> tuple[dict, str]:
        work = self.root / Path(script).stem
        work.mkdir(exist_ok=True)
        result = subprocess.run(
            [str(self.python), str(SCRIPTS / script), *args],
            env=self.env(work),
            cwd=work,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        output = result.stdout + result.stderr
        assert result.returncode == 0, f"{script} exited {result.returncode}:\n{output[-6000:]}"
        network = work / "network.log"
        assert not network.exists(), f"{script} tried to leave the machine: {network.read_text()}"
        last = [line for line in result.stdout.splitlines() if line.startswith("RESULT {")]
        assert last, f"{script} printed no result:\n{output[-4000:]}"
        return json.loads(last[-1][len("RESULT ") :]), output


@pytest.fixture(scope="session")
def run_v3(v3_python, v3_server, tmp_path_factory) -> V3Runner:
    return V3Runner(v3_python, v3_server, tmp_path_factory.mktemp("v3-work"))
