"""Model containers of the user's own image (bring your own container), served by the container engine.

Each instance is one container started with SageMaker's serving contract: the ``serve`` argument, the
model data (ModelDataUrl, extracted) mounted read-only at ``/opt/ml/model``, the model's Environment,
port 8080 inside published on a loopback port of its own (``-p 127.0.0.1:<port>:8080``) — or, for a model
created with EnableNetworkIsolation, on an internal engine network (no route out), reached at the
container's address there. The instance is
ready once ``GET /ping`` answers 200; the router then forwards ``POST /invocations`` to that port like to
any worker, and batch transform and endpoints share this path. Output lines go to the log store.
Multi-model containers (``Mode: MultiModel``) have a module of their own: :mod:`.multi_model_containers`.
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
#: How long a stopping container gets after SIGTERM before SIGKILL.
STOP_GRACE_S = 1.0
#: The label naming the data dir a serving container belongs to (a restarted server removes its leftovers).
DATA_DIR_LABEL = "sagestack.serving"


def remove_leftovers(platform) -> None:
    """The serving containers a previous run of this data dir left (a crash: the engine kept them)."""
    engine = engine_for(platform)
    if engine is None:
        return
    try:
        removed = engine.remove_labelled(DATA_DIR_LABEL, str(platform.settings.data_dir))
    except Exception:  # noqa: BLE001 - the engine's trouble must not stop the server
        log.warning("could not look for leftover serving containers", exc_info=True)
        return
    if removed:
        log.info("removed %d serving container(s) a previous run left", removed)


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
    if len(own) < len(containers):
        raise RuntimeUnavailable(
            f"Image {own[0]['image']} is a container image of your own: an inference pipeline may have "
            f"several such containers, but sagestack cannot mix them with built-in algorithm or framework "
            f"containers yet."
        )
    for container in own:
        if container.get("multi_model") is not None and len(containers) > 1:
            raise RuntimeUnavailable(
                f"Image {container['image']}: a multi-model container (Mode MultiModel) must be the model's "
                f"only container; an inference pipeline cannot hold one."
            )
        if not engine.image_exists(container["image"]):
            raise RuntimeUnavailable(missing_image_reason(engine, container["image"]))
        container["engine_image"] = container["image"]
    return containers


def uses_engine(containers: list[dict]) -> bool:
    return any(c.get("engine_image") for c in containers)


class ContainerInstance(Instance):
    """A worker instance that is one container; ``port`` is the loopback port its 8080 is published on."""

    def __init__(
        self,
        spec,
        work_dir,
        log_store=None,
        on_change=None,
        *,
        engine: Engine,
        data_dir: str = "",
        inner_port: int = SERVING_PORT,
    ):
        super().__init__(spec, work_dir, log_store, on_change)
        self.engine = engine
        self.data_dir = data_dir
        self.close_socket()  # the port number is the container's: the engine publishes on it
        self.container = container_name(self.spec.labels.get("endpoint", "model"), self.id)
        self.isolated = False
        self.inner_port = inner_port  # where the server in the container listens (SAGEMAKER_BIND_TO_PORT)

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
            mounts=[(container["model_dir"], "/opt/ml/model", True), *container.get("mounts", [])],
            network=ISOLATED_NETWORK if self.isolated else None,
            ports=[] if self.isolated else [("127.0.0.1", self.port, self.inner_port)],
            labels={
                "sagestack.instance": self.id,
                DATA_DIR_LABEL: self.data_dir,
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
                if (self.host, self.port) != (address, self.inner_port):
                    self.host, self.port, self.pool = address, self.inner_port, None
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
            self.engine.kill(self.container, "TERM")  # a server as PID 1 without a handler ignores it
            try:
                self.process.wait(min(timeout, STOP_GRACE_S))
            except subprocess.TimeoutExpired:
                self.engine.kill(self.container)
        self.pids = []
        super().stop(timeout)

    def describe(self) -> dict:
        return {**super().describe(), "container": self.container, "engine": self.engine.name}


#: Inference pipelines: the first container's port; the others get the next ones (SAGEMAKER_BIND_TO_PORT),
#: and each its own range of further ports (SAGEMAKER_SAFE_PORT_RANGE), as on SageMaker.
PIPELINE_SAFE_PORTS = 100


class PipelineInstance(Instance):
    """An instance of an inference pipeline of the user's own images: one container each (container *i*
    told ``SAGEMAKER_BIND_TO_PORT=8080+i`` and ``SAGEMAKER_SAFE_PORT_RANGE``), and a small proxy on the
    instance's own loopback socket that the router talks to: ``POST /invocations`` goes through the
    containers in order (Serial: each one's response is the next one's request) or to the one the
    ``X-Amzn-SageMaker-Target-Container-Hostname`` header names (Direct)."""

    def __init__(self, spec, work_dir, log_store=None, on_change=None, *, engine: Engine, data_dir: str = ""):
        super().__init__(spec, work_dir, log_store, on_change)
        self.engine = engine
        self.members: list[tuple[str, ContainerInstance]] = []
        self.server = None
        for index, container in enumerate(spec.containers):
            port = SERVING_PORT + index
            low = 9000 + index * PIPELINE_SAFE_PORTS
            environment = {
                **(container.get("environment") or {}),
                "SAGEMAKER_BIND_TO_PORT": str(port),
                "SAGEMAKER_SAFE_PORT_RANGE": f"{low}-{low + PIPELINE_SAFE_PORTS - 1}",
            }
            member_spec = type(spec)(
                [{**container, "environment": environment}],
                spec.mode,
                spec.instance_type,
                spec.workers,
                spec.account,
                spec.region,
                spec.log_group,
                spec.log_stream_prefix,
                dict(spec.labels),
                dict(spec.environment),
            )
            hostname = container.get("hostname") or "primary"
            if spec.mode != "Direct" and hostname == "primary":
                hostname = f"container-{index + 1}"
            member = ContainerInstance(
                member_spec, work_dir, log_store, None, engine=engine, data_dir=data_dir, inner_port=port
            )
            self.members.append((hostname, member))

    def _spawn(self) -> None:
        for _, member in self.members:
            member.start()
        threading.Thread(target=self._watch_members, daemon=True, name=f"pipeline-{self.id}").start()

    def _watch_members(self) -> None:
        for hostname, member in self.members:
            if not member.wait(STARTUP_TIMEOUT_S):
                self.failure = f"container {hostname}: {member.failure or 'did not answer GET /ping'}"
                self._set_state(FAILED)
                return
        self._serve()
        self.pids = [m.process.pid for _, m in self.members if m.process is not None]
        self._set_state(READY)

    def _serve(self) -> None:
        self.server = serve_proxy(
            self.sock,
            lambda: all(m.state == READY for _, m in self.members),
            self._forward,
            f"pipeline-proxy-{self.id}",
        )

    def _forward(self, headers, body: bytes) -> tuple[int, bytes, str | None, dict[str, str]]:
        """An invocation through the containers in order (Serial) or to the one it names (Direct)."""
        content_type = headers.get("Content-Type")
        accept = headers.get("Accept")
        passed = {k: v for k, v in headers.items() if k.lower().startswith("x-amzn-sagemaker-")}
        members = self.members
        if self.spec.mode == "Direct":
            target = headers.get("X-Amzn-SageMaker-Target-Container-Hostname")
            members = [(h, m) for h, m in self.members if h == target]
            if not members:
                known = ", ".join(h for h, _ in self.members)
                message = f"Container hostname {target} is not part of this endpoint; known: {known}."
                return 400, message.encode(), "text/plain", {}
        for index, (hostname, member) in enumerate(members):
            last = index == len(members) - 1
            status, body, content_type = _post(
                member, body, content_type, accept if last else content_type, passed
            )
            if status >= 300:
                return status, body, content_type, {"X-Sagestack-Container": hostname}
        return 200, body, content_type, {}

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping = True
        threads = [threading.Thread(target=m.stop, args=(timeout,), daemon=True) for _, m in self.members]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout + 5)
        if self.server is not None:
            self.server.shutdown()
        super().stop(timeout)

    def describe(self) -> dict:
        return {**super().describe(), "containers": [m.describe() for _, m in self.members]}


def serve_proxy(sock, healthy, forward, name: str):
    """A small threaded HTTP server on an instance's own listening socket (its port never changes), in
    front of its containers: ``GET`` answers 200 while ``healthy()``, else 503; ``POST`` answers
    ``forward(headers, body) -> (status, body, content type, extra headers)``. Shut it down to stop."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Proxy(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:
            pass

        def _reply(self, status: int, body: bytes, content_type: str | None, extra: dict[str, str]) -> None:
            self.send_response(status)
            if content_type:
                self.send_header("Content-Type", content_type)
            for header, value in extra.items():
                self.send_header(header, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            self._reply(200 if healthy() else 503, b"", None, {})

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self._reply(*forward(self.headers, body))

    server = ThreadingHTTPServer(sock.getsockname()[:2], Proxy, bind_and_activate=False)
    server.socket.close()
    server.socket = sock
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True, name=name).start()
    return server


def call_container(
    member: ContainerInstance, method: str, path: str, body: bytes, headers: dict, timeout: float = 60
) -> tuple[int, bytes, str | None]:
    """One request to the container's model server: (status, body, Content-Type); 502 where it cannot be
    reached."""
    import http.client

    connection = http.client.HTTPConnection(member.host, member.port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read(), response.getheader("Content-Type")
    except OSError as exc:
        return 502, f"could not reach the container: {exc}".encode(), "text/plain"
    finally:
        connection.close()


def _post(
    member: ContainerInstance, body: bytes, content_type: str | None, accept: str | None, headers: dict
) -> tuple[int, bytes, str | None]:
    sent = dict(headers)
    if content_type:
        sent["Content-Type"] = content_type
    if accept:
        sent["Accept"] = accept
    return call_container(member, "POST", "/invocations", body, sent)
