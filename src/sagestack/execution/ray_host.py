"""What runs inside a Ray actor on each cluster node: the node agent (one per node and server, kept for
the server's lifetime, so a job start costs no new Ray worker process).

For each job host placed on its node it starts the same instance process the local executor starts
(``python -m sagestack.execution.entry`` with the environment the run built), keeps its output lines until
the server reads them, signals its process tree and measures it.

The agent is owned by the server's Ray driver, so Ray ends it when that server dies, and the host processes
it started end with it. Ray SIGKILLs a dead worker's direct children, which would leave their own children
(the user's script) running, so each host runs under a small guard (:data:`GUARD`): the guard dies with
the agent (``PR_SET_PDEATHSIG``, started from one long-lived thread since that signal follows the thread
that forked), and the entry process under it is bound to the guard as a local job is bound to its server
(``SAGESTACK_SERVER_PID``, execution/entry.py: it kills its whole process group). Each process also
carries its job's key (``SAGESTACK_RAY_JOB``), so another server's agent on the node can end whatever of a
job is still there before that server runs the job again (:func:`end_job`).

It imports no Ray at module level (the executor wraps it with ``ray.remote``) and nothing heavy, so the
node needs sagestack importable — the same installation as the server (docs/deployment-ray.md).
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections import deque

from .processes import kill_tree

MAX_BATCH = 2000  # lines per read
JOB_KEY = "SAGESTACK_RAY_JOB"  # the environment variable naming a host process's job

# ``python -c GUARD argv…``: dies with the agent (its parent, SAGESTACK_AGENT_PID), runs argv as its child
# bound to itself (SAGESTACK_SERVER_PID), passes the child's exit on; the signals a stop sends the process
# group reach the child, not the guard.
GUARD = """
import ctypes, os, signal, subprocess, sys
for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2):
    signal.signal(sig, lambda *_: None)
try:
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
except Exception:
    pass
if os.getppid() != int(os.environ.pop("SAGESTACK_AGENT_PID")):
    sys.exit(137)  # the agent died before the line above
os.environ["SAGESTACK_SERVER_PID"] = str(os.getpid())
signal.pthread_sigmask(signal.SIG_SETMASK, [])  # Ray's worker threads block some; the job gets none blocked
child = subprocess.Popen(sys.argv[1:])
code = child.wait()
if code < 0:
    signal.signal(-code, signal.SIG_DFL)
    os.kill(os.getpid(), -code)
sys.exit(code)
"""


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
        self.starts: queue.Queue = queue.Queue()
        threading.Thread(target=self._starter, daemon=True, name="host-starter").start()

    def _starter(self) -> None:
        """Start processes for :meth:`start` (this thread lives as long as the agent: a child's
        parent-death signal fires when the thread that forked it ends)."""
        while True:
            request, reply = self.starts.get()
            try:
                reply.put(subprocess.Popen(**request))
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                reply.put(exc)

    def node(self) -> tuple[str, str]:
        """(IP address, Ray node id) of the node this agent runs on."""
        import ray

        return ray.util.get_node_ip_address(), ray.get_runtime_context().get_node_id()

    def start(self, key: str, argv: list[str], env: dict[str, str], cwd: str) -> int:
        """Start a host's process (this node's interpreter in place of the server's); its pid."""
        env = {**env, "SAGESTACK_AGENT_PID": str(os.getpid())}  # it dies with this agent
        reply: queue.Queue = queue.Queue()
        self.starts.put(
            (
                dict(
                    args=[sys.executable, "-c", GUARD, sys.executable, *argv[1:]],
                    env=env,
                    cwd=cwd,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                ),
                reply,
            )
        )
        process = reply.get()
        if isinstance(process, BaseException):
            raise process
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

    def end_job(self, job: str) -> int:
        """End whatever of ``job`` still runs on this node (a run another server started, orphaned when
        that server died); how many of its processes there were."""
        return end_job(job)

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


def end_job(job: str, timeout: float = 10.0) -> int:
    """SIGKILL every process on this machine whose environment names ``job`` (``SAGESTACK_RAY_JOB``),
    with its process tree, and wait until they are gone; how many there were."""
    import psutil

    found = []
    for process in psutil.process_iter():
        try:
            if process.environ().get(JOB_KEY) == job:
                found.append(process)
        except psutil.Error:
            continue
    for process in found:
        kill_tree(process.pid, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(_running(p) for p in found):
        time.sleep(0.05)
    return len(found)


def _running(process) -> bool:
    """Not ended yet (a zombie whose parent has not reaped it counts as ended)."""
    import psutil

    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False
