"""Multi-model endpoints: a container with ``Mode: MultiModel`` whose ``ModelDataUrl`` is an S3 prefix;
``InvokeEndpoint(TargetModel="a/model.tar.gz")`` serves ``<prefix>a/model.tar.gz``.

Two halves:

* gateway side — :class:`MultiModelSource`: the first request for a target fetches and extracts its
  artifact once (ModelDownloadingTime) through the model cache and remembers the directory; requests go
  to the worker with ``X-Amzn-SageMaker-Target-Model`` and the directory in ``X-Sagestack-Model-Dir``.
  The worker answers how the model was found (``X-Sagestack-Mme``), which becomes the endpoint's
  metrics: ModelCacheHit, ModelLoadingWaitTime, ModelLoadingTime, ModelUnloadingTime,
  ModelDownloadingTime (``AWS/SageMaker``) and LoadedModelCount (``/aws/sagemaker/Endpoints``);
* worker side — :class:`MultiModelHandler`: models loaded on first use into an LRU cache bounded by the
  instance's memory and by ``Settings.mme_max_models`` (``SAGESTACK_MME_MAX_MODELS``); the least recently
  used models are unloaded to make room. ``MultiModelConfig.ModelCacheSetting: Disabled`` unloads each
  model after its request.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

from ..domain.models import NETWORK_ISOLATION
from ..protocol.errors import ServiceError
from .metrics import StatisticSet

log = logging.getLogger("sagestack.serving")

NAMESPACE = "AWS/SageMaker"
INSTANCE_NAMESPACE = "/aws/sagemaker/Endpoints"
MODEL_DIR_HEADER = b"x-sagestack-model-dir"
REPORT_HEADER = b"x-sagestack-mme"
MEMORY_FRACTION = 0.9  # of the instance's memory that loaded models may use


def is_multi_model(container: dict) -> bool:
    return container.get("Mode") == "MultiModel"


def model_prefix(container: dict) -> str:
    url = (
        container.get("ModelDataUrl")
        or ((container.get("ModelDataSource") or {}).get("S3DataSource") or {}).get("S3Uri")
        or ""
    )
    if not url.startswith("s3://"):
        from .modeldir import ArtifactError

        raise ArtifactError(
            f"A MultiModel container needs ModelDataUrl set to an S3 prefix (s3://bucket/prefix/); "
            f"got {url!r}."
        )
    return url if url.endswith("/") else url + "/"


def prepare_container(controller: Any, container: dict, instance_type: str | None) -> dict:
    """A MultiModel container → the worker's container spec (nothing fetched: models load on demand)."""
    from ..domain.instance_types import spec as instance_spec

    model_prefix(container)
    root = controller.models.root / "empty"
    root.mkdir(parents=True, exist_ok=True)
    settings = controller.platform.settings
    return {
        "hostname": container.get("ContainerHostname") or "primary",
        "image": container.get("Image", ""),
        "model_dir": str(root),
        "code_dir": None,
        "environment": dict(container.get("Environment") or {}),
        "network_isolation": bool(container.get(NETWORK_ISOLATION)),
        "multi_model": {
            "max_models": settings.mme_max_models,
            "memory_mb": instance_spec(instance_type).memory_mb,
            "cache": (container.get("MultiModelConfig") or {}).get("ModelCacheSetting", "Enabled"),
        },
    }


# -- gateway side ------------------------------------------------------------------------------------


class MultiModelSource:
    """The models of one multi-model variant: resolved to extracted directories on first use."""

    def __init__(self, controller: Any, key: tuple[str, str, str], variant: dict):
        container = next(c for c in variant["Containers"] if is_multi_model(c))
        self.prefix = model_prefix(container)
        self.models = controller.models
        self.metrics = multi_model_metrics(controller)
        self.resolved: dict[str, bytes] = {}

    async def request_headers(self, route: Any, target: str | None) -> tuple[bytes, int]:
        """The worker headers for ``target`` and the microseconds spent downloading it (0 if cached)."""
        if not target:
            raise ServiceError(
                "ValidationError",
                f"Endpoint {route.name} of account {route.account} is a "
                f"multi-model endpoint: specify TargetModel.",
                400,
            )
        headers = self.resolved.get(target)
        if headers is not None:
            return headers, 0
        if target.startswith("/") or ".." in target.split("/"):
            raise ServiceError(
                "ValidationError", f"TargetModel {target} must be a path relative to the model prefix.", 400
            )
        started = time.perf_counter()
        path = await asyncio.to_thread(self._unpack, target)
        headers = (
            b"X-Amzn-SageMaker-Target-Model: "
            + target.encode("utf-8")
            + b"\r\nX-Sagestack-Model-Dir: "
            + str(path).encode("utf-8")
            + b"\r\n"
        )
        self.resolved[target] = headers
        return headers, int((time.perf_counter() - started) * 1e6)

    def _unpack(self, target: str) -> Path:
        from .modeldir import ArtifactError

        uri = self.prefix + target
        try:
            return self.models.unpack(uri)
        except ArtifactError:
            bucket, _, key = uri[len("s3://") :].partition("/")
            raise ServiceError(
                "ValidationError",
                f"Failed to download model data(bucket: {bucket}, key: {key}). "
                f"Please ensure that there is an object located at the URL and "
                f"that the role passed to CreateModel has permissions to "
                f"download the model.",
                400,
            ) from None

    def observe(self, route: Any, variant: Any, instance: Any, response: Any, download_us: int) -> None:
        """Turn the worker's report on this request into metrics."""
        report = response.header(REPORT_HEADER)
        if report is None:
            return
        values = dict(part.split("=", 1) for part in report.decode("latin-1").split(";") if "=" in part)
        self.metrics.record(
            route,
            variant.name,
            instance.id,
            values.get("hit") == "1",
            download_us,
            int(values.get("load", 0)),
            int(values.get("unload", 0)),
            int(values.get("loaded", 0)),
        )


async def target_headers(route: Any, variant: Any, target: str | None) -> tuple[bytes, int]:
    """Headers for the worker (multi-model variants), or a ValidationError for TargetModel elsewhere."""
    if variant.models is not None:
        return await variant.models.request_headers(route, target)
    raise ServiceError(
        "ValidationError",
        f"Endpoint {route.name} of account {route.account} is not a multi-model "
        f"endpoint; TargetModel can only be used with a MultiModel container.",
        400,
    )


def attach_source(controller: Any, dep: Any, variant: dict) -> None:
    """Called by the controller for each variant it brings up: multi-model variants get a source."""
    if any(is_multi_model(c) for c in variant["Containers"]):
        dep.extras.setdefault(variant["VariantName"], {})["models"] = MultiModelSource(
            controller, dep.key, variant
        )


class MultiModelMetrics:
    """In-memory statistic sets per (endpoint, variant), written to the metric store by a loop."""

    STATS = (
        "ModelCacheHit",
        "ModelLoadingWaitTime",
        "ModelLoadingTime",
        "ModelUnloadingTime",
        "ModelDownloadingTime",
    )

    def __init__(self, platform: Any):
        self.platform = platform
        self._lock = threading.Lock()
        self._stats: dict[tuple[str, str, str, str], dict[str, StatisticSet]] = {}
        self._loaded: dict[tuple[str, str, str, str], dict[str, int]] = {}  # per instance, latest report

    def record(
        self,
        route: Any,
        variant: str,
        instance_id: str,
        hit: bool,
        download_us: int,
        load_us: int,
        unload_us: int,
        loaded: int,
    ) -> None:
        key = (route.account, route.region, route.name, variant)
        with self._lock:
            stats = self._stats.get(key)
            if stats is None:
                stats = self._stats[key] = {name: StatisticSet() for name in self.STATS}
            stats["ModelCacheHit"].add(1 if hit else 0)
            if not hit:
                stats["ModelLoadingWaitTime"].add(download_us + load_us)
                stats["ModelLoadingTime"].add(load_us)
            if download_us:
                stats["ModelDownloadingTime"].add(download_us)
            if unload_us:
                stats["ModelUnloadingTime"].add(unload_us)
            self._loaded.setdefault(key, {})[instance_id] = loaded

    def flush(self) -> int:
        with self._lock:
            stats, self._stats = self._stats, {}
            loaded = {key: sum(per.values()) for key, per in self._loaded.items()}
        if not stats and not loaded:
            return 0
        now = time.time()
        batches: dict[tuple[str, str], list[dict]] = {}
        for (account, region, endpoint, variant), by_name in stats.items():
            dims = {"EndpointName": endpoint, "VariantName": variant}
            items = batches.setdefault((account, region), [])
            for name, stat in by_name.items():
                if stat.count:
                    unit = "None" if name == "ModelCacheHit" else "Microseconds"
                    items.append(
                        {
                            "namespace": NAMESPACE,
                            "name": name,
                            "dimensions": dims,
                            "unit": unit,
                            "statistics": stat.statistics(),
                            "timestamp": now,
                        }
                    )
        for (account, region, endpoint, variant), count in loaded.items():
            batches.setdefault((account, region), []).append(
                {
                    "namespace": INSTANCE_NAMESPACE,
                    "name": "LoadedModelCount",
                    "unit": "None",
                    "value": count,
                    "dimensions": {"EndpointName": endpoint, "VariantName": variant},
                    "timestamp": now,
                }
            )
        try:
            from ..store.metrics import metric_store
        except ImportError:
            return 0
        store = metric_store(self.platform)
        return sum(store.put_many(account, region, items) for (account, region), items in batches.items())

    def forget(self, key: tuple[str, str, str]) -> None:
        with self._lock:
            for stale in [k for k in self._loaded if k[:3] == key]:
                del self._loaded[stale]


def multi_model_metrics(controller: Any) -> MultiModelMetrics:
    return controller.platform.component("multi-model-metrics", MultiModelMetrics)


def attach(controller: Any) -> None:
    metrics = multi_model_metrics(controller)
    controller.platform.add_loop(
        "multi-model-metrics",
        metrics.flush,
        getattr(controller.platform.settings, "serving_metrics_interval", 5.0),
    )


# -- worker side ---------------------------------------------------------------------------------------


class _Loaded:
    __slots__ = ("handler", "size")

    def __init__(self, handler: Any, size: int):
        self.handler = handler
        self.size = size


class MultiModelHandler:
    """(worker) The models one serving process has loaded, least recently used first."""

    def __init__(self, spec: Any):
        config = spec.multi_model or {}
        self.spec = spec
        self.max_models = int(config["max_models"]) if config.get("max_models") else None
        self.budget = int(int(config.get("memory_mb") or 8192) * MEMORY_FRACTION) << 20
        self.cache = config.get("cache", "Enabled") != "Disabled"
        self.loaded: OrderedDict[str, _Loaded] = OrderedDict()
        self.used = 0
        self.baseline = _rss()

    def invoke_target(self, headers: dict[bytes, bytes], body: bytes) -> tuple[bytes, str, bytes]:
        """Serve one request for ``X-Amzn-SageMaker-Target-Model``; returns the answer and the report
        header for the gateway."""
        target = headers[b"x-amzn-sagemaker-target-model"].decode("utf-8")
        model_dir = headers.get(MODEL_DIR_HEADER, b"").decode("utf-8")
        if not model_dir:
            raise RuntimeError(f"no model directory for target model {target}")
        content_type = headers.get(b"content-type")
        accept = headers.get(b"accept")
        entry = self.loaded.get(target)
        hit = entry is not None
        load_us = unload_us = 0
        if hit:
            self.loaded.move_to_end(target)
        else:
            if self.max_models is not None:
                unload_us += self._evict(lambda: len(self.loaded) >= self.max_models)
            entry, load_us = self._load(target, model_dir)
            unload_us += self._evict(lambda: self.used > self.budget and len(self.loaded) > 1, keep=target)
        try:
            result, result_type = entry.handler.invoke(
                body,
                content_type.decode("latin-1") if content_type else None,
                accept.decode("latin-1") if accept else None,
            )
        finally:
            if not self.cache:
                unload_us += self._unload(target)
        report = b"X-Sagestack-Mme: hit=%d;load=%d;unload=%d;loaded=%d\r\n" % (
            hit,
            load_us,
            unload_us,
            len(self.loaded),
        )
        return result, result_type, report

    def _load(self, target: str, model_dir: str) -> tuple[_Loaded, int]:
        from .handlers import ContainerSpec, load_container

        before = _rss()
        started = time.perf_counter()
        spec = ContainerSpec(
            self.spec.hostname, self.spec.image, model_dir, None, dict(self.spec.environment)
        )
        handler = load_container(spec)
        load_us = int((time.perf_counter() - started) * 1e6)
        size = max(_rss() - before, _disk_size(model_dir), 1)
        entry = self.loaded[target] = _Loaded(handler, size)
        self.used += size
        print(
            f"Loaded model {target} in {load_us / 1e3:.1f} ms ({size >> 10} KiB); {len(self.loaded)} loaded",
            flush=True,
        )
        return entry, load_us

    def _evict(self, needed, keep: str | None = None) -> int:
        micros = 0
        while self.loaded and needed():
            victim = next(iter(self.loaded))
            if victim == keep:
                break
            micros += self._unload(victim)
        return micros

    def _unload(self, target: str) -> int:
        entry = self.loaded.pop(target, None)
        if entry is None:
            return 0
        started = time.perf_counter()
        self.used -= entry.size
        del entry
        gc.collect(1)  # young generations: a full collection costs ~0.2 s with sklearn loaded
        micros = int((time.perf_counter() - started) * 1e6)
        print(f"Unloaded model {target} in {micros / 1e3:.1f} ms; {len(self.loaded)} loaded", flush=True)
        return max(micros, 1)

    def invoke(self, body: bytes, content_type: str | None, accept: str | None) -> tuple[bytes, str]:
        from ..algorithms.base import InferenceError

        raise InferenceError("This is a multi-model endpoint: specify TargetModel.", 400)


def _rss() -> int:
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _disk_size(directory: str) -> int:
    total = 0
    for root, _, files in os.walk(directory):
        for name in files:
            try:
                total += os.path.getsize(os.path.join(root, name))
            except OSError:
                pass
    return total
