"""Endpoint instances on a Ray cluster (``sagestack serve --executor ray``).

A :class:`RayInstance` has the surface of a local :class:`~.instances.Instance` (state, address, wait,
stop), so the controller, the router, autoscaling and batch transform use it unchanged: the controller's
``new_instance`` makes one per instance when the executor is ray. Each is a :class:`WorkerAgent` actor
on some node, reserving the instance type's vCPUs and memory (capped at the largest node's); inside it a
local ``Instance`` runs the same worker process on a socket bound to the node's address, and the agent
reports its state and output lines, which this side writes to the endpoint's log stream. The router
forwards invocations to ``host:port`` on the node.

When the actor dies after it served (its node was lost, or it was killed), the instance starts a new actor
— on a node that is still there — and routes to the new address once it is ready: a lost node's
instances are replaced. An actor that never became ready fails the instance as a crashing local worker
does. Model artifacts are read from the server's data dir, which the nodes share
(docs/deployment-ray.md).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections import deque
from pathlib import Path

from .instances import FAILED, READY, STARTING, STOPPED, Instance, WorkerSpec, new_instance_id

log = logging.getLogger("sagestack.serving")

POLL_SECONDS = 0.5
START_TIMEOUT_S = 600.0


class _Lines:
    """The log store a worker inside an agent writes to: lines kept until the server reads them."""

    def __init__(self):
        self.lines: deque[str] = deque(maxlen=20000)

    def writer(self, *args, **kwargs) -> _Lines:
        return self

    def write(self, text: str) -> None:
        self.lines.append(text)

    def flush(self) -> None:
        pass


class WorkerAgent:
    """Runs inside a Ray actor: one local worker instance on this node."""

    def __init__(self, spec: dict, work_dir: str, instance_id: str, sandbox: dict | None = None):
        import ray

        self.ip = ray.util.get_node_ip_address()
        self.node_id = ray.get_runtime_context().get_node_id()
        self.logs = _Lines()
        self.changed = threading.Event()
        self.instance = Instance(
            WorkerSpec(**spec),
            Path(work_dir),
            self.logs,
            on_change=lambda _: self.changed.set(),
            bind_host=self.ip,
            instance_id=instance_id,
            sandbox=sandbox,
        )
        self.instance.start()

    def address(self) -> tuple[str, int, str]:
        return self.ip, self.instance.port, self.node_id

    def poll(self, wait: float) -> dict:
        """The instance's state and its output lines since the last poll (waiting up to ``wait`` seconds
        for a change of state)."""
        if not self.logs.lines:
            self.changed.wait(wait)
        self.changed.clear()
        lines = [self.logs.lines.popleft() for _ in range(len(self.logs.lines))]
        instance = self.instance
        return {
            "state": instance.state,
            "failure": instance.failure,
            "setup_time_us": instance.setup_time_us,
            "restarts": instance.restarts,
            "pids": list(instance.pids),
            "lines": lines,
        }

    def stop(self) -> None:
        self.instance.stop()


class RayInstance:
    """One endpoint (or transform) instance as a Ray actor; see the module's description."""

    remote = True

    def __init__(
        self,
        spec: WorkerSpec,
        work_dir: Path,
        log_store=None,
        on_change=None,
        resources=None,
        sandbox: dict | None = None,
    ):
        self.spec = spec
        self.sandbox = sandbox  # the worker confines itself on its node as a local one does
        self.id = new_instance_id()
        self.work_dir = work_dir
        self.log_store = log_store
        self.on_change = on_change
        self.resources = resources or {}
        self.host, self.port = "127.0.0.1", 0
        self.node_id: str | None = None
        self.state = STARTING
        self.failure: str | None = None
        self.inflight = 0
        self.served = 0
        self.pids: list[int] = []
        self.setup_time_us: int | None = None
        self.restarts = 0
        self.replacements = 0
        self.ready_event = threading.Event()
        self.done_event = threading.Event()
        self.pool = None  # the router's connection pool (event loop side)
        self.actor = None
        self._stopping = False
        self._lock = threading.Lock()
        self._writer = None

    @property
    def address(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def healthy(self) -> bool:
        return self.state == READY

    @property
    def log_stream(self) -> str:
        return f"{self.spec.log_stream_prefix}{self.id}"

    def start(self) -> RayInstance:
        threading.Thread(target=self._run, daemon=True, name=f"ray-worker-{self.id}").start()
        return self

    def _agent(self):
        import ray

        labels = self.spec.labels
        options = {
            "max_concurrency": 4,
            "name": "/".join(
                [
                    "endpoint" if labels.get("endpoint") else "worker",
                    self.spec.account or "-",
                    self.spec.region or "-",
                    labels.get("endpoint", "-"),
                    labels.get("variant", "-"),
                    f"{self.id}.{self.replacements}",
                ]
            ),
            **self.resources,
        }
        return (
            ray.remote(WorkerAgent)
            .options(**options)
            .remote(dataclasses.asdict(self.spec), str(self.work_dir), self.id, self.sandbox)
        )

    def _run(self) -> None:
        from ray.exceptions import GetTimeoutError, RayError

        import ray

        served = False
        while not self._stopping:
            try:
                self.actor = self._agent()
                host, port, node_id = ray.get(self.actor.address.remote(), timeout=START_TIMEOUT_S)
            except (RayError, GetTimeoutError) as exc:
                if served and not self._stopping:
                    self._replace(f"its Ray actor could not start again: {exc}")
                    time.sleep(2.0)
                    continue
                return self._fail(f"the instance's Ray actor did not start: {_first_line(exc)}")
            self.host, self.port, self.node_id = host, port, node_id
            self.pool = None  # connections go to the new address
            while not self._stopping:
                try:
                    report = ray.get(self.actor.poll.remote(POLL_SECONDS), timeout=60)
                except (RayError, GetTimeoutError) as exc:
                    lost = _first_line(exc)
                    break
                self._write_logs(report["lines"])
                self.setup_time_us = report["setup_time_us"]
                self.restarts = report["restarts"]
                self.pids = report["pids"]
                if report["state"] != self.state:
                    if report["state"] == FAILED:
                        self._kill()
                        return self._fail(report["failure"] or "the model server failed")
                    if report["state"] == READY:
                        served = True
                    self._set_state(report["state"])
            else:
                return
            if not served:
                return self._fail(f"the instance's Ray actor died while the model loaded: {lost}")
            self._replace(lost)

    def _replace(self, why: str) -> None:
        log.warning(
            "endpoint instance %s (%s) on Ray node %s lost (%s); starting a replacement",
            self.id,
            self.spec.labels.get("endpoint", ""),
            self.node_id,
            why,
        )
        self._kill()
        self.replacements += 1
        self._set_state(STARTING)

    def _fail(self, reason: str) -> None:
        self.failure = reason
        self._set_state(FAILED)

    def _write_logs(self, lines: list[str]) -> None:
        if not lines or self.log_store is None or not self.spec.log_group:
            return
        if self._writer is None:
            self._writer = self.log_store.writer(
                self.spec.account, self.spec.region, self.spec.log_group, self.log_stream, max_events=200
            )
        try:
            for line in lines:
                self._writer.write(line)
            self._writer.flush()
        except Exception:
            log.exception("could not store the log lines of %s", self.id)

    def _set_state(self, state: str) -> None:
        with self._lock:
            self.state = state
            if state == READY:
                self.ready_event.set()
                self.done_event.set()
            elif state in (FAILED, STOPPED):
                self.done_event.set()
            else:
                self.ready_event.clear()
        if self.on_change is not None:
            try:
                self.on_change(self)
            except Exception:
                log.exception("serving side task failed")

    def _kill(self) -> None:
        import ray

        actor, self.actor = self.actor, None
        if actor is not None:
            try:
                ray.kill(actor)
            except Exception:
                log.debug("could not kill an instance actor", exc_info=True)

    def wait(self, timeout: float | None = None) -> bool:
        self.done_event.wait(timeout)
        return self.state == READY

    def stop(self, timeout: float = 5.0) -> None:
        import ray

        self._stopping = True
        actor = self.actor
        if actor is not None:
            try:
                ray.get(actor.stop.remote(), timeout=timeout)
            except Exception:
                pass
        self._kill()
        if self.state != FAILED:
            self._set_state(STOPPED)

    def close_socket(self) -> None:
        pass

    def describe(self) -> dict:
        return {
            "id": self.id,
            "address": self.address,
            "state": self.state,
            "ray_node_id": self.node_id,
            "serving_pids": list(self.pids),
            "inflight": self.inflight,
            "restarts": self.restarts,
            "replacements": self.replacements,
            "failure": self.failure,
        }


def ray_resources(instance_type: str | None, node_cpus: int, node_memory_mb: int) -> dict:
    """What one instance of the type reserves on a node: its vCPUs and memory, capped at the largest
    node's."""
    from ..domain import instance_types

    spec = instance_types.spec(instance_type)
    return {
        "num_cpus": max(1, min(spec.vcpus, node_cpus or 1)),
        "memory": max(1, min(spec.memory_mb, node_memory_mb or spec.memory_mb)) * 1024 * 1024,
    }


def connect(address: str | None) -> None:
    """Join the Ray cluster as a driver, once per server process (keeping the server's signal
    handlers)."""
    import signal

    import ray

    if ray.is_initialized():
        return
    main = threading.current_thread() is threading.main_thread()
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)} if main else {}
    ray.init(address=address or "auto", namespace="sagestack", log_to_driver=False, configure_logging=False)
    for sig, handler in handlers.items():
        if handler is not None:
            signal.signal(sig, handler)


def largest_node() -> tuple[int, int]:
    """(CPUs, MiB) of the largest alive node."""
    import ray

    nodes = [n for n in ray.nodes() if n.get("Alive")]
    cpus = max((int(n["Resources"].get("CPU", 0)) for n in nodes), default=0)
    memory = max((int(n["Resources"].get("memory", 0) // (1024 * 1024)) for n in nodes), default=0)
    return cpus, memory


def new_ray_instance(platform, spec: WorkerSpec, work_dir: Path, log_store, on_change) -> RayInstance:
    from .worker_sandbox import sandbox_config

    connect(platform.settings.ray_address)
    cpus, memory = largest_node()
    return RayInstance(
        spec,
        work_dir,
        log_store,
        on_change,
        ray_resources(spec.instance_type, cpus, memory),
        sandbox=sandbox_config(platform.settings),
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__
