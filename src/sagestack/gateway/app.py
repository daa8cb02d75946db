"""The ASGI edge: SigV4 auth → service routing → protocol parse/validate → handler → serialize.

One port serves every service. The service is chosen by ``X-Amz-Target`` (JSON services), the
``smithy-protocol`` header (CloudWatch CBOR), the SigV4 credential scope (S3, STS, IAM, EC2) and the path
(the sagemaker-signed REST APIs). ``POST /endpoints/{name}/invocations`` is the invocation fast path (read by the
HTTP protocol itself, without ASGI, when it can be: gateway/http_protocol.py, which calls ``serve``),
handed to the serving router without touching the database.

Every call is logged once, after its answer is sent, on the ``sagestack.requests`` logger at INFO
(``/_sagestack/`` routes at DEBUG): service, operation, HTTP status, duration, AWS error code and request id.
The line is formatted only when the level lets it through; uvicorn's access log is off.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from .. import __version__
from ..console import PREFIX as CONSOLE_PREFIX
from ..console import Console
from ..protocol.base import Protocol
from ..protocol.ec2 import Ec2Protocol
from ..protocol.errors import ServiceError, internal, not_implemented
from ..protocol.http import BodyTooLarge, ClientDisconnected, FileBody, Headers, HttpRequest, HttpResponse
from ..protocol.json_rpc import JsonRpcProtocol
from ..protocol.query import QueryProtocol
from ..protocol.rest import RestJsonProtocol, RestXmlProtocol
from ..protocol.signing import sha256_hex
from ..protocol.sqs_query import SqsQueryProtocol
from ..protocol.validate import validate
from ..services.context import RequestContext
from ..services.registry import BoundHandler, load_tables
from ..status import STATUS_PATH, server_status
from . import sigv2, sigv4
from .auth_errors import AuthError, content_sha256_mismatch

log = logging.getLogger("sagestack.gateway")
REQUEST_LOG_NAME = "sagestack.requests"
request_log = logging.getLogger(REQUEST_LOG_NAME)
REQUEST_LINE = "%s:%s status=%d duration_ms=%.1f error=%s request_id=%s"

TARGET_PREFIXES = {
    "SageMaker": "sagemaker",
    "Logs_20140328": "logs",
    "AnyScaleFrontendService": "application-autoscaling",
    "GraniteServiceVersion20100801": "cloudwatch",
    "TrentService": "kms",
    "AmazonSQS": "sqs",
    "AmazonEC2ContainerRegistry_V20150921": "ecr",
}
LAMBDA_CODE_PREFIX = "/_sagestack/lambda-code/"
SIGNING_NAMES = {"monitoring": "cloudwatch"}
SAGEMAKER_REST_PREFIXES = (
    ("/endpoints/", "sagemaker-runtime"),
    ("/FeatureGroup/", "sagemaker-featurestore-runtime"),
    ("/BatchGetRecord", "sagemaker-featurestore-runtime"),
    ("/BatchWriteRecord", "sagemaker-featurestore-runtime"),
    ("/BatchPutMetrics", "sagemaker-metrics"),
    ("/BatchGetMetrics", "sagemaker-metrics"),
)
PROTOCOL_CLASSES = {
    "json": JsonRpcProtocol,
    "query": QueryProtocol,
    "rest-json": RestJsonProtocol,
    "rest-xml": RestXmlProtocol,
    "ec2": Ec2Protocol,
}

Send = Callable[[dict], Awaitable[None]]
Respond = Callable[[HttpResponse, bool], Awaitable[None]]


class CallRecord:
    """What the request log says about one call; filled in by ``dispatch`` as it learns it."""

    __slots__ = ("service", "operation", "error")

    def __init__(self) -> None:
        self.service: str | None = None
        self.operation: str | None = None
        self.error: str | None = None


def _error_code(response: HttpResponse) -> str | None:
    for name, value in response.headers:
        if name.lower() == "x-amzn-errortype":
            return str(value).split(":", 1)[0]
    return None


def _hashes_body(request: HttpRequest, service: str) -> bool:
    """Whether the signature covers the body's SHA-256 computed here (every service but S3, unless the
    client declared the hash or presigned the URL)."""
    return (
        service != "s3"
        and "x-amz-content-sha256" not in request.headers
        and "X-Amz-Signature" not in request.query_string
    )


def log_call(
    request: HttpRequest, call: CallRecord, status: int, response: HttpResponse | None, started: float
) -> None:
    """The request log's line for one call (``info``; the server's own ``/_sagestack`` calls at ``debug``)."""
    level = logging.DEBUG if call.service == "sagestack" else logging.INFO
    if not request_log.isEnabledFor(level):
        return
    if status >= 400 and call.error is None and response is not None:
        call.error = _error_code(response)
    # the record made directly: the logger's caller lookup (a stack walk) names this line anyway
    record = request_log.makeRecord(
        REQUEST_LOG_NAME,
        level,
        __file__,
        0,
        REQUEST_LINE,
        (
            call.service or "-",
            call.operation or "-",
            status,
            (time.perf_counter() - started) * 1000.0,
            call.error or "-",
            request.request_id,
        ),
        None,
    )
    request_log.handle(record)


def _declares_body(headers: Headers) -> bool:
    length = headers.get("content-length")
    return bool(headers.get("transfer-encoding")) or (length is not None and length.strip() not in ("", "0"))


def make_protocol(service: str) -> Protocol:
    from ..protocol import models

    model = models.service_model(service)
    if service == "cloudwatch":
        from ..protocol.cbor import CborProtocol  # smithy-rpc-v2-cbor

        return CborProtocol(service)
    return PROTOCOL_CLASSES[model.protocol](service)


class Gateway:
    """The ASGI application."""

    def __init__(self, platform):
        self.platform = platform
        self.tables: dict[str, dict[str, BoundHandler]] = load_tables()
        self.protocols: dict[str, Protocol] = {}
        for service in list(self.tables) + ["sagemaker-featurestore-runtime", "sagemaker-metrics"]:
            try:
                self.protocols[service] = make_protocol(service)
            except ModuleNotFoundError:
                continue
        self.services = sorted(s for s, t in self.tables.items() if t)
        self.sqs_query = SqsQueryProtocol("sqs")
        # The serving router registers itself here (invocation fast path): ``handle`` (a coroutine) and
        # ``start`` (callbacks, see ``invoke_now``).
        self.invocation_handler: Callable[..., Awaitable[HttpResponse]] | None = None
        self.invocation_starter: Callable[..., bool] | None = None
        # access key id → (the platform's credentials row, the Credentials made from it)
        self.known_credentials: dict[str, tuple[dict, sigv4.Credentials]] = {}
        self.started_at: float | None = None
        self.console: Console | None = None  # the web console, built on its first request
        self.startup_hooks: list[Callable[[], Any]] = []
        self.shutdown_hooks: list[Callable[[], Any]] = []

    # -- ASGI ------------------------------------------------------------------------------

    async def __call__(self, scope: dict, receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self.handle_http(scope, receive, send)
        elif kind == "lifespan":
            await self.lifespan(receive, send)

    async def lifespan(self, receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    for hook in self.startup_hooks:
                        result = hook()
                        if asyncio.iscoroutine(result):
                            await result
                except Exception as exc:  # pragma: no cover - startup failures are fatal
                    log.exception("startup failed")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                self.started_at = time.time()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                for hook in self.shutdown_hooks:
                    try:
                        result = hook()
                        if asyncio.iscoroutine(result):
                            await result
                    except Exception:
                        log.exception("shutdown hook failed")
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def handle_http(self, scope: dict, receive, send: Send) -> None:
        raw_path = scope.get("raw_path")
        raw_path = raw_path.decode("latin-1") if raw_path else scope["path"]
        request = HttpRequest(
            method=scope["method"],
            raw_path=raw_path.split("?", 1)[0],
            query_string=scope.get("query_string", b"").decode("latin-1"),
            headers=Headers(scope["headers"]),
            receive=receive,
            client=scope.get("client"),
        )
        await self.serve(request, partial(self.send_response, send))

    async def serve(self, request: HttpRequest, respond: Respond) -> None:
        """Answer one request and log it: what every HTTP request goes through, whether it came through
        ASGI (``handle_http``) or straight from the HTTP protocol (gateway/http_protocol.py's InvokeEndpoint
        path, which hands a request whose body is already read). ``respond(response, head)`` writes the
        answer."""
        started = time.perf_counter()
        call = CallRecord()
        status = 499  # the client went away before the answer was ready (nginx's word for it)
        response: HttpResponse | None = None
        try:
            response = await self.dispatch(request, call)
            status = response.status
            if request.receive is not None and request.body is None and _declares_body(request.headers):
                # answered without reading the body (an early error): the unread bytes would be parsed as
                # the next request on this connection, so close it instead
                response.headers.append(("connection", "close"))
            await respond(response, request.method == "HEAD")
        except ClientDisconnected:
            call.error = call.error or "ClientDisconnected"
        except asyncio.CancelledError:
            call.error = call.error or "Cancelled"
            raise
        except Exception:
            status, call.error = 500, call.error or "InternalFailure"
            raise
        finally:
            log_call(request, call, status, response, started)

    def invoke_now(self, request: HttpRequest, respond: Callable[[HttpResponse | None], bool]) -> bool:
        """InvokeEndpoint answered from callbacks, no task (gateway/http_protocol.py calls it with a
        request whose body is read): what ``serve`` and ``dispatch`` do for a SigV4-signed call of
        SageMaker Runtime — the same service choice, signature check, router, errors and request log —
        when the router can send it at once (``Router.start``). ``respond(response)`` is called once with
        the answer (it says whether the client was still there to get it), or with None when the request
        must take ``serve`` after all (a kept-alive connection to the worker turned out closed). False, having done nothing, when the request needs ``serve``:
        unsigned, signed for another service, a signature that does not verify (``serve`` words the
        error), or a call the router does not start."""
        starter = self.invocation_starter
        if starter is None:
            return False
        started = time.perf_counter()
        headers = request.headers
        scope_service, _ = sigv4.credential_scope_service(headers.raw, "", headers.multi)
        if scope_service != "sagemaker" or self.pick_service(request, "sagemaker") != "sagemaker-runtime":
            return False
        try:
            auth = self.verify_signature(request, "sagemaker-runtime")
        except AuthError:
            return False
        call = CallRecord()
        call.service, call.operation = "sagemaker-runtime", "InvokeEndpoint"

        def answer(response: HttpResponse | None, error: ServiceError | None) -> None:
            if error is not None:
                call.error = error.code
                response = self.protocols["sagemaker-runtime"].error(request, error, None)
            elif response is None:
                respond(None)
                return
            delivered = False
            try:
                delivered = respond(response)
            finally:  # 499: the client went away before the answer was ready, as ``serve`` logs it
                log_call(request, call, response.status if delivered else 499, response, started)

        return starter(request, auth, answer)

    # -- dispatch --------------------------------------------------------------------------

    async def dispatch(self, request: HttpRequest, call: CallRecord | None = None) -> HttpResponse:
        call = call or CallRecord()
        if request.raw_path.startswith("/_sagestack/"):
            call.service, call.operation = "sagestack", request.raw_path
            return await self.internal_route(request, call)
        scope_service, scope_region = sigv4.credential_scope_service(
            request.headers.raw, request.query_string, request.headers.multi
        )
        if scope_service is None and sigv2.is_sigv2(request.headers.raw, request.query_string):
            scope_service = "s3"  # S3's legacy signature (boto3's default for presigned URLs)
        signing = SIGNING_NAMES.get(scope_service or "", scope_service)
        service = self.pick_service(request, signing)
        protocol = self.protocols.get(service) if service else None
        if service == "sqs" and not request.headers.get("x-amz-target"):
            protocol = self.sqs_query  # SQS's query protocol (clients made before SQS spoke JSON)
        if protocol is None:
            protocol = self.protocols.get(self.fallback_service(request))
        call.service = service
        op = handler = None
        try:
            if service is None:
                if scope_service is None and isinstance(protocol, RestXmlProtocol):
                    raise ServiceError("AccessDenied", "Access Denied", 403)  # S3's word for unsigned
                if scope_service is None:
                    raise ServiceError("MissingAuthenticationToken", "Missing Authentication Token", 403)
                raise ServiceError("UnknownService", f"Service {scope_service} is not served here", 400)
            if (
                service == "sagemaker-runtime"
                and self.invocation_handler is not None
                and request.method == "POST"
                and request.raw_path.endswith("/invocations")
            ):
                call.operation = "InvokeEndpoint"
                auth = await self.authenticate(request, service, protocol)
                return await self.invocation_handler(request, auth, protocol)
            if service == "s3":
                self.apply_virtual_host(request)
            if isinstance(protocol, QueryProtocol):
                op = await protocol.resolve_async(request)
            else:
                op = protocol.resolve(request)
            call.operation = op.name
            auth = await self.authenticate(request, service, protocol)
            params = await protocol.parse(request, op)
            if service == "s3" and auth.declared_payload_sha256 and request.body is not None:
                computed = sha256_hex(request.body)
                if computed != auth.declared_payload_sha256:
                    raise content_sha256_mismatch("s3", auth.declared_payload_sha256, computed)
            # SQS words unknown attribute names itself (and takes the legacy receive attribute names)
            validate(
                params,
                op.input_shape,
                check_patterns=service != "s3",
                check_enums=service not in ("s3", "sqs"),
            )
            handler = self.tables.get(service, {}).get(op.name)
            if handler is None:
                log.warning(
                    "%s:%s is not implemented (docs/coverage.md lists the operations that are)",
                    service,
                    op.name,
                )
                raise not_implemented(service, op.name)
            ctx = RequestContext(
                platform=self.platform,
                request=request,
                service=service,
                operation=op.name,
                account_id=auth.credentials.account_id,
                region=auth.region or self.platform.settings.region,
                principal_arn=auth.credentials.principal_arn,
                access_key_id=auth.credentials.access_key_id,
                auth=auth,
            )
            if handler.is_async:
                result = await handler.func(ctx, params)
            else:
                result = await asyncio.to_thread(handler.func, ctx, params)
            if isinstance(result, HttpResponse):
                return result
            return protocol.serialize(request, op, result)
        except AuthError as exc:
            call.error = exc.code
            error = ServiceError(exc.code, exc.message, exc.status, fields=exc.s3_extra)
            return protocol.error(request, error, op)
        except ServiceError as exc:
            call.error = exc.code
            return protocol.error(request, exc, op)
        except BodyTooLarge as exc:
            call.error = "RequestEntityTooLarge"
            return protocol.error(request, ServiceError("RequestEntityTooLarge", str(exc), 413), op)
        except ClientDisconnected:
            raise
        except Exception as exc:
            mapped = handler.errors(exc) if handler is not None and handler.errors is not None else None
            if mapped is None:
                log.exception("%s %s failed", service, getattr(op, "name", "?"))
                mapped = internal()
            call.error = mapped.code
            return protocol.error(request, mapped, op)

    def pick_service(self, request: HttpRequest, scope_service: str | None) -> str | None:
        target = request.headers.get("x-amz-target")
        if target:
            return TARGET_PREFIXES.get(target.split(".", 1)[0])
        if request.headers.get("smithy-protocol"):
            return "cloudwatch"
        if scope_service == "sagemaker":
            path = request.raw_path
            for prefix, service in SAGEMAKER_REST_PREFIXES:
                if path.startswith(prefix):
                    return service
            return "sagemaker"
        if scope_service in self.protocols:
            return scope_service
        return None

    def apply_virtual_host(self, request: HttpRequest) -> None:
        """Virtual-hosted-style S3 (``bucket.localhost:port/key``): route as path style."""
        host = (request.headers.get("host") or "").rsplit(":", 1)[0].lower()
        for suffix in (
            ".s3.localhost",
            ".localhost",
            ".s3.amazonaws.com",
            f".s3.{self.platform.settings.region}.amazonaws.com",
        ):
            if host.endswith(suffix) and len(host) > len(suffix):
                bucket = host[: -len(suffix)]
                request.path_override = "/" + bucket + (request.raw_path if request.raw_path != "/" else "")
                return

    def fallback_service(self, request: HttpRequest) -> str:
        """Which protocol words an error for a request we cannot attribute to a service."""
        if request.headers.get("x-amz-target"):
            return "sagemaker"
        content_type = request.headers.get("content-type") or ""
        if "x-www-form-urlencoded" in content_type:
            return "sts"
        return "s3"

    async def authenticate(self, request: HttpRequest, service: str, protocol: Protocol) -> sigv4.AuthResult:
        if request.body is None and _hashes_body(request, service):
            await request.read_body(64 * 1024 * 1024)
        return self.verify_signature(request, service)

    def verify_signature(self, request: HttpRequest, service: str) -> sigv4.AuthResult:
        """``authenticate`` once the body is read where the signature covers it."""
        body_sha = sha256_hex(request.body) if _hashes_body(request, service) else None
        if service == "s3" and sigv2.is_sigv2(request.headers.raw, request.query_string):
            return sigv2.verify(
                request.method,
                request.raw_path,
                request.query_string,
                request.headers.raw,
                self.lookup,
                self.platform.settings.region,
            )
        return sigv4.verify(
            request.method,
            request.raw_path,
            request.query_string,
            request.headers.raw,
            self.lookup,
            now=time.time(),
            body_sha256=body_sha,
            hmap=request.headers.multi,
        )

    def lookup(self, access_key_id: str) -> sigv4.Credentials | None:
        row = self.platform.lookup_credentials(access_key_id)
        if row is None:
            return None
        known = self.known_credentials.get(access_key_id)
        if known is not None and known[0] is row:  # the platform's cached row: made into Credentials once
            return known[1]
        if len(self.known_credentials) > 10000:
            self.known_credentials.clear()
        credentials = sigv4.Credentials(
            access_key_id=row["access_key_id"],
            secret_access_key=row["secret_access_key"],
            account_id=row["account_id"],
            principal_arn=row["principal_arn"],
            session_token=row.get("session_token"),
            expires_at=row.get("expires_at"),
        )
        self.known_credentials[access_key_id] = (row, credentials)
        return credentials

    async def internal_route(self, request: HttpRequest, call: CallRecord) -> HttpResponse:
        if request.raw_path == CONSOLE_PREFIX or request.raw_path.startswith(CONSOLE_PREFIX + "/"):
            if self.console is None:
                self.console = Console(self.platform)
            return await self.console.handle(request)
        if request.raw_path == STATUS_PATH and request.method == "GET":
            # names resources and processes: signed with a key of the server, like every API call
            try:
                await self.authenticate(request, "sagestack", None)  # type: ignore[arg-type]
            except AuthError as exc:
                call.error = exc.code
                return HttpResponse(
                    exc.status,
                    [("content-type", "application/json")],
                    json.dumps({"__type": exc.code, "message": exc.message}).encode(),
                )
            document = await asyncio.to_thread(server_status, self.platform, self.started_at)
            return HttpResponse(200, [("content-type", "application/json")], json.dumps(document).encode())
        if request.raw_path.startswith(LAMBDA_CODE_PREFIX) and request.method == "GET":
            # GetFunction's Code.Location: unsigned, like Lambda's presigned URL (the token is the secret)
            from ..services.awslambda import code_path

            path = await asyncio.to_thread(code_path, self.platform, request.raw_path)
            if path is not None:
                size = str(path.stat().st_size)
                headers = [("content-type", "application/zip"), ("content-length", size)]
                return HttpResponse(200, headers, FileBody(str(path), 0, None))
            return HttpResponse(404, [("content-type", "application/json")], b'{"message":"not found"}')
        if request.raw_path == "/_sagestack/health":
            body = json.dumps(
                {
                    "status": "running",
                    "version": __version__,
                    "services": {name: "available" for name in self.services},
                    "region": self.platform.settings.region,
                    "account_id": self.platform.settings.account_id,
                    "console": CONSOLE_PREFIX + "/",
                }
            ).encode()
            return HttpResponse(200, [("content-type", "application/json")], body)
        return HttpResponse(404, [("content-type", "application/json")], b'{"message":"not found"}')

    # -- response writing ------------------------------------------------------------------

    async def send_response(self, send: Send, response: HttpResponse, head: bool = False) -> None:
        headers = [(k.encode("latin-1"), str(v).encode("latin-1")) for k, v in response.headers]
        body = response.body
        if isinstance(body, (bytes, bytearray, memoryview)):
            if not any(k.lower() == b"content-length" for k, _ in headers):
                headers.append((b"content-length", b"%d" % len(body)))
            await send({"type": "http.response.start", "status": response.status, "headers": headers})
            await send({"type": "http.response.body", "body": b"" if head else bytes(body)})
            return
        if isinstance(body, FileBody):
            await send({"type": "http.response.start", "status": response.status, "headers": headers})
            if head:
                await send({"type": "http.response.body", "body": b""})
                return
            await self._send_file(send, body)
            return
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        if head:
            await send({"type": "http.response.body", "body": b""})
            return
        async for chunk in body:
            if chunk:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    async def _send_file(self, send: Send, body: FileBody) -> None:
        def read_chunk(handle, size):
            return handle.read(size)

        with open(body.path, "rb") as handle:
            handle.seek(body.start)
            remaining = body.length
            while remaining is None or remaining > 0:
                size = body.chunk_size if remaining is None else min(body.chunk_size, remaining)
                chunk = await asyncio.to_thread(read_chunk, handle, size)
                if not chunk:
                    break
                if remaining is not None:
                    remaining -= len(chunk)
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
