"""A warm pool of worker processes for serverless cold starts (``SAGESTACK_SERVERLESS_WARM_POOL``).

A serverless cold start spent most of its time importing the framework (scikit-learn: about a second
of CPU) in a new process before loading the model. The pool keeps, per *runtime* in use, a few worker
processes that have already made the imports a worker of that runtime makes before it knows its model
(:func:`.handlers.warm_imports`: the framework, the built-in algorithm's package) and wait on a control
socket. A cold start takes one (:meth:`WarmPool.take`) and hands it the instance's config file, listening
socket, status pipe and lifeline (:meth:`.instances.Instance.start`), so it costs a model load and a
handoff; the pool is topped up again by the serverless loop, a second later, not on the request's path.

A runtime is the worker's command (the server's Python, or another environment's Python running
sagestack's worker) and the import list. The pool is sagestack's: its processes are nobody's instances
until handed over, so they count neither towards an endpoint's MaxConcurrency nor its scale-to-zero; the
pool of a runtime that no serverless endpoint uses any more is emptied. A pooled worker exits when the
server closes its control socket (pool emptied, server gone).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from .instances import WorkerSpec, worker_command

log = logging.getLogger("sagestack.serving")

#: Room kept in a pooled worker's command line for the one it shows once handed over (worker.py).
COMMAND_LINE_RESERVE = 640
#: A pool is topped up this long after a handoff (its model load has the CPU to itself meanwhile).
REFILL_DELAY_S = 2.0
#: A runtime's pool is emptied once no serverless endpoint has used the runtime for this long.
UNUSED_S = 5.0

Key = tuple[tuple[str, ...], tuple[str, ...]]


class WarmWorker:
    """One pooled worker process and the server's end of its control socket."""

    def __init__(self, key: Key, process: subprocess.Popen, control: socket.socket):
        self.key = key
        self.process = process
        self.control = control
        self.warm = False  # its imports are made (it said WARM)
        self.started = time.monotonic()

    def ready(self) -> bool:
        """Whether it has made its imports and waits (reads its WARM line without blocking)."""
        if self.warm:
            return True
        if self.process.poll() is not None:
            return False
        try:
            data = self.control.recv(16, socket.MSG_DONTWAIT)
        except (BlockingIOError, InterruptedError):
            return False
        except OSError:
            return False
        self.warm = data.startswith(b"WARM")
        return self.warm

    def alive(self) -> bool:
        return self.process.poll() is None

    def hand_over(self, config_path: str, fds: list[int]) -> bool:
        """Send the instance's config file and descriptors; False when the worker is gone."""
        try:
            sent = socket.send_fds(self.control, [config_path.encode()], fds)
        except OSError:
            self.stop()
            return False
        finally:
            with contextlib.suppress(OSError):
                self.control.close()
        return sent > 0

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.control.close()  # EOF: a waiting pooled worker exits
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            with contextlib.suppress(OSError):
                self.process.stdout.close()


class WarmPool:
    """The pooled workers of every runtime in use, ``size`` per runtime."""

    def __init__(self, size: int, work_dir: Path):
        self.size = max(0, size)
        self.work_dir = work_dir
        self.workers: dict[Key, list[WarmWorker]] = {}
        self.specs: dict[Key, WorkerSpec] = {}
        self.handed_over = 0
        self.refill_at: dict[Key, float] = {}  # not before: the handed-over worker loads its model first
        self.wanted_at: dict[Key, float] = {}  # last seen in use (an endpoint coming up, or a live pool)
        self._lock = threading.Lock()
        self._fill_lock = threading.Lock()

    def key(self, spec: WorkerSpec) -> Key | None:
        """The runtime of ``spec``'s worker; None when no pooled worker can serve it."""
        if not self.size or spec.environment:
            return None
        from .handlers import warm_imports

        imports = warm_imports(spec.containers)
        if imports is None:
            return None
        command, _ = worker_command(spec, self.work_dir)
        return tuple(command), imports

    def want(self, spec: WorkerSpec) -> None:
        """A serverless endpoint of ``spec``'s runtime exists: keep its pool filled (starts it now)."""
        key = self.key(spec)
        if key is None:
            return
        with self._lock:
            self.specs.setdefault(key, spec)
            self.wanted_at[key] = time.monotonic()
        self.fill(key)

    def take(self, spec: WorkerSpec) -> WarmWorker | None:
        """A pooled worker for ``spec``'s runtime, one with its imports made if there is one, else one still
        making them (it reads the handoff once done: sooner than a new process that starts from nothing
        and competes with it for the CPU). None: none in the pool; start a process as usual."""
        key = self.key(spec)
        if key is None:
            return None
        with self._lock:
            workers = self.workers.get(key, [])
            for worker in [w for w in workers if not w.alive()]:
                workers.remove(worker)
                worker.stop()
            if not workers:
                return None
            worker = next((w for w in workers if w.ready()), workers[0])
            workers.remove(worker)
            self.handed_over += 1
            self.refill_at[key] = time.monotonic() + REFILL_DELAY_S
            return worker

    def fill(self, key: Key) -> None:
        with self._fill_lock:  # one filler at a time (endpoint bring-up and the loop): never one too many
            self._fill(key)

    def _fill(self, key: Key) -> None:
        with self._lock:
            spec = self.specs.get(key)
            workers = self.workers.setdefault(key, [])
            for worker in [w for w in workers if not w.alive()]:
                workers.remove(worker)
                worker.stop()
            missing = self.size - len(workers) if spec is not None else 0
            if time.monotonic() < self.refill_at.get(key, 0.0):
                missing = 0
        for _ in range(missing):
            worker = self._start(key, spec)
            if worker is None:
                return
            with self._lock:
                self.workers.setdefault(key, []).append(worker)

    def _start(self, key: Key, spec: WorkerSpec) -> WarmWorker | None:
        command, env = worker_command(spec, self.work_dir)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        args = [
            *command,
            "--pool",
            ",".join(key[1]),
            "--control-fd",
            str(theirs.fileno()),
            "--reserve=" + "." * COMMAND_LINE_RESERVE,
        ]
        try:
            self.work_dir.mkdir(parents=True, exist_ok=True)
            process = subprocess.Popen(
                args,
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=str(self.work_dir),
            )
        except OSError:
            log.exception("could not start a pooled serverless worker")
            ours.close()
            return None
        finally:
            theirs.close()
        log.debug("pooled worker %d started for %s", process.pid, ",".join(key[1]))
        return WarmWorker(key, process, ours)

    def step(self, live: set[Key]) -> None:
        """(serverless loop) Top up the pools of runtimes in use; empty the others (unused for UNUSED_S:
        an endpoint coming up wants its runtime's pool a moment before its own pool is listed)."""
        now = time.monotonic()
        with self._lock:
            for key in live:
                self.wanted_at[key] = now
            gone = [key for key in self.specs if now - self.wanted_at.get(key, 0.0) > UNUSED_S]
            victims = [w for key in gone for w in self.workers.pop(key, [])]
            for key in gone:
                del self.specs[key]
                self.refill_at.pop(key, None)
                self.wanted_at.pop(key, None)
            keys = list(self.specs)
        for worker in victims:
            worker.stop()
        for key in keys:
            self.fill(key)

    def shutdown(self) -> None:
        with self._lock:
            victims = [w for workers in self.workers.values() for w in workers]
            self.workers.clear()
            self.specs.clear()
        for worker in victims:
            worker.stop()

    def describe(self) -> dict[str, Any]:
        with self._lock:
            return {
                "size": self.size,
                "handed_over": self.handed_over,
                "runtimes": [
                    {"imports": list(key[1]), "workers": len(workers), "warm": sum(w.warm for w in workers)}
                    for key, workers in self.workers.items()
                ],
            }


def warm_pool(controller: Any) -> WarmPool:
    """The server's warm pool (one per platform; emptied at shutdown)."""

    def make(platform: Any) -> WarmPool:
        pool = WarmPool(int(platform.settings.serverless_warm_pool), controller.work_dir)
        platform.on_shutdown(pool.shutdown)
        return pool

    return controller.platform.component("serving-warm-pool", make)
