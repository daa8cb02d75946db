"""A small local Ray cluster for tests and benchmarks: a head and more node processes, all registered as
127.0.0.1. Use it only inside a network namespace that has nothing but loopback up (``isolated`` runs a
command in one: ``unshare --net --pid --fork --mount-proc``, then ``ip link set lo up``), so Ray does not
replace 127.0.0.1 by the machine's interface address; the PID namespace ends every Ray process with the
command, so nothing outside it is touched."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def isolated(argv: list[str], timeout: float, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run ``argv`` in a fresh network (loopback only) and PID namespace; its output captured."""
    script = "ip link set lo up && exec " + " ".join(_quote(a) for a in argv)
    return subprocess.run(
        ["unshare", "--net", "--pid", "--fork", "--mount-proc", "sh", "-c", script],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def run_driver(script: Path, timeout: float) -> dict:
    """Run a driver script of this directory in a fresh namespace (:func:`isolated`) with these sources
    first on its path; the JSON it printed on its ``RESULTS`` line."""
    import json

    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT / "src")] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
    )
    done = isolated([sys.executable, str(script)], timeout=timeout, env=env)
    line = next((x for x in done.stdout.splitlines() if x.startswith("RESULTS ")), None)
    assert line, (
        f"the driver printed no results (exit {done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    )
    return json.loads(line[len("RESULTS ") :])


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


class LocalCluster:
    """``ray start`` a head and ``workers`` more nodes, each with ``cpus`` CPUs (inside the namespace)."""

    def __init__(self, temp_dir: Path, cpus: int = 1, port: int = 6390):
        self.temp_dir = Path(temp_dir)
        self.cpus = cpus
        self.port = port
        self.node_ports: list[int] = []  # each extra node's raylet port (to find and kill it)
        self.env = dict(os.environ)
        self.env.update(
            {
                "RAY_memory_monitor_refresh_ms": "0",
                "RAY_USAGE_STATS_ENABLED": "0",
                # a dead node is noticed within a few seconds
                "RAY_health_check_period_ms": "1000",
                "RAY_health_check_failure_threshold": "3",
                "PYTHONPATH": os.pathsep.join(
                    [str(ROOT / "src")] + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else [])
                ),
            }
        )

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _ray(self, *args: str) -> None:
        done = subprocess.run(
            [str(BIN / "ray"), "start", *args], env=self.env, capture_output=True, text=True, timeout=300
        )
        if done.returncode:
            raise RuntimeError(
                f"ray start {' '.join(args)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
            )

    def start_head(self) -> None:
        self._ray(
            "--head",
            "--node-ip-address=127.0.0.1",
            f"--port={self.port}",
            f"--num-cpus={self.cpus}",
            "--object-store-memory=100000000",
            "--dashboard-host=127.0.0.1",
            "--dashboard-port=8265",
            f"--temp-dir={self.temp_dir}",
            "--disable-usage-stats",
        )

    def add_node(self) -> int:
        port = 46000 + len(self.node_ports)
        self._ray(
            f"--address={self.address}",
            "--node-ip-address=127.0.0.1",
            f"--num-cpus={self.cpus}",
            "--object-store-memory=100000000",
            f"--node-manager-port={port}",
            "--disable-usage-stats",
        )
        self.node_ports.append(port)
        return port

    def kill_node(self, port: int) -> int:
        """Kill an extra node as a machine loss would: its raylet and everything under it. The number of
        processes killed."""
        import psutil

        killed = 0
        for process in psutil.process_iter(["name", "cmdline"]):
            cmdline = " ".join(process.info["cmdline"] or [])
            if "raylet" in (process.info["name"] or "") and f"--node_manager_port={port}" in cmdline:
                tree = [*process.children(recursive=True), process]
                for member in tree:
                    try:
                        member.send_signal(signal.SIGKILL)
                        killed += 1
                    except psutil.Error:
                        pass
        return killed

    def stop(self) -> None:
        subprocess.run([str(BIN / "ray"), "stop", "--force"], env=self.env, capture_output=True, timeout=60)


def wait_for(predicate, timeout: float, what: str, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"timed out waiting for {what}")
