"""Run a sagestack server as a subprocess (tests, benchmarks and the demo use this)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerProcess:
    """``sagestack serve`` in a subprocess; restartable on the same data dir."""

    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        extra_env: dict | None = None,
        database_url: str | None = None,
    ):
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self.extra_env = extra_env or {}
        self.database_url = database_url
        self.extra_args: list[str] = []  # more `sagestack serve` flags
        self.proc: subprocess.Popen | None = None
        self.log_path = self.data_dir.parent / f"{self.data_dir.name}-server.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> ServerProcess:
        env = dict(os.environ)
        env.update(self.extra_env)
        env.pop("AWS_ENDPOINT_URL", None)
        cmd = [
            sys.executable,
            "-m",
            "sagestack",
            "serve",
            "--port",
            str(self.port),
            "--data-dir",
            str(self.data_dir),
        ]
        if self.database_url:
            cmd += ["--database-url", self.database_url]
        cmd += self.extra_args
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(self.url + "/_sagestack/health", timeout=1) as resp:
                    if resp.status == 200:
                        return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"server did not start: {self.log_path.read_text()[-3000:]}")

    def stop(self, sig: str = "TERM", timeout: float = 20.0) -> None:
        if self.proc is None:
            return
        import signal

        if self.proc.poll() is None:
            self.proc.send_signal(getattr(signal, f"SIG{sig}"))
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if sig == "KILL":
            # SIGKILL leaves the process group's children (workers, jobs) behind, as a crash would;
            # the next start must cope with that. Clean them up so tests don't leak processes.
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        self.proc = None

    def restart(self, sig: str = "TERM") -> ServerProcess:
        self.stop(sig)
        return self.start()

    def client_env(self) -> dict[str, str]:
        from sagestack.client_env import client_environment
        from sagestack.settings import Settings

        return client_environment(Settings.from_env(port=self.port, data_dir=self.data_dir))

    def credentials(self) -> tuple[str, str]:
        env = self.client_env()
        return env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]

    def client(self, service: str, **kwargs):
        import boto3
        from botocore.config import Config

        key, secret = self.credentials()
        config = kwargs.pop("config", None) or Config(
            retries={"max_attempts": 2, "mode": "standard"}, s3={"addressing_style": "path"}
        )
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id=key,
            aws_secret_access_key=secret,
            config=config,
            **kwargs,
        )
