"""The invocation fast path (in the gateway): endpoint → variant → instance → kept-alive connection.

The controller pushes an :class:`EndpointRoute` per endpoint (immutable; replaced as a whole); a request
reads one dict entry, picks a variant by weight (or ``TargetVariant``) and the less loaded of two healthy
instances ("power of two choices"), and forwards the body over a pooled connection. Nothing here touches
the database: metrics and data capture are recorded in memory and written by background loops.

Two ways in: ``handle`` (a coroutine: every InvokeEndpoint the gateway's general path serves, and any
that needs to wait for something — a new connection, a multi-model download, a serverless worker) and
``start`` (plain callbacks from the gateway's HTTP protocol to the worker's answer, no task or coroutine:
a real-time endpoint's variant with a kept-alive connection ready, the usual case under load). Both
build the worker's request, record metrics, capture data and word errors with the same functions.
"""

from __future__ import annotations

import logging
import random
import time
from bisect import bisect_right
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from ..protocol.errors import ServiceError, internal
from ..protocol.http import BodyTooLarge, HttpRequest, HttpResponse
from .instances import READY, Instance
from .multi_model import target_headers
from .shadow import mirror
from .upstream import InstancePool, Response, UpstreamError, UpstreamTimeout, drop

MAX_PAYLOAD = 6 * 1024 * 1024  # InvokeEndpoint's limit (6 MB)
DEFAULT_TIMEOUT_S = 60.0
PREFIX = "/endpoints/"
SUFFIX = "/invocations"
TIMED_OUT = (
    "Your invocation timed out while waiting for a response from container primary. Review the latency "
    "metrics for each container in Amazon CloudWatch, resolve the issue, and try again."
)
log = logging.getLogger("sagestack.serving")
#: ``start``'s callback: (the answer, None), (None, the error to answer) or (None, None): take ``handle``
Answer = Callable[[HttpResponse | None, ServiceError | None], None]


class VariantRoute:
    __slots__ = ("capture", "instances", "model_name", "models", "name", "pool", "weight")

    def __init__(
        self, name: str, weight: float, instances: list[Instance], capture: Any = None, model_name: str = ""
    ):
        self.name = name
        self.weight = weight
        self.instances = instances
        self.capture = capture
        self.model_name = model_name
        self.pool: Any = None  # serverless.ServerlessPool: workers on demand, MaxConcurrency
        self.models: Any = None  # multi_model.MultiModelSource: TargetModel → model directory

    def pick(self) -> Instance:
        instances = self.instances
        if len(instances) == 1:
            return instances[0]
        healthy = [i for i in instances if i.state == READY] or instances
        if len(healthy) == 1:
            return healthy[0]
        a, b = random.sample(healthy, 2)
        return a if a.inflight <= b.inflight else b


class EndpointRoute:
    __slots__ = (
        "account",
        "by_name",
        "console",
        "cumulative",
        "explainer",
        "log_group_arn",
        "name",
        "region",
        "shadows",
        "total",
        "variants",
    )

    def __init__(
        self, name: str, account: str, region: str, variants: list[VariantRoute], shadows: list | None = None
    ):
        self.name = name
        self.shadows = shadows or []  # shadow.ShadowTarget: mirrored copies (serving/shadow.py)
        self.explainer = None  # explainer.Explainer: ClarifyExplainerConfig (serving/explainer.py)
        self.account = account
        self.region = region
        self.variants = [v for v in variants if v.instances or v.pool is not None]
        self.by_name = {v.name: v for v in self.variants}
        weights = [max(0.0, v.weight) for v in self.variants]
        if not any(weights):
            weights = [1.0] * len(self.variants)
        self.cumulative, running = [], 0.0
        for weight in weights:
            running += weight
            self.cumulative.append(running)
        self.total = running
        group = f"/aws/sagemaker/Endpoints/{name}"
        self.log_group_arn = f"arn:aws:logs:{region}:{account}:log-group:{group}"
        self.console = (
            f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
            f"#logEventViewer:group={group}"
        )

    def pick_variant(self, target: str | None) -> VariantRoute:
        if target:
            variant = self.by_name.get(target)
            if variant is None:
                raise ServiceError(
                    "ValidationError",
                    f"The variant {target} does not exist for endpoint "
                    f"{self.name} of account {self.account}.",
                    400,
                )
            return variant
        if len(self.variants) == 1:
            return self.variants[0]
        index = bisect_right(self.cumulative, random.random() * self.total)
        return self.variants[min(index, len(self.variants) - 1)]


def endpoint_not_found(name: str, account: str) -> ServiceError:
    return ServiceError("ValidationError", f"Endpoint {name} of account {account} not found.", 400)


class Router:
    def __init__(self, platform, metrics=None, capture=None, timeout: float = DEFAULT_TIMEOUT_S):
        self.platform = platform
        self.default_region = platform.settings.region
        self.routes: dict[tuple[str, str, str], EndpointRoute] = {}
        self.metrics = metrics
        self.capture = capture
        self.timeout = timeout

    # -- the controller's side ---------------------------------------------------------------

    def publish(self, key: tuple[str, str, str], route: EndpointRoute) -> None:
        self.routes[key] = route

    def withdraw(self, key: tuple[str, str, str]) -> None:
        self.routes.pop(key, None)

    # -- the gateway hook ----------------------------------------------------------------------

    async def handle(self, request: HttpRequest, auth: Any, protocol: Any) -> HttpResponse:
        started = time.perf_counter()
        path = request.raw_path
        name = unquote(path[len(PREFIX) : -len(SUFFIX)]) if path.startswith(PREFIX) else ""
        account = auth.credentials.account_id
        route = self.routes.get((account, auth.region or self.default_region, name))
        if route is None:
            raise endpoint_not_found(name, account)
        body = request.body
        if body is None:
            try:
                body = await request.read_body(MAX_PAYLOAD)
            except BodyTooLarge:
                return payload_too_large(request)
        if len(body) > MAX_PAYLOAD:
            return payload_too_large(request)
        if route.explainer is not None:  # online explainability answers Clarify's JSON
            return await route.explainer.handle(self, route, request, body, started)
        headers = request.headers
        variant, response, _ = await self.forward(
            route,
            body,
            headers.get("content-type"),
            headers.get("accept"),
            headers.get("x-amzn-sagemaker-custom-attributes"),
            headers.get("x-amzn-sagemaker-target-variant"),
            headers.get("x-amzn-sagemaker-target-container-hostname"),
            headers.get("x-amzn-sagemaker-inference-id"),
            started,
            headers.get("x-amzn-sagemaker-target-model"),
        )
        if route.shadows:  # shadow tests: copies go out after the caller's answer is ready
            mirror(
                self,
                route.shadows,
                body,
                headers.get("content-type"),
                headers.get("accept"),
                headers.get("x-amzn-sagemaker-custom-attributes"),
                headers.get("x-amzn-sagemaker-inference-id"),
            )
        return invocation_response(request.request_id, variant, response)

    def start(self, request: HttpRequest, auth: Any, answer: Answer) -> bool:
        """``handle`` without a coroutine, for a request whose body is read: send it to an instance over a
        kept-alive connection and call ``answer`` from the worker's answer. False, having done nothing,
        when the request needs ``handle`` (an endpoint not found, an explainer, shadow variants, a
        multi-model or serverless variant, a target variant that does not exist, no idle connection)."""
        started = time.perf_counter()
        path = request.raw_path
        route = self.routes.get(
            (
                auth.credentials.account_id,
                auth.region or self.default_region,
                unquote(path[len(PREFIX) : -len(SUFFIX)]),
            )
        )
        if route is None or route.explainer is not None or route.shadows:
            return False
        headers = request.headers.lowered
        if "x-amzn-sagemaker-target-model" in headers:
            return False
        target_variant = headers.get("x-amzn-sagemaker-target-variant")
        if target_variant:
            variant = route.by_name.get(target_variant)
            if variant is None:
                return False
        else:
            variant = route.pick_variant(None)
        if variant.models is not None or variant.pool is not None:
            return False
        instance = variant.pick()
        pool = instance.pool
        if pool is None:
            pool = instance.pool = InstancePool(instance.host, instance.port)
        conn = pool.idle_connection()
        if conn is None:
            return False
        body = request.body
        content_type = headers.get("content-type")
        inference_id = headers.get("x-amzn-sagemaker-inference-id")
        data = request_bytes(
            body,
            b"",
            content_type,
            headers.get("accept"),
            headers.get("x-amzn-sagemaker-custom-attributes"),
            headers.get("x-amzn-sagemaker-target-container-hostname"),
            inference_id,
        )

        def received(response: Response | None, error: Exception | None) -> None:
            instance.inflight -= 1
            if response is None:
                drop(conn)
                if isinstance(error, UpstreamError) and not error.received:
                    answer(None, None)  # the worker had closed this kept-alive connection: ``handle`` retries
                    return
                self._record(route, variant, instance, 500, sent, started)
                answer(None, self.upstream_failure(route, error))
                return
            pool.release(conn)
            try:
                self.finish(
                    route, variant, instance, response, sent, started, body, content_type, inference_id
                )
                reply = invocation_response(request.request_id, variant, response)
            except ServiceError as exc:
                answer(None, exc)
                return
            except Exception:  # noqa: BLE001 - what the general path answers for a bug
                log.exception("InvokeEndpoint failed after the model answered")
                answer(None, internal())
                return
            answer(reply, None)

        instance.inflight += 1
        sent = time.perf_counter()
        conn.send(data, self.timeout, received)
        return True

    async def forward(
        self,
        route: EndpointRoute,
        body: bytes,
        content_type: str | None,
        accept: str | None,
        custom_attributes: str | None,
        target_variant: str | None,
        target_host: str | None,
        inference_id: str | None,
        started: float,
        target_model: str | None = None,
        capture: bool = True,
    ) -> tuple[VariantRoute, Response, int]:
        """Send one invocation to an instance; model failures become ``ModelError``."""
        variant = route.pick_variant(target_variant)
        model_headers = b""
        download_us = 0
        if target_model or variant.models is not None:  # multi-model endpoints (multi_model.py)
            model_headers, download_us = await target_headers(route, variant, target_model)
        serverless = variant.pool
        instance = await serverless.acquire(route) if serverless is not None else variant.pick()
        data = request_bytes(
            body, model_headers, content_type, accept, custom_attributes, target_host, inference_id
        )
        pool = instance.pool
        if pool is None:
            pool = instance.pool = InstancePool(instance.host, instance.port)
        instance.inflight += 1
        sent = time.perf_counter()
        try:
            response = await pool.request(data, self.timeout)
        except (UpstreamTimeout, UpstreamError) as exc:
            self._record(route, variant, instance, 500, sent, started)
            raise self.upstream_failure(route, exc) from None
        finally:
            instance.inflight -= 1
            if serverless is not None:
                serverless.release()
        model_us = self.finish(
            route,
            variant,
            instance,
            response,
            sent,
            started,
            body,
            content_type,
            inference_id,
            download_us,
            capture,
        )
        return variant, response, model_us

    def finish(
        self,
        route: EndpointRoute,
        variant: VariantRoute,
        instance: Instance,
        response: Response,
        sent: float,
        started: float,
        body: bytes,
        content_type: str | None,
        inference_id: str | None,
        download_us: int = 0,
        capture: bool = True,
    ) -> int:
        """The worker answered: metrics, the multi-model cache's bookkeeping, ``ModelError`` for a failed
        answer, data capture; the model's time in µs."""
        model_us = self._record(route, variant, instance, response.status, sent, started)
        if variant.models is not None:
            variant.models.observe(route, variant, instance, response, download_us)
        if response.status >= 300:
            container = response.header(b"x-sagestack-container")  # the failing container of a pipeline
            raise self.model_error(
                route,
                response.status,
                response.body.decode("utf-8", "replace"),
                container.decode("latin-1") if container else "primary",
            )
        if capture and variant.capture is not None and self.capture is not None:
            self.capture.offer(
                variant.capture,
                route,
                variant.name,
                body,
                content_type,
                response.body,
                response.header(b"content-type"),
                inference_id,
            )
        return model_us

    def upstream_failure(self, route: EndpointRoute, exc: Exception | None) -> ServiceError:
        """The ``ModelError`` for a worker that did not answer (timed out, or closed the connection)."""
        if isinstance(exc, UpstreamTimeout):
            return self.model_error(route, 0, TIMED_OUT)
        return self.model_error(
            route,
            0,
            f"The model server closed the connection before answering ({exc}); the worker process may "
            f"have crashed.",
        )

    def _record(
        self,
        route: EndpointRoute,
        variant: VariantRoute,
        instance: Instance,
        status: int,
        sent: float,
        started: float,
    ) -> int:
        now = time.perf_counter()
        model_us = int((now - sent) * 1e6)
        instance.served += 1
        if self.metrics is not None:
            self.metrics.record(route, variant, status, model_us, int((now - started) * 1e6) - model_us)
        return model_us

    def model_error(
        self, route: EndpointRoute, status: int, message: str, container: str = "primary"
    ) -> ServiceError:
        kind = "client" if 400 <= status < 500 else "server"
        text = (
            f'Received {kind} error ({status}) from {container} with message "{message}". See '
            f"{route.console} in account {route.account} for more information."
        )
        return ServiceError(
            "ModelError",
            text,
            424,
            fields={
                "OriginalStatusCode": status,
                "OriginalMessage": message,
                "LogStreamArn": route.log_group_arn,
            },
        )

    def route_for(self, account: str, region: str, name: str) -> EndpointRoute:
        route = self.routes.get((account, region, name))
        if route is None:
            raise endpoint_not_found(name, account)
        return route


def request_bytes(
    body: bytes,
    model_headers: bytes,
    content_type: str | None,
    accept: str | None,
    custom_attributes: str | None,
    target_host: str | None,
    inference_id: str | None,
) -> bytes:
    """The worker's ``POST /invocations`` (SageMaker's container contract) for one invocation."""
    parts = [
        b"POST /invocations HTTP/1.1\r\nHost: model\r\nContent-Length: %d\r\n" % len(body),
        model_headers,
    ]
    if content_type:
        parts.append(b"Content-Type: " + content_type.encode("latin-1") + b"\r\n")
    if accept:
        parts.append(b"Accept: " + accept.encode("latin-1") + b"\r\n")
    if custom_attributes:
        parts.append(b"X-Amzn-SageMaker-Custom-Attributes: " + custom_attributes.encode("latin-1") + b"\r\n")
    if target_host:
        parts.append(
            b"X-Amzn-SageMaker-Target-Container-Hostname: " + target_host.encode("latin-1") + b"\r\n"
        )
    if inference_id:
        parts.append(b"X-Amzn-SageMaker-Inference-Id: " + inference_id.encode("latin-1") + b"\r\n")
    parts.append(b"\r\n")
    parts.append(body)
    return b"".join(parts)


def invocation_response(request_id: str, variant: VariantRoute, response: Response) -> HttpResponse:
    """InvokeEndpoint's answer from the worker's."""
    content_type = response.header(b"content-type")
    out = [
        ("content-type", content_type.decode("latin-1") if content_type else "application/octet-stream"),
        ("x-amzn-invoked-production-variant", variant.name),
        ("x-amzn-requestid", request_id),
    ]
    custom = response.header(b"x-amzn-sagemaker-custom-attributes")
    if custom is not None:
        out.append(("x-amzn-sagemaker-custom-attributes", custom.decode("latin-1")))
    return HttpResponse(200, out, response.body)


def payload_too_large(request: HttpRequest) -> HttpResponse:
    """What SageMaker answers for a body over 6 MB: HTTP 413 without an error code."""
    return HttpResponse(
        413,
        [("content-type", "application/json"), ("x-amzn-requestid", request.request_id)],
        b'{"message":"HTTP content length exceeded %d bytes."}' % MAX_PAYLOAD,
    )
