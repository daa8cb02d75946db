"""Model containers of the user's own image (bring your own container), served by the container engine.

Each instance is one container started with SageMaker's serving contract: the ``serve`` argument, the
model data (ModelDataUrl, extracted) mounted read-only at ``/opt/ml/model``, the model's Environment,
port 8080 inside published on a loopback port of its own (``-p 127.0.0.1:<port>:8080``) — or, for a model
created with EnableNetworkIsolation, on an internal engine network (no route out), reached at the
container's address there. The instance is
ready once ``GET /ping`` answers 200; the router then forwards ``POST /invocations`` to that port like to
any worker, and batch transform and endpoints share this path. Output lines go to the log store.
"""

from __future__ import annotations

import logging
import subprocess
import threading
import time
import urllib.error
import urllib.request

from ..containers.engine import Engine, RunSpec, container_name, engine_for, missing_image_reason, run_command
from ..domain.images import is_own_image, parse_image
from .instances import FAILED, READY, RESTART_BACKOFF_S, STARTING, Instance
from .runtimes import RuntimeUnavailable

log = logging.getLogger("sagestack.serving")

SERVING_PORT = 8080
#: The engine network of models created with EnableNetworkIsolation: internal (no route out); the server
#: reaches each container at its address on it.
ISOLATED_NETWORK = "sagestack-isolated"
PING_INTERVAL_S = 0.2
PING_TIMEOUT_S = 2.0
#: How long a container may take to answer its first ``GET /ping`` (SageMaker's default health check
#: timeout for a new instance is of this order).
STARTUP_TIMEOUT_S = 600.0


def is_own_container(container: dict) -> bool:
    image = container.get("image")
    return bool(image) and is_own_image(parse_image(image))


def attach_engine(platform, containers: list[dict]) -> list[dict]:
    """Mark the user's-image containers to run in the engine (``engine_image``), or say why they cannot."""
    own = [c for c in containers if is_own_container(c)]
    if not own:
        return containers
    engine = engine_for(platform)
    if engine is None:
        return containers  # the worker explains: no container runtime is available
    if len(containers) > 1:
        raise RuntimeUnavailable(
            f"Image {own[0]['image']} is a container image of your own: sagestack serves such an image as "
            f"a model's only container; inference pipelines of several containers with your own images "
            f"are not supported yet."
        )
    container = own[0]
    if container.get("multi_model") is not None:
        raise RuntimeUnavailable(
            f"Image {container['image']}: multi-model endpoints (Mode MultiModel) with your own container "
            f"image are not supported by sagestack yet; deploy the model as a single-model endpoint."
        )
    if not engine.image_exists(container["image"]):
        raise RuntimeUnavailable(missing_image_reason(engine, container["image"]))
    container["engine_image"] = container["image"]
    return containers


def uses_engine(containers: list[dict]) -> bool:
    return any(c.get("engine_image") for c in containers)


class ContainerInstance(Instance):
    """A worker instance that is one container; ``port`` is the loopback port its 8080 is published on."""

    def __init__(self, spec, work_dir, log_store=None, on_change=None, *, engine: Engine):
        super().__init__(spec, work_dir, log_store, on_change)
        self.engine = engine
        self.close_socket()  # the port number is the container's: the engine publishes on it
        self.container = container_name(self.spec.labels.get("endpoint", "model"), self.id)
        self.isolated = False

    def _spawn(self) -> None:
        container = self.spec.containers[0]
        environment = dict(container.get("environment") or {})
        environment.update(self.spec.environment)
        environment.setdefault("AWS_REGION", self.spec.region)
        environment.setdefault("AWS_DEFAULT_REGION", self.spec.region)
        self.isolated = bool(container.get("network_isolation"))
        if self.isolated:
            self.engine.ensure_internal_network(ISOLATED_NETWORK)
        run = RunSpec(
            image=container["engine_image"],
            name=self.container,
            args=["serve"],
            environment=environment,
            mounts=[(container["model_dir"], "/opt/ml/model", True)],
            network=ISOLATED_NETWORK if self.isolated else None,
            ports=[] if self.isolated else [("127.0.0.1", self.port, SERVING_PORT)],
            labels={
                "sagestack.instance": self.id,
                **{f"sagestack.{k}": v for k, v in self.spec.labels.items()},
            },
        )
        self.engine.remove(self.container)  # what a previous start of this instance left
        command, env = run_command(self.engine, run)
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=str(self.work_dir),
            start_new_session=True,
        )
        process = self.process
        threading.Thread(
            target=self._watch, args=(process,), daemon=True, name=f"container-{self.id}"
        ).start()
        threading.Thread(
            target=self._pump_logs, args=(process,), daemon=True, name=f"container-log-{self.id}"
        ).start()

    def _ping(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.address}/ping", timeout=PING_TIMEOUT_S) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError, ValueError):
            return False

    def _watch(self, process: subprocess.Popen) -> None:
        started = time.monotonic()
        self.setup_time_us = None
        while process.poll() is None and not self._stopping:
            if self.isolated:  # reached at its address on the internal network (no published port)
                address = self.engine.address(self.container)
                if not address:
                    time.sleep(PING_INTERVAL_S)
                    continue
                if (self.host, self.port) != (address, SERVING_PORT):
                    self.host, self.port, self.pool = address, SERVING_PORT, None
            if self._ping():
                self.setup_time_us = int((time.monotonic() - started) * 1e6)
                self.pids = [process.pid]
                self._set_state(READY)
                break
            if time.monotonic() - started > STARTUP_TIMEOUT_S:
                self.failure = f"the container did not answer GET /ping within {int(STARTUP_TIMEOUT_S)} s"
                self._set_state(FAILED)
                self.engine.kill(self.container)
                return
            time.sleep(PING_INTERVAL_S)
        code = process.wait()
        if self._stopping:
            return
        if self.state == STARTING:
            self.failure = (
                f"the container of image {self.spec.containers[0]['engine_image']} exited with code {code} "
                f"before answering GET /ping"
            )
            self._set_state(FAILED)
            return
        if time.monotonic() - self._ready_at > 60:
            self.restarts = 0
        delay = RESTART_BACKOFF_S[min(self.restarts, len(RESTART_BACKOFF_S) - 1)]
        self.restarts += 1
        log.warning("container %s exited with %s; restarting in %.1fs", self.container, code, delay)
        self._set_state(STARTING)
        if delay:
            time.sleep(delay)
        if not self._stopping:
            self._spawn()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping = True
        if self.process is not None and self.process.poll() is None:
            self.engine.kill(self.container, "TERM")
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.engine.kill(self.container)
        self.pids = []
        super().stop(timeout)

    def describe(self) -> dict:
        return {**super().describe(), "container": self.container, "engine": self.engine.name}
