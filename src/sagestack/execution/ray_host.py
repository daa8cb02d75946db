"""What runs inside a Ray actor on each cluster node: the node agent (one per node and server, kept for
the server's lifetime, so a job start costs no new Ray worker process).

For each job host placed on its node it starts the same instance process the local executor starts
(``python -m sagestack.execution.entry`` with the environment the run built), keeps its output lines until
the server reads them, signals its process tree and measures it. It imports no Ray at module level (the
executor wraps it with ``ray.remote``) and nothing heavy, so the node needs sagestack importable — the same
installation as the server (docs/deployment-ray.md).
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections import deque

from .processes import kill_tree

MAX_BATCH = 2000  # lines per read


class _HostProcess:
    def __init__(self, process: subprocess.Popen):
        self.process = process
        self.lines: deque[bytes] = deque()
        self.returncode: int | None = None
        self.changed = threading.Condition()
        threading.Thread(target=self._read, daemon=True, name="host-output").start()

    def _read(self) -> None:
        for line in self.process.stdout:
            with self.changed:
                self.lines.append(line)
                self.changed.notify_all()
        code = self.process.wait()
        with self.changed:
            self.returncode = code
            self.changed.notify_all()


class NodeAgent:
    def __init__(self):
        self.hosts: dict[str, _HostProcess] = {}

    def node(self) -> tuple[str, str]:
        """(IP address, Ray node id) of the node this agent runs on."""
        import ray

        return ray.util.get_node_ip_address(), ray.get_runtime_context().get_node_id()

    def start(self, key: str, argv: list[str], env: dict[str, str], cwd: str) -> int:
        """Start a host's process (this node's interpreter in place of the server's); its pid."""
        process = subprocess.Popen(
            [sys.executable, *argv[1:]],
            env=env,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.hosts[key] = _HostProcess(process)
        return process.pid

    def read(self, key: str, wait: float) -> tuple[list[bytes], int | None]:
        """The output lines since the last read (waiting up to ``wait`` seconds for one), and the exit code
        once the process has ended and every line has been read (the host is then forgotten)."""
        host = self.hosts.get(key)
        if host is None:
            return [], -9
        with host.changed:
            if not host.lines and host.returncode is None:
                host.changed.wait(wait)
            batch = [host.lines.popleft() for _ in range(min(len(host.lines), MAX_BATCH))]
            code = host.returncode if not host.lines else None
        if code is not None:
            self.hosts.pop(key, None)
        return batch, code

    def signal(self, key: str, sig: int) -> None:
        host = self.hosts.get(key)
        if host is not None:
            kill_tree(host.process.pid, sig)

    def usage(self, key: str) -> tuple[float, int, float]:
        """(CPU seconds, resident bytes, start time) of the host's process and its descendants."""
        import psutil

        host = self.hosts.get(key)
        if host is None:
            return 0.0, 0, time.time()
        try:
            root = psutil.Process(host.process.pid)
            started = root.create_time()
            tree = [root, *root.children(recursive=True)]
        except psutil.Error:
            return 0.0, 0, time.time()
        cpu, rss = 0.0, 0
        for process in tree:
            try:
                with process.oneshot():
                    times = process.cpu_times()
                    cpu += times.user + times.system
                    rss += process.memory_info().rss
            except psutil.Error:
                continue
        return cpu, rss, started
