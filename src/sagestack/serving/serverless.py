"""Serverless variants (``ProductionVariant.ServerlessConfig``): workers that exist only while used.

A serverless variant gets a :class:`ServerlessPool` instead of a fixed fleet. The pool starts no worker
until the first request (a *cold start*: the request waits while the worker loads the model, and the
instance's ModelSetupTime metric records the load), serves at most ``MaxConcurrency`` requests at once
(more are answered as SageMaker does: HTTP 400, ``ThrottlingException``, a null message), and stops the
worker after ``Settings.serverless_idle_seconds`` without requests (``SAGESTACK_SERVERLESS_IDLE_SECONDS``;
AWS keeps an idle serverless endpoint warm for a few minutes). ``ProvisionedConcurrency`` keeps a worker started
with the endpoint and never stopped for idleness.

The pool's ``instances`` list *is* the deployment's instance list for the variant, so the controller's
retire/remove/shutdown paths stop on-demand workers too. A background loop reaps idle workers and the
workers of pools whose deployment is no longer serving.

A cold start takes a worker from sagestack's warm pool (:mod:`.warm_pool`, ``SAGESTACK_SERVERLESS_WARM_POOL``)
when it has one for the variant's runtime: a process with the framework already imported, so the request
waits for the model load only. The pool's processes are nobody's until handed over; the loop here tops it
up for the runtimes of live pools and empties the others.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from typing import Any

from ..protocol.errors import ServiceError
from .instances import FAILED, READY, Instance, WorkerSpec
from .warm_pool import warm_pool

log = logging.getLogger("sagestack.serving")

COLD_START_TIMEOUT_S = 600.0
MAX_WORKERS = 4  # serving processes per serverless worker (at most MaxConcurrency)
REAP_INTERVAL_S = 1.0


class ServerlessPool:
    """On-demand workers for one serverless variant of one deployment."""

    def __init__(self, controller: Any, dep: Any, variant: dict, spec: WorkerSpec):
        config = variant.get("Serverless") or {}
        self.controller = controller
        self.dep = dep
        self.spec = spec
        self.endpoint = dep.key[2]
        self.variant = variant["VariantName"]
        self.max_concurrency = max(1, int(config.get("MaxConcurrency") or 1))
        self.provisioned = max(0, int(config.get("ProvisionedConcurrency") or 0))
        self.memory_mb = int(config.get("MemorySizeInMB") or 2048)
        self.instances: list[Instance] = []
        self.active = 0  # requests holding a slot
        self.last_used = time.monotonic()
        self.cold_starts = 0
        self.warm_starts = 0  # cold starts served by a pooled worker (warm_pool.py)
        self.closed = False
        self._lock = threading.Lock()
        self._starting: asyncio.Future | None = None

    # -- the router's side (event-loop thread) ---------------------------------------------------

    async def acquire(self, route: Any) -> Instance:
        """A slot and a ready worker (cold-starting one if none runs); ThrottlingException when all
        ``MaxConcurrency`` slots are taken. Pair with :meth:`release`."""
        with self._lock:
            if self.active >= self.max_concurrency:
                # As SageMaker answers it: HTTP 400, ThrottlingException, {"message": null}.
                log.debug(
                    "serverless endpoint %s/%s: MaxConcurrency %d reached; throttled",
                    self.endpoint,
                    self.variant,
                    self.max_concurrency,
                )
                raise ServiceError("ThrottlingException", None, 400)  # type: ignore[arg-type]
            self.active += 1
            instance = self._ready()
        if instance is not None:
            return instance
        try:
            return await self._cold_start(route)
        except BaseException:
            self.release()
            raise

    def release(self) -> None:
        with self._lock:
            self.active -= 1
            self.last_used = time.monotonic()

    def _ready(self) -> Instance | None:
        for instance in self.instances:
            if instance.state == READY:
                return instance
        return None

    async def _cold_start(self, route: Any) -> Instance:
        loop = asyncio.get_running_loop()
        with self._lock:
            future = self._starting
            if future is None:
                future = self._starting = loop.run_in_executor(None, self._start_worker)
                future.add_done_callback(self._started)
        try:
            return await asyncio.shield(future)
        except _ColdStartFailed as exc:
            raise ServiceError(
                "ModelError",
                f'Received server error (500) from primary with message "The '
                f'model could not be loaded: {exc}". See {route.console} in account '
                f"{route.account} for more information.",
                424,
                fields={
                    "OriginalStatusCode": 500,
                    "OriginalMessage": str(exc),
                    "LogStreamArn": route.log_group_arn,
                },
            ) from None

    def _started(self, _future: asyncio.Future) -> None:
        with self._lock:
            self._starting = None

    def _start_worker(self) -> Instance:
        """(thread) Start a worker and wait until it serves; its ModelSetupTime is recorded on READY."""
        if self.closed:
            raise _ColdStartFailed("the endpoint is being updated or deleted")
        with self._lock:
            for instance in [i for i in self.instances if i.state == FAILED]:
                self.instances.remove(instance)
            ready = self._ready()
        if ready is not None:
            return ready
        instance = self.start_instance()
        self.cold_starts += 1
        if not instance.wait(COLD_START_TIMEOUT_S):
            with self._lock:
                if instance in self.instances:
                    self.instances.remove(instance)
            instance.stop()
            raise _ColdStartFailed(instance.failure or "the model server did not start in time")
        return instance

    def start_instance(self) -> Instance:
        """A worker for this variant: a pooled one (its framework imported already) when the warm pool has
        one for the runtime, else a new process."""
        warm = warm_pool(self.controller).take(self.spec)
        instance = self.controller.new_instance(self.spec).start(warm)
        if instance.warm_started:
            self.warm_starts += 1
            log.info(
                "serverless endpoint %s/%s: cold start on pooled worker %s (%s)",
                self.endpoint,
                self.variant,
                instance.process.pid,
                instance.id,
            )
        with self._lock:
            self.instances.append(instance)
        return instance

    # -- the reaper's side (loop thread) ---------------------------------------------------------

    def reap(self, now: float, idle_s: float, serving: bool) -> None:
        """Stop idle workers (all of them once the deployment no longer serves)."""
        if not serving:
            self.closed = True
        with self._lock:
            if self.active or self._starting is not None:
                return
            keep = 1 if self.provisioned and not self.closed else 0
            if not self.closed and now - self.last_used < idle_s:
                keep = len(self.instances)
            victims = [i for i in self.instances if i.state == FAILED]
            alive = [i for i in self.instances if i.state != FAILED]
            victims += alive[keep:]
            self.instances[:] = alive[:keep]
        for instance in victims:
            if instance.state != FAILED:
                log.info(
                    "serverless endpoint %s/%s idle: stopping worker %s",
                    self.endpoint,
                    self.variant,
                    instance.id,
                )
            instance.stop()

    def describe(self) -> dict:
        return {
            "max_concurrency": self.max_concurrency,
            "provisioned": self.provisioned,
            "active": self.active,
            "workers": len(self.instances),
            "cold_starts": self.cold_starts,
            "warm_starts": self.warm_starts,
        }


class _ColdStartFailed(Exception):
    pass


class ServerlessManager:
    """Every serverless pool of this server, and the loop that stops idle workers."""

    def __init__(self, controller: Any):
        self.controller = controller
        self.idle_s = float(controller.platform.settings.serverless_idle_seconds)
        self.pools: list[ServerlessPool] = []
        self._lock = threading.Lock()

    def bring_up(self, dep: Any, variant: dict, spec: WorkerSpec, started: list[Instance]) -> list[Instance]:
        """The pool for one serverless variant; its provisioned worker (if any) starts now. Returns the
        pool's instance list (the deployment's list for this variant)."""
        pool = ServerlessPool(self.controller, dep, variant, spec)
        warm_pool(self.controller).want(spec)
        if pool.provisioned:
            started.append(pool.start_instance())
        dep.extras.setdefault(variant["VariantName"], {})["pool"] = pool
        with self._lock:
            self.pools.append(pool)
        return pool.instances

    def step(self) -> None:
        now = time.monotonic()
        controller = self.controller
        with self._lock:
            pools = list(self.pools)
        finished = []
        for pool in pools:
            key = pool.dep.key
            serving = controller.active.get(key) is pool.dep or controller.pending.get(key) is pool.dep
            try:
                pool.reap(now, self.idle_s, serving)
            except Exception:  # one pool never stalls the others
                log.exception("reaping serverless workers of %s failed", pool.endpoint)
            if pool.closed and not pool.instances:
                finished.append(pool)
        if finished:
            with self._lock:
                self.pools = [p for p in self.pools if p not in finished]
        warm = warm_pool(controller)
        try:  # the pooled workers of the runtimes still in use, topped up; the others' stopped
            warm.step({key for p in pools if not p.closed and (key := warm.key(p.spec)) is not None})
        except Exception:
            log.exception("topping up the serverless warm pool failed")


def serverless_spec(controller: Any, dep: Any, variant: dict) -> WorkerSpec:
    """The worker spec of a serverless variant: as an instance's, with up to MaxConcurrency serving
    processes (``SAGEMAKER_MODEL_SERVER_WORKERS`` wins when set)."""
    from .controller import _workers

    account, region, name = dep.key
    config = variant.get("Serverless") or {}
    concurrency = max(1, int(config.get("MaxConcurrency") or 1))
    explicit = any(
        (c.get("Environment") or {}).get("SAGEMAKER_MODEL_SERVER_WORKERS") for c in variant["Containers"]
    )
    workers = (
        _workers(variant["Containers"]) if explicit else min(concurrency, MAX_WORKERS, os.cpu_count() or 1)
    )
    vname = variant["VariantName"]
    return WorkerSpec(
        controller.prepare(variant["Containers"]),
        variant.get("Mode") or "Serial",
        variant.get("InstanceType") or "ml.m5.large",
        workers,
        account,
        region,
        f"/aws/sagemaker/Endpoints/{name}",
        f"{vname}/",
        {"endpoint": name, "variant": vname},
    )


def bring_up_serverless(controller: Any, dep: Any, variant: dict, started: list[Instance]) -> list[Instance]:
    """Called by the controller for a variant with a ServerlessConfig (models fetched and checked now,
    loaded on the first request)."""
    return serverless_manager(controller).bring_up(
        dep, variant, serverless_spec(controller, dep, variant), started
    )


def serverless_manager(controller: Any) -> ServerlessManager:
    return controller.platform.component("serverless-pools", lambda _: ServerlessManager(controller))


def attach(controller: Any) -> None:
    manager = serverless_manager(controller)
    controller.platform.add_loop("serverless-idle", manager.step, REAP_INTERVAL_S)
