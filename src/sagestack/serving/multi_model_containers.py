"""Multi-model endpoints of the user's own container image (``Mode: MultiModel``), served by the engine.

SageMaker's contract for such containers: the model server in the container keeps the models it is
told to load, keyed by an opaque ``model_name``:

* ``POST /models`` ``{"model_name": ..., "url": "/opt/ml/models/<model_name>/model"}`` loads one (409: it
  is loaded already; 507: no room — SageMaker unloads unused models and asks again);
* ``POST /models/<model_name>/invoke`` runs one request on it (``X-Amzn-SageMaker-Target-Model`` carries
  the caller's TargetModel, for the container's logs);
* ``DELETE /models/<model_name>`` unloads it; ``GET /models`` lists them; ``GET /ping`` as for any model.

Each instance here is one container (:class:`.containers.ContainerInstance`, started with ``serve``) and a
small proxy on the instance's own loopback socket that the router talks to as to any instance. The
gateway side is the built-in multi-model endpoints' (:mod:`.multi_model`): it fetches and extracts the
TargetModel's artifact once and passes its directory in ``X-Sagestack-Model-Dir``. The proxy places the
model's files in the instance's models directory (hard links where the file system allows, else copies),
which the container sees read-only at ``/opt/ml/models``, asks the container to load it, invokes it, and
unloads the least recently used models when the container answers 507 or the instance holds
``Settings.mme_max_models`` of them (``ModelCacheSetting: Disabled``: after each request). Its report
header becomes the endpoint's multi-model metrics, as for the built-in servers.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import threading
import time
from collections import OrderedDict
from dataclasses import replace
from pathlib import Path

from ..containers.engine import Engine
from .containers import STARTUP_TIMEOUT_S, ContainerInstance, call_container, serve_proxy
from .instances import FAILED, READY, Instance

log = logging.getLogger("sagestack.serving")

#: Where the container sees the models it is asked to load.
MODELS_PATH = "/opt/ml/models"
#: How long one call of the container's model API may take (loading a model included).
CALL_TIMEOUT_S = 300.0


def model_name(target: str) -> str:
    """The opaque ``model_name`` the container gets for a TargetModel (stable, URL-safe)."""
    return hashlib.sha256(target.encode("utf-8")).hexdigest()[:32]


def place_model(source: Path, target: Path) -> None:
    """The extracted model at ``source`` as ``target`` (hard links, else copies where they cross devices)."""
    if target.exists():
        return
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        shutil.copytree(source, partial, copy_function=os.link)
    except OSError:
        shutil.rmtree(partial, ignore_errors=True)
        shutil.copytree(source, partial)
    os.replace(partial, target)


class ModelServerError(Exception):
    """The container's model API answered an error: its status, body and content type."""

    def __init__(self, status: int, body: bytes, content_type: str | None = "text/plain"):
        super().__init__(f"{status}: {body[:200]!r}")
        self.status, self.body, self.content_type = status, body, content_type


class MultiModelContainerInstance(Instance):
    """One instance of a MultiModel container of the user's own image: the container and its proxy."""

    def __init__(self, spec, work_dir, log_store=None, on_change=None, *, engine: Engine, data_dir: str = ""):
        super().__init__(spec, work_dir, log_store, on_change)
        container = spec.containers[0]
        config = container.get("multi_model") or {}
        self.max_models = int(config["max_models"]) if config.get("max_models") else None
        self.cache = config.get("cache", "Enabled") != "Disabled"
        self.models_dir = Path(work_dir) / "multi-model" / self.id
        member = {**container, "mounts": [(str(self.models_dir), MODELS_PATH, True)]}
        self.member = ContainerInstance(
            replace(spec, containers=[member]), work_dir, log_store, None, engine=engine, data_dir=data_dir
        )
        self.loaded: OrderedDict[str, str] = OrderedDict()  # model_name → TargetModel, least recent first
        self.lock = threading.Lock()  # loads and unloads, one at a time
        self.server = None

    # -- lifecycle ---------------------------------------------------------------------------------

    def _spawn(self) -> None:
        shutil.rmtree(self.models_dir, ignore_errors=True)
        self.models_dir.mkdir(parents=True, exist_ok=True)
        self.member.start()
        threading.Thread(target=self._watch_member, daemon=True, name=f"mme-{self.id}").start()

    def _watch_member(self) -> None:
        if not self.member.wait(STARTUP_TIMEOUT_S) or self.member.state != READY:
            self.failure = self.member.failure or "the container did not answer GET /ping"
            self._set_state(FAILED)
            return
        self._serve()
        self.pids = list(self.member.pids)
        self._set_state(READY)

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping = True
        self.member.stop(timeout)
        if self.server is not None:
            self.server.shutdown()
        shutil.rmtree(self.models_dir, ignore_errors=True)
        super().stop(timeout)

    def describe(self) -> dict:
        return {
            **super().describe(),
            "container": self.member.describe(),
            "models": list(self.loaded.values()),
        }

    # -- the container's model API -----------------------------------------------------------------

    def _call(
        self, method: str, path: str, body: bytes = b"", headers: dict | None = None
    ) -> tuple[int, bytes, str | None]:
        return call_container(self.member, method, path, body, headers or {}, CALL_TIMEOUT_S)

    def _load(self, name: str, target: str, model_dir: str) -> tuple[int, int]:
        """Load ``target`` as ``name`` (caller holds the lock): (load µs, unload µs spent making room)."""
        unload_us = 0
        if self.max_models is not None:
            while self.loaded and len(self.loaded) >= self.max_models:
                unload_us += self._unload(next(iter(self.loaded)))
        place_model(Path(model_dir), self.models_dir / name / "model")
        request = json.dumps({"model_name": name, "url": f"{MODELS_PATH}/{name}/model"}).encode()
        headers = {"Content-Type": "application/json", "X-Amzn-SageMaker-Target-Model": target}
        started = time.perf_counter()
        while True:
            status, body, content_type = self._call("POST", "/models", request, headers)
            if status < 300 or status == 409:  # 409: the container has it loaded already
                break
            if status == 507 and self.loaded:  # no room: unload the least recently used, then ask again
                unload_us += self._unload(next(iter(self.loaded)))
                continue
            shutil.rmtree(self.models_dir / name, ignore_errors=True)
            raise ModelServerError(status, body or f"loading model {target} failed".encode(), content_type)
        load_us = int((time.perf_counter() - started) * 1e6)
        self.loaded[name] = target
        print(
            f"Loaded model {target} as {name} in {load_us / 1e3:.1f} ms; {len(self.loaded)} loaded",
            flush=True,
        )
        return load_us, unload_us

    def _unload(self, name: str) -> int:
        target = self.loaded.pop(name, name)
        started = time.perf_counter()
        status, body, _ = self._call(
            "DELETE", f"/models/{name}", headers={"X-Amzn-SageMaker-Target-Model": target}
        )
        if status >= 300 and status != 404:
            log.warning(
                "container %s: unloading model %s answered %s: %r",
                self.member.container,
                target,
                status,
                body[:200],
            )
        shutil.rmtree(self.models_dir / name, ignore_errors=True)
        return max(int((time.perf_counter() - started) * 1e6), 1)

    def invoke(self, headers: dict[str, str], body: bytes) -> tuple[int, bytes, str | None, str]:
        """One request for the TargetModel in ``headers``: (status, body, content type, report header)."""
        target = headers.get("x-amzn-sagemaker-target-model")
        model_dir = headers.get("x-sagestack-model-dir")
        if not target or not model_dir:
            message = b"This is a multi-model endpoint: specify TargetModel."
            return 400, message, "text/plain", ""
        name = model_name(target)
        passed = {k: v for k, v in headers.items() if k.startswith("x-amzn-sagemaker-")}
        for key in ("content-type", "accept"):
            if headers.get(key):
                passed[key] = headers[key]
        load_us = unload_us = 0
        hit = True
        for attempt in range(2):
            with self.lock:
                if name in self.loaded:
                    self.loaded.move_to_end(name)
                else:
                    hit = False
                    try:
                        load_us, unload_us = self._load(name, target, model_dir)
                    except ModelServerError as exc:
                        return exc.status, exc.body, exc.content_type, ""
            status, answer, content_type = self._call("POST", f"/models/{name}/invoke", body, passed)
            if status != 404 or attempt:
                break
            with self.lock:  # the container lost it (it restarted): load it again once
                self.loaded.pop(name, None)
                shutil.rmtree(self.models_dir / name, ignore_errors=True)
        if not self.cache:
            with self.lock:
                unload_us += self._unload(name)
        report = f"hit={int(hit)};load={load_us};unload={unload_us};loaded={len(self.loaded)}"
        return status, answer, content_type, report

    # -- the proxy the router talks to -------------------------------------------------------------

    def _serve(self) -> None:
        def forward(headers, body: bytes) -> tuple[int, bytes, str | None, dict[str, str]]:
            status, answer, content_type, report = self.invoke(
                {k.lower(): v for k, v in headers.items()}, body
            )
            return status, answer, content_type, {"X-Sagestack-Mme": report} if report else {}

        self.server = serve_proxy(
            self.sock, lambda: self.member.state == READY, forward, f"mme-proxy-{self.id}"
        )
