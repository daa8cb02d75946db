"""Worker instances: one supervised worker process each, on a loopback socket this process owns.

The listening socket is created here and passed down, so its port never changes across worker
restarts and connections made while a worker restarts wait in the backlog instead of failing. A
monitor thread reads the worker's status pipe (LOADED / READY / CHILD / FAILED), restarts it if it
dies after becoming ready, and marks it failed (with the model's own error) if it dies before.
Output lines go to the log store.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..job_sandbox import without_server_secrets

log = logging.getLogger("sagestack.serving")

STARTING, READY, FAILED, STOPPED = "starting", "ready", "failed", "stopped"
RESTART_BACKOFF_S = (0.0, 0.5, 1.0, 2.0, 5.0)


@dataclass
class WorkerSpec:
    """What one instance runs: containers prepared by :class:`~.modeldir.ModelCache`."""

    containers: list[dict]
    mode: str = "Serial"
    instance_type: str = "ml.m5.large"
    workers: int = 1  # serving processes per instance (SAGEMAKER_MODEL_SERVER_WORKERS)
    account: str = ""
    region: str = ""
    log_group: str | None = None  # e.g. /aws/sagemaker/Endpoints/<name>
    log_stream_prefix: str = ""  # e.g. "AllTraffic/"
    labels: dict[str, str] = field(default_factory=dict)  # --endpoint/--variant on the command line
    environment: dict[str, str] = field(default_factory=dict)  # extra process environment


def new_instance_id() -> str:
    return "i-" + secrets.token_hex(9)[:17]


class Instance:
    """One worker instance. ``inflight`` is maintained by the router (event-loop thread only)."""

    def __init__(
        self,
        spec: WorkerSpec,
        work_dir: Path,
        log_store=None,
        on_change: Callable[[Instance], Any] | None = None,
        bind_host: str = "127.0.0.1",
        instance_id: str | None = None,
        sandbox: dict | None = None,
    ):
        self.spec = spec
        self.sandbox = sandbox  # the worker's confinement (worker_sandbox.py); None: none
        self.id = instance_id or new_instance_id()
        self.work_dir = work_dir
        self.log_store = log_store
        self.on_change = on_change
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind((bind_host, 0))
        self.sock.listen(1024)
        self.host, self.port = self.sock.getsockname()[:2]
        self.state = STARTING
        self.failure: str | None = None
        self.inflight = 0
        self.served = 0
        self.pids: list[int] = []
        self.setup_time_us: int | None = None
        self.restarts = 0
        self.ready_event = threading.Event()
        self.done_event = threading.Event()  # ready or failed
        self.process: subprocess.Popen | None = None
        self._stopping = False
        self._lock = threading.Lock()
        self._lifeline_w: int | None = None
        self._ready_at = 0.0
        self.pool: Any = None  # the router's connection pool (event loop side)
        self.warm_started = False  # handed to a pooled worker (warm_pool.py) instead of started

    @property
    def address(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def healthy(self) -> bool:
        return self.state == READY

    @property
    def log_stream(self) -> str:
        return f"{self.spec.log_stream_prefix}{self.id}"

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self, warm: Any = None) -> Instance:
        """Start the worker: hand the instance to ``warm``, a pooled worker (warm_pool.WarmWorker) that has
        its imports made, when given and still alive; else start a new process."""
        if warm is None or not self._adopt(warm):
            self._spawn()
        return self

    def _config(self, status_w: int, life_r: int, **extra: Any) -> Path:
        config = {
            "containers": self.spec.containers,
            "mode": self.spec.mode,
            "workers": self.spec.workers,
            "listen_fd": self.sock.fileno(),
            "status_fd": status_w,
            "lifeline_fd": life_r,
            **({"sandbox": self.sandbox} if self.sandbox else {}),
            **extra,
        }
        self.work_dir.mkdir(parents=True, exist_ok=True)
        config_path = self.work_dir / f"{self.id}.json"
        config_path.write_text(json.dumps(config))
        return config_path

    def _spawn(self) -> None:
        status_r, status_w = os.pipe()
        life_r, life_w = os.pipe()
        config_path = self._config(status_w, life_r)
        command, env = worker_command(self.spec, self.work_dir)
        args = [*command, "--config", str(config_path)]
        for name in ("endpoint", "variant"):
            if self.spec.labels.get(name):
                args += [f"--{name}", self.spec.labels[name]]
        args += ["--instance", self.id]
        try:
            self.process = subprocess.Popen(
                args,
                pass_fds=(self.sock.fileno(), status_w, life_r),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=str(self.work_dir),
            )
        finally:
            os.close(status_w)
            os.close(life_r)
        self._watch(self.process, status_r, life_w)

    def _adopt(self, warm: Any) -> bool:
        """Hand this instance to a pooled worker: its config file and descriptors over the pool's control
        socket. False when the pooled worker is gone (the caller starts a new process)."""
        status_r, status_w = os.pipe()
        life_r, life_w = os.pipe()
        try:
            config_path = self._config(
                status_w,
                life_r,
                labels=dict(self.spec.labels),
                instance=self.id,
                environment=dict(self.spec.environment),
                cwd=str(self.work_dir),
            )
            handed = warm.hand_over(str(config_path), [self.sock.fileno(), status_w, life_r])
        finally:
            os.close(status_w)
            os.close(life_r)
        if not handed:
            os.close(status_r)
            os.close(life_w)
            return False
        self.warm_started = True
        self.process = warm.process
        self._watch(self.process, status_r, life_w)
        return True

    def _watch(self, process: subprocess.Popen, status_r: int, life_w: int) -> None:
        self._lifeline_w = life_w
        threading.Thread(
            target=self._monitor, args=(process, status_r), daemon=True, name=f"worker-{self.id}"
        ).start()
        threading.Thread(
            target=self._pump_logs, args=(process,), daemon=True, name=f"worker-log-{self.id}"
        ).start()

    def _monitor(self, process: subprocess.Popen, status_r: int) -> None:
        reported_failure = None
        with os.fdopen(status_r, "r") as status:
            for line in status:
                word, _, rest = line.strip().partition(" ")
                if word == "LOADED":
                    self.setup_time_us = int(rest or 0)
                elif word == "READY":
                    self.pids = [int(p) for p in rest.split(",") if p]
                    self._set_state(READY)
                elif word == "CHILD":
                    self.pids = [p for p in self.pids if _alive(p)] + [int(rest)]
                elif word == "FAILED":
                    try:
                        reported_failure = json.loads(rest)
                    except ValueError:
                        reported_failure = rest
        code = process.wait()
        if self._lifeline_w is not None and process is self.process:
            _close(self._lifeline_w)
            self._lifeline_w = None
        if self._stopping:
            return
        if self.state == STARTING or reported_failure and self.restarts >= len(RESTART_BACKOFF_S):
            reason = reported_failure or f"the worker process exited with code {code} while loading the model"
            self.failure = reason
            self._set_state(FAILED)
            self.close_socket()
            return
        # It was serving: restart it on the same socket (requests wait in the backlog meanwhile).
        if time.monotonic() - self._ready_at > 60:
            self.restarts = 0
        delay = RESTART_BACKOFF_S[min(self.restarts, len(RESTART_BACKOFF_S) - 1)]
        self.restarts += 1
        log.warning(
            "worker %s (%s) exited with %s; restarting in %.1fs",
            self.id,
            self.spec.labels.get("endpoint", ""),
            code,
            delay,
        )
        self._set_state(STARTING)
        if delay:
            time.sleep(delay)
        if not self._stopping:
            self._spawn()

    def _pump_logs(self, process: subprocess.Popen) -> None:
        writer = None
        if self.log_store is not None and self.spec.log_group:
            writer = self.log_store.writer(
                self.spec.account,
                self.spec.region,
                self.spec.log_group,
                self.log_stream,
                max_events=200,
                max_delay=0.5,
            )
        stream = process.stdout
        fd = stream.fileno()
        pending = b""
        try:
            while True:
                ready, _, _ = select.select([fd], [], [], 0.5)
                if not ready:
                    if writer is not None:
                        _safe(writer.flush)
                    continue
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    text = line.decode("utf-8", "replace").rstrip("\r")
                    if writer is not None:
                        _safe(writer.write, text)
                    else:
                        log.info("[%s] %s", self.id, text)
            if pending and writer is not None:
                _safe(writer.write, pending.decode("utf-8", "replace"))
        finally:
            stream.close()
            if writer is not None:
                _safe(writer.flush)

    def _set_state(self, state: str) -> None:
        with self._lock:
            self.state = state
            if state == READY:
                self._ready_at = time.monotonic()
                self.ready_event.set()
                self.done_event.set()
            elif state in (FAILED, STOPPED):
                self.done_event.set()
            else:
                self.ready_event.clear()
        if self.on_change is not None:
            _safe(self.on_change, self)

    def wait(self, timeout: float | None = None) -> bool:
        """Until ready or failed; True when ready."""
        self.done_event.wait(timeout)
        return self.state == READY

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the worker (SIGTERM, then SIGKILL) and release the port."""
        self._stopping = True
        process = self.process
        if process is not None and process.poll() is None:
            try:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            except ProcessLookupError:
                pass
        for pid in self.pids:  # serving processes die with the supervisor; make sure
            if _alive(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        if self._lifeline_w is not None:
            _close(self._lifeline_w)
            self._lifeline_w = None
        self.close_socket()
        shutil.rmtree(self.work_dir / f"{self.id}.sandbox", ignore_errors=True)  # worker_sandbox.py
        if self.state != FAILED:
            self._set_state(STOPPED)

    def close_socket(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def describe(self) -> dict:
        return {
            "id": self.id,
            "address": self.address,
            "state": self.state,
            "pid": getattr(self.process, "pid", None),
            "serving_pids": list(self.pids),
            "inflight": self.inflight,
            "restarts": self.restarts,
            "failure": self.failure,
        }


def worker_command(spec: WorkerSpec, work_dir: Path) -> tuple[list[str], dict[str, str]]:
    """The command line (up to its options) and environment of a worker process for ``spec``: the
    server's environment without its settings and credentials (the model's code runs in it), and the
    model's ``Environment``."""
    env = without_server_secrets(os.environ)
    env.update(spec.environment)
    env.setdefault("PYTHONUNBUFFERED", "1")
    # A container may run its own server in a framework environment (runtimes.py: TensorFlow Serving).
    command = next((c["command"] for c in spec.containers if c.get("command")), None)
    if command:
        for name in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"):
            env.pop(name, None)
        if any(c.get("sagestack_on_path") for c in spec.containers):  # the worker, another Python
            env["PYTHONPATH"] = sagestack_only_path(work_dir)
        return list(command), env
    src = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return [sys.executable, "-m", "sagestack.serving.worker"], env


def sagestack_only_path(work_dir: Path) -> str:
    """A folder holding only the ``sagestack`` package (a link): another Python imports sagestack's
    worker from it without the server's other packages (an installed wheel's site-packages)."""
    folder = work_dir / "sagestack-path"
    folder.mkdir(parents=True, exist_ok=True)
    link = folder / "sagestack"
    if not link.exists():
        with contextlib.suppress(FileExistsError):  # another instance made it meanwhile
            link.symlink_to(Path(__file__).resolve().parents[1], target_is_directory=True)
    return str(folder)


class WorkerGroup:
    """N instances of one model (what batch transform asks for)."""

    def __init__(self, instances: list[Instance]):
        self.instances = instances

    def wait_ready(self, timeout: float | None = None) -> list[str]:
        """Addresses (``http://127.0.0.1:PORT``) once all are ready; raises with the first failure."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for instance in self.instances:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not instance.wait(left):
                raise RuntimeError(instance.failure or "the model server did not start in time")
        return self.addresses

    @property
    def addresses(self) -> list[str]:
        return [i.address for i in self.instances]

    def stop(self) -> None:
        for instance in self.instances:
            instance.stop()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def _close(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass


def _safe(func, *args) -> Any:
    try:
        return func(*args)
    except Exception:
        log.exception("serving side task failed")
        return None


def default_work_dir(data_dir: Path) -> Path:
    path = data_dir / "serving" / "instances"
    path.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix="run-", dir=path))
