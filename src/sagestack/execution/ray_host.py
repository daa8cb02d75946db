"""What runs inside a Ray actor on a cluster node for one host of a job: the host agent.

It starts the same instance process the local executor starts (``python -m sagestack.execution.entry``
with the environment the run built), keeps its output lines until the server reads them, signals its
process tree, and measures it. It imports no Ray (the executor wraps it with ``ray.remote``), so the node
needs sagestack importable — the same installation as the server (docs/deployment-ray.md).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections import deque

MAX_BATCH = 2000  # lines per read


class HostAgent:
    def __init__(self):
        self.process = None
        self.lines: deque[bytes] = deque()
        self.returncode: int | None = None
        self.changed = threading.Condition()

    def node(self) -> tuple[str, str]:
        """(IP address, Ray node id) of the node this agent runs on."""
        import ray

        return ray.util.get_node_ip_address(), ray.get_runtime_context().get_node_id()

    def start(self, argv: list[str], env: dict[str, str], cwd: str) -> int:
        """Start the host's process (this node's interpreter in place of the server's); its pid."""
        from .training.supervision import start_local

        env = dict(env)
        if "CUDA_VISIBLE_DEVICES" in os.environ:  # the GPUs Ray gave this actor's bundle
            env["CUDA_VISIBLE_DEVICES"] = os.environ["CUDA_VISIBLE_DEVICES"]
        self.process = start_local([sys.executable, *argv[1:]], env, cwd)
        threading.Thread(target=self._read, daemon=True, name="host-output").start()
        return self.process.pid

    def _read(self) -> None:
        for line in self.process.stdout:
            with self.changed:
                self.lines.append(line)
                self.changed.notify_all()
        code = self.process.wait()
        with self.changed:
            self.returncode = code
            self.changed.notify_all()

    def read(self, wait: float) -> tuple[list[bytes], int | None]:
        """The output lines since the last read (waiting up to ``wait`` seconds for one), and the exit code
        once the process has ended and every line has been read."""
        with self.changed:
            if not self.lines and self.returncode is None:
                self.changed.wait(wait)
            batch = [self.lines.popleft() for _ in range(min(len(self.lines), MAX_BATCH))]
            return batch, (self.returncode if not self.lines else None)

    def signal(self, sig: int) -> None:
        from .training.supervision import kill_tree

        if self.process is not None:
            kill_tree(self.process.pid, sig)

    def usage(self) -> tuple[float, int, float]:
        """(CPU seconds, resident bytes, start time) of the process and its descendants."""
        import psutil

        if self.process is None:
            return 0.0, 0, time.time()
        try:
            root = psutil.Process(self.process.pid)
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
