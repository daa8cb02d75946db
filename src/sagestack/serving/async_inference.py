"""Asynchronous inference (``AsyncInferenceConfig``; ``InvokeEndpointAsync``).

``InvokeEndpointAsync`` only records the request in the durable queue (:mod:`..store.async_invocations`)
and answers at once with the InferenceId and the OutputLocation/FailureLocation the result will have:
``<S3OutputPath>/<InferenceId or uuid>.out`` and ``<S3FailurePath or S3OutputPath>/<…>.error``.

The dispatcher (a loop in the server) hands queued requests to the endpoint's ready instances, at most
``ClientConfig.MaxConcurrentInvocationsPerInstance`` per instance: it reads the input from S3, calls the
worker's ``/invocations`` (off the gateway's event loop, in a thread pool), writes the answer (or the
error) to S3 and only then deletes the row — so a request survives a server crash and is retried after
the restart. Requests whose ``RequestTTLSeconds`` runs out in the queue fail with an error file.

Every few seconds the backlog becomes metrics in ``AWS/SageMaker`` (dimension ``EndpointName``):
ApproximateBacklogSize, ApproximateBacklogSizePerInstance, ApproximateAgeOfOldestRequest and
HasBacklogWithoutCapacity — what scaling policies use to scale an async endpoint to and from zero
instances (``UpdateEndpointWeightsAndCapacities`` accepts ``DesiredInstanceCount: 0`` for them).
"""

from __future__ import annotations

import http.client
import logging
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..objects.errors import ObjectError
from ..protocol.errors import ServiceError
from ..store.async_invocations import AsyncInvocation, async_invocation_store
from .instances import READY

log = logging.getLogger("sagestack.serving")

NAMESPACE = "AWS/SageMaker"
DEFAULT_PER_INSTANCE = 4
DEFAULT_TTL_S = 6 * 3600  # RequestTTLSeconds default (6 hours)
DEFAULT_TIMEOUT_S = 900  # InvocationTimeoutSeconds default (15 minutes)
MAX_ATTEMPTS = 3  # a request whose worker vanished mid-call is retried this many times
DISPATCH_INTERVAL_S = 0.2
EXPIRY_INTERVAL_S = 5.0
THREADS = 32


def _join(path: str, *parts: str) -> str:
    out = path.rstrip("/")
    for part in parts:
        if part:
            out += "/" + part.strip("/")
    return out


def submit(platform: Any, account: str, region: str, params: dict) -> dict:
    """InvokeEndpointAsync: validate, enqueue, answer with the locations."""
    from ..domain.endpoints import TYPE

    name = params["EndpointName"]
    row = platform.resources.get(account, region, TYPE, name)
    if row is None or row.status in ("Creating", "Deleting", "Failed"):
        raise ServiceError("ValidationError", f"Endpoint {name} of account {account} not found.", 400)
    config = row.data["_plan"].get("AsyncInferenceConfig")
    if not config:
        raise ServiceError(
            "ValidationError",
            f"Endpoint {name} of account {account} is not an asynchronous "
            f"inference endpoint; use InvokeEndpoint, or create the endpoint "
            f"config with AsyncInferenceConfig.",
            400,
        )
    input_location = params["InputLocation"]
    if not input_location.startswith("s3://"):
        raise ServiceError("ValidationError", f"InputLocation {input_location} must be an s3:// URI.", 400)
    output = config.get("OutputConfig") or {}
    inference_id = params.get("InferenceId") or str(uuid.uuid4())
    base = params.get("Filename") or inference_id
    extension = params.get("S3OutputPathExtension") or ""
    output_location = _join(
        output["S3OutputPath"], extension, params.get("Filename") or f"{inference_id}.out"
    )
    failure_location = _join(
        output.get("S3FailurePath") or output["S3OutputPath"], extension, f"{base}.error"
    )
    now = time.time()
    ttl = int(params.get("RequestTTLSeconds") or DEFAULT_TTL_S)
    item = AsyncInvocation(
        id=uuid.uuid4().hex,
        account_id=account,
        region=region,
        endpoint=name,
        inference_id=inference_id,
        input_location=input_location,
        output_location=output_location,
        failure_location=failure_location,
        content_type=params.get("ContentType"),
        accept=params.get("Accept"),
        custom_attributes=params.get("CustomAttributes"),
        status="Queued",
        created_at=now,
        expires_at=now + ttl,
        timeout_s=float(params.get("InvocationTimeoutSeconds") or DEFAULT_TIMEOUT_S),
        attempts=0,
        last_error=None,
    )
    async_invocation_store(platform).enqueue(item)
    return {
        "InferenceId": inference_id,
        "OutputLocation": output_location,
        "FailureLocation": failure_location,
    }


class _Retry(Exception):
    """The request could not be delivered (no ready instance, the worker went away): queue it again.
    ``counts``: whether this try counts toward MAX_ATTEMPTS (a worker that vanished mid-call does)."""

    def __init__(self, message: str, counts: bool = True):
        super().__init__(message)
        self.counts = counts


class AsyncDispatcher:
    def __init__(self, controller: Any):
        self.controller = controller
        self.platform = controller.platform
        self.store = async_invocation_store(self.platform)
        self.executor = ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix="async-invoke")
        self.inflight: dict[tuple[str, str, str], int] = {}
        self._lock = threading.Lock()
        self._last_expiry = 0.0

    # -- dispatch ----------------------------------------------------------------------------------

    def dispatch(self) -> int:
        """One pass: hand queued requests to free instance slots. Returns how many were started."""
        started = 0
        controller = self.controller
        for key, dep in list(controller.active.items()):
            config = dep.plan.get("AsyncInferenceConfig")
            if not config:
                continue
            route = controller.router.routes.get(key)
            if route is None:
                continue
            ready = sum(1 for v in route.variants for i in v.instances if i.state == READY)
            per = int(
                (config.get("ClientConfig") or {}).get("MaxConcurrentInvocationsPerInstance")
                or DEFAULT_PER_INSTANCE
            )
            with self._lock:
                free = per * ready - self.inflight.get(key, 0)
            if free <= 0:
                continue
            for item in self.store.claim(key, free):
                with self._lock:
                    self.inflight[key] = self.inflight.get(key, 0) + 1
                self.executor.submit(self._run, key, item)
                started += 1
        if time.monotonic() - self._last_expiry > EXPIRY_INTERVAL_S:
            self._last_expiry = time.monotonic()
            for item in self.store.expired():
                self._finish_error(
                    item,
                    f"The request expired after waiting in the queue past its "
                    f"RequestTTLSeconds (InferenceId {item.inference_id}).",
                )
        return started

    def _run(self, key: tuple[str, str, str], item: AsyncInvocation) -> None:
        try:
            self._process(item)
        except _Retry as exc:
            if exc.counts and item.attempts >= MAX_ATTEMPTS:
                self._finish_error(
                    item,
                    f"The request could not be delivered to the model after {item.attempts} attempts: {exc}",
                )
            else:
                self.store.requeue(item.id, str(exc), refund=not exc.counts)
        except Exception as exc:  # one request never stops the dispatcher
            log.exception("async invocation %s of %s failed", item.inference_id, item.endpoint)
            try:
                self._finish_error(item, f"{type(exc).__name__}: {exc}")
            except Exception:
                log.exception("could not record the failure of async invocation %s", item.inference_id)
        finally:
            with self._lock:
                self.inflight[key] = self.inflight.get(key, 1) - 1

    def _process(self, item: AsyncInvocation) -> None:
        from ..objects import object_store, parse_s3_uri

        objects = object_store(self.platform)
        try:
            bucket, key = parse_s3_uri(item.input_location)
            handle, info = objects.open(bucket, key)
            with handle:
                body = handle.read()
        except (ObjectError, ValueError) as exc:
            self._finish_error(item, f"Failed to download the input from {item.input_location}: {exc}")
            return
        route = self.controller.router.routes.get(item.key)
        if route is None:
            raise _Retry("the endpoint is not serving", counts=False)
        variant = route.pick_variant(None)
        ready = [i for i in variant.instances if i.state == READY]
        if not ready:
            raise _Retry("no instance is ready", counts=False)
        instance = min(ready, key=lambda i: i.served)
        started = time.perf_counter()
        # Without a ContentType on the request, the input object's own Content-Type is what the
        # container gets (the SDK's AsyncPredictor uploads with its serializer's type and sends none).
        status, headers, answer = _post(instance, body, item, item.content_type or info.content_type)
        model_us = int((time.perf_counter() - started) * 1e6)
        instance.served += 1
        metrics = getattr(self.controller, "metrics", None)
        if metrics is not None:
            metrics.record(route, variant, status, model_us, 0)
        if 200 <= status < 300:
            bucket, key = parse_s3_uri(item.output_location)
            objects.put_bytes(item.account_id, bucket, key, answer, content_type=headers.get("content-type"))
            self.store.done(item.id)
            return
        kind = "client" if 400 <= status < 500 else "server"
        message = answer.decode("utf-8", "replace")
        self._finish_error(
            item,
            f'Received {kind} error ({status}) from primary with message "{message}". See '
            f"{route.console} in account {route.account} for more information.",
        )

    def _finish_error(self, item: AsyncInvocation, message: str) -> None:
        from ..objects import object_store, parse_s3_uri

        bucket, key = parse_s3_uri(item.failure_location)
        try:
            object_store(self.platform).put_bytes(
                item.account_id, bucket, key, message.encode(), content_type="text/plain"
            )
        except ObjectError as exc:  # the failure bucket is gone: nothing more can be done
            log.warning(
                "async invocation %s: cannot write %s: %s", item.inference_id, item.failure_location, exc
            )
        self.store.done(item.id)

    # -- metrics -----------------------------------------------------------------------------------

    def publish_metrics(self) -> int:
        from ..domain.endpoints import TYPE

        controller = self.controller
        backlog = self.store.backlog()
        keys = {key for key, dep in list(controller.active.items()) if dep.plan.get("AsyncInferenceConfig")}
        now = time.time()
        batches: dict[tuple[str, str], list[dict]] = {}
        for key in keys | set(backlog):
            if key not in keys and self.platform.resources.get(key[0], key[1], TYPE, key[2]) is None:
                self.store.delete_endpoint(key)  # the endpoint was deleted: its requests go with it
                continue
            dep = controller.active.get(key)
            instances = sum(len(group) for group in dep.variants.values()) if dep is not None else 0
            entry = backlog.get(key)
            size = entry.size if entry else 0
            age = max(0.0, now - entry.oldest_created_at) if entry and entry.oldest_created_at else 0.0
            dims = {"EndpointName": key[2]}
            values = (
                ("ApproximateBacklogSize", size, "Count"),
                ("ApproximateBacklogSizePerInstance", size / instances if instances else size, "Count"),
                ("ApproximateAgeOfOldestRequest", age, "Seconds"),
                ("HasBacklogWithoutCapacity", 1 if size and not instances else 0, "Count"),
            )
            batches.setdefault(key[:2], []).extend(
                {
                    "namespace": NAMESPACE,
                    "name": name,
                    "dimensions": dims,
                    "value": value,
                    "unit": unit,
                    "timestamp": now,
                }
                for name, value, unit in values
            )
        if not batches:
            return 0
        from ..store.metrics import metric_store

        store = metric_store(self.platform)
        return sum(store.put_many(account, region, items) for (account, region), items in batches.items())

    def shutdown(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)


def _post(
    instance: Any, body: bytes, item: AsyncInvocation, content_type: str | None
) -> tuple[int, dict[str, str], bytes]:
    headers = {"Content-Type": content_type or "application/octet-stream"}
    if item.accept:
        headers["Accept"] = item.accept
    if item.custom_attributes:
        headers["X-Amzn-SageMaker-Custom-Attributes"] = item.custom_attributes
    headers["X-Amzn-SageMaker-Inference-Id"] = item.inference_id
    conn = http.client.HTTPConnection(instance.host, instance.port, timeout=item.timeout_s)
    try:
        conn.request("POST", "/invocations", body=body, headers=headers)
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    except TimeoutError:
        return (
            500,
            {},
            (
                f"Your invocation timed out while waiting for a response from container primary after "
                f"{item.timeout_s:g} seconds (InvocationTimeoutSeconds)."
            ).encode(),
        )
    except (OSError, http.client.HTTPException) as exc:
        raise _Retry(f"the model server closed the connection ({exc})") from None
    finally:
        conn.close()


def async_dispatcher(controller: Any) -> AsyncDispatcher:
    return controller.platform.component("async-inference", lambda _: AsyncDispatcher(controller))


def attach(controller: Any) -> None:
    dispatcher = async_dispatcher(controller)
    recovered = dispatcher.store.recover()
    if recovered:
        log.info("async inference: %d interrupted requests queued again", recovered)
    platform = controller.platform
    platform.add_loop("async-inference", dispatcher.dispatch, DISPATCH_INTERVAL_S)
    platform.add_loop(
        "async-inference-metrics",
        dispatcher.publish_metrics,
        getattr(platform.settings, "serving_metrics_interval", 5.0),
    )
    platform.on_shutdown(dispatcher.shutdown)
