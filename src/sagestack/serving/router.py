"""The invocation fast path (in the gateway): endpoint → variant → instance → kept-alive connection.

The controller pushes an :class:`EndpointRoute` per endpoint (immutable; replaced as a whole); a request
reads one dict entry, picks a variant by weight (or ``TargetVariant``) and the less loaded of two healthy
instances ("power of two choices"), and forwards the body over a pooled connection. Nothing here touches
the database: metrics and data capture are recorded in memory and written by background loops.
"""

from __future__ import annotations

import random
import time
from bisect import bisect_right
from typing import Any
from urllib.parse import unquote

from ..protocol.errors import ServiceError
from ..protocol.http import BodyTooLarge, HttpRequest, HttpResponse
from .instances import READY, Instance
from .multi_model import target_headers
from .shadow import mirror
from .upstream import InstancePool, Response, UpstreamError, UpstreamTimeout

MAX_PAYLOAD = 6 * 1024 * 1024  # InvokeEndpoint's limit (6 MB)
DEFAULT_TIMEOUT_S = 60.0
PREFIX = "/endpoints/"
SUFFIX = "/invocations"


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
        content_type = response.header(b"content-type")
        out = [
            ("content-type", content_type.decode("latin-1") if content_type else "application/octet-stream"),
            ("x-amzn-invoked-production-variant", variant.name),
            ("x-amzn-requestid", request.request_id),
        ]
        custom = response.header(b"x-amzn-sagemaker-custom-attributes")
        if custom is not None:
            out.append(("x-amzn-sagemaker-custom-attributes", custom.decode("latin-1")))
        return HttpResponse(200, out, response.body)

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
        parts = [b"POST /invocations HTTP/1.1\r\nHost: model\r\nContent-Length: %d\r\n" % len(body)]
        download_us = 0
        if target_model or variant.models is not None:  # multi-model endpoints (multi_model.py)
            model_headers, download_us = await target_headers(route, variant, target_model)
            parts.append(model_headers)
        serverless = variant.pool
        instance = await serverless.acquire(route) if serverless is not None else variant.pick()
        if content_type:
            parts.append(b"Content-Type: " + content_type.encode("latin-1") + b"\r\n")
        if accept:
            parts.append(b"Accept: " + accept.encode("latin-1") + b"\r\n")
        if custom_attributes:
            parts.append(
                b"X-Amzn-SageMaker-Custom-Attributes: " + custom_attributes.encode("latin-1") + b"\r\n"
            )
        if target_host:
            parts.append(
                b"X-Amzn-SageMaker-Target-Container-Hostname: " + target_host.encode("latin-1") + b"\r\n"
            )
        if inference_id:
            parts.append(b"X-Amzn-SageMaker-Inference-Id: " + inference_id.encode("latin-1") + b"\r\n")
        parts.append(b"\r\n")
        parts.append(body)
        pool = instance.pool
        if pool is None:
            pool = instance.pool = InstancePool(instance.host, instance.port)
        instance.inflight += 1
        sent = time.perf_counter()
        try:
            response = await pool.request(b"".join(parts), self.timeout)
        except UpstreamTimeout:
            self._record(route, variant, instance, 500, sent, started)
            raise self.model_error(
                route,
                0,
                "Your invocation timed out while waiting for a response from "
                "container primary. Review the latency metrics for each container in "
                "Amazon CloudWatch, resolve the issue, and try again.",
            ) from None
        except UpstreamError as exc:
            self._record(route, variant, instance, 500, sent, started)
            raise self.model_error(
                route,
                0,
                f"The model server closed the connection before answering "
                f"({exc}); the worker process may have crashed.",
            ) from None
        finally:
            instance.inflight -= 1
            if serverless is not None:
                serverless.release()
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
        return variant, response, model_us

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


def payload_too_large(request: HttpRequest) -> HttpResponse:
    """What SageMaker answers for a body over 6 MB: HTTP 413 without an error code."""
    return HttpResponse(
        413,
        [("content-type", "application/json"), ("x-amzn-requestid", request.request_id)],
        b'{"message":"HTTP content length exceeded %d bytes."}' % MAX_PAYLOAD,
    )
