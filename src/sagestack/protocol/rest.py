"""REST protocols (rest-json: sagemaker-runtime/featurestore/metrics; rest-xml: s3).

Operations are routed by the model's ``http.method`` + ``requestUri`` template; where several share a
template (S3: ``GET /{Bucket}`` is ListObjects, ``?list-type=2`` ListObjectsV2, ``?tagging`` …), the
operation whose required query/header members are all present and most numerous wins.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from botocore.model import OperationModel, Shape

from . import codec
from .base import MAX_RPC_BODY, Protocol, json_bytes
from .errors import ServiceError
from .http import BodyTooLarge, HttpRequest, HttpResponse

_LABEL = re.compile(r"\{([A-Za-z0-9_]+)(\+?)\}")


@dataclass(frozen=True)
class Route:
    operation: str
    method: str
    pattern: re.Pattern
    literal_query: tuple[tuple[str, str | None], ...]  # (key, value or None for "present")
    required_query: tuple[str, ...]
    required_headers: tuple[str, ...]
    x_id: str | None

    @property
    def query_keys(self) -> frozenset[str]:
        """The query keys a request must carry to match."""
        return frozenset(key for key, _ in self.literal_query) | frozenset(self.required_query)

    @property
    def weight(self) -> int:
        return len(self.literal_query) + len(self.required_query) + len(self.required_headers)


def _compile(op: OperationModel) -> Route:
    uri = op.http.get("requestUri", "/")
    path, _, query = uri.partition("?")
    regex = "^"
    pos = 0
    for match in _LABEL.finditer(path):
        regex += re.escape(path[pos : match.start()])
        name, greedy = match.group(1), match.group(2)
        regex += f"(?P<{name}>.+)" if greedy else f"(?P<{name}>[^/]+)"
        pos = match.end()
    tail = path[pos:]
    regex += re.escape(tail)
    if tail == "/" and regex.endswith("/"):
        pass
    regex += "/?$" if not regex.endswith("/") else "$"
    literal = []
    x_id = None
    for part in filter(None, query.split("&")):
        key, eq, value = part.partition("=")
        if key == "x-id":
            x_id = value
            continue
        literal.append((key, value if eq else None))
    required_query, required_headers = [], []
    shape = op.input_shape
    if shape is not None:
        for name in shape.required_members:
            member = shape.members[name]
            location = member.serialization.get("location")
            wire = member.serialization.get("name", name)
            if location == "querystring":
                required_query.append(wire)
            elif location == "header":
                required_headers.append(wire.lower())
    return Route(
        op.name,
        op.http.get("method", "POST"),
        re.compile(regex),
        tuple(literal),
        tuple(required_query),
        tuple(required_headers),
        x_id,
    )


@dataclass(frozen=True)
class _InputPlan:
    """An input shape's members by location: ``(name, location, wire name, member, extra)`` in model
    order (a header's wire name lower-cased; ``extra``: for a query-string map, the query keys other
    members take); the body members and the payload member."""

    members: tuple[tuple[str, str, str, Shape, frozenset[str]], ...]
    body_members: dict[str, Shape]
    payload_name: str | None
    reads_query: bool

    @classmethod
    def of(cls, shape: Shape) -> _InputPlan:
        payload_name = shape.serialization.get("payload")
        query_keys = frozenset(
            m.serialization.get("name", n)
            for n, m in shape.members.items()
            if m.serialization.get("location") == "querystring"
        )
        members = []
        body: dict[str, Shape] = {}
        for name, member in shape.members.items():
            location = member.serialization.get("location")
            wire = member.serialization.get("name", name)
            if location == "statusCode":
                continue
            if location is None:
                if name != payload_name:
                    body[name] = member
                continue
            extra: frozenset[str] = frozenset()
            if location == "querystring" and member.type_name == "map":
                extra = query_keys - {wire}
            if location == "headers" or (location == "header" and member.type_name == "map"):
                location = "header-map"
            elif location == "header":
                wire = wire.lower()
            members.append((name, location, wire, member, extra))
        reads_query = any(m[1] == "querystring" for m in members)
        return cls(tuple(members), body, payload_name, reads_query)


class RestProtocol(Protocol):
    """Routing and the non-body parts shared by rest-json and rest-xml."""

    body_timestamp_format = "iso8601"

    def __init__(self, service: str):
        super().__init__(service)
        self._plans: dict[str, _InputPlan] = {}
        routes = [_compile(self.model.operation_model(name)) for name in self.model.operation_names]
        self.routes: dict[str, list[Route]] = {}
        for route in sorted(routes, key=lambda r: -r.weight):
            self.routes.setdefault(route.method, []).append(route)
        # (method, the request's query keys) → the routes whose query keys they include, in order
        self._candidates: dict[tuple[str, frozenset[str]], list[Route]] = {}

    def _routes_for(self, method: str, query: dict) -> list[Route]:
        """The routes of ``method`` a request with these query keys can match (worked out once per
        combination of keys seen: most requests carry none or one)."""
        keys = frozenset(query)
        found = self._candidates.get((method, keys))
        if found is None:
            if len(self._candidates) >= 1024:  # keys come from clients: keep the memory bounded
                self._candidates.clear()
            found = [r for r in self.routes.get(method, ()) if r.query_keys <= keys]
            self._candidates[(method, keys)] = found
        return found

    def resolve(self, request: HttpRequest) -> OperationModel:
        path = request.route_path.split("?", 1)[0] or "/"
        query = request.query()
        x_id = query.get("x-id")
        best: Route | None = None
        labels: dict[str, str] = {}
        for route in self._routes_for(request.method, query):
            if x_id is not None and route.x_id is not None and route.x_id != x_id:
                continue
            # the query and header conditions first (most routes of a method differ by a query
            # literal such as ?tagging): cheaper than the path pattern, and skipped when there are none
            if route.literal_query and any(
                key not in query or (value is not None and query[key] != value)
                for key, value in route.literal_query
            ):
                continue
            if route.required_query and any(key not in query for key in route.required_query):
                continue
            if route.required_headers and any(key not in request.headers for key in route.required_headers):
                continue
            match = route.pattern.match(path)
            if match is None:
                continue
            best, labels = route, match.groupdict()
            break
        if best is None:
            raise self.no_route(request)
        request._labels = labels  # type: ignore[attr-defined]
        return self.operation_model(best.operation)

    def no_route(self, request: HttpRequest) -> ServiceError:
        return ServiceError(
            "UnknownOperationException",
            f"No operation of {self.service} matches {request.method} {request.path}",
            404,
        )

    def _input_plan(self, op: OperationModel) -> _InputPlan | None:
        """Where each input member of ``op`` comes from, worked out once per operation (the model's
        per-member lookups cost more than the parse itself on a small request)."""
        plan = self._plans.get(op.name)
        if plan is None and op.input_shape is not None:
            plan = self._plans[op.name] = _InputPlan.of(op.input_shape)
        return plan

    async def parse(self, request: HttpRequest, op: OperationModel) -> dict[str, Any]:
        plan = self._input_plan(op)
        if plan is None:
            return {}
        shape = op.input_shape
        params: dict[str, Any] = {}
        labels: dict[str, str] = getattr(request, "_labels", {})
        query = request.query_items() if plan.reads_query else []
        query_map = dict(query)
        headers = request.headers
        lowered = headers.lowered
        for name, location, wire, member, extra in plan.members:
            if location == "uri":
                if wire in labels:
                    params[name] = codec.parse_scalar(unquote(labels[wire]), member)
            elif location == "querystring":
                if member.type_name == "map":
                    rest = {k: v for k, v in query if k not in extra}
                    if rest:
                        params[name] = rest
                elif member.type_name == "list":
                    values = [v for k, v in query if k == wire]
                    if values:
                        params[name] = [codec.parse_scalar(v, member.member) for v in values]
                elif wire in query_map:
                    params[name] = codec.parse_scalar(query_map[wire], member)
            elif location == "header":
                value = lowered.get(wire)  # the plan holds header names lower-cased
                if value is not None:
                    params[name] = codec.parse_scalar(value, member)
            else:  # a header map ("header" of map type, or "headers")
                found = headers.with_prefix(wire)
                if found:
                    params[name] = found
        payload_name = plan.payload_name
        body_members = plan.body_members
        if payload_name:
            member = shape.members[payload_name]
            if member.type_name in ("blob", "string") and (
                member.serialization.get("streaming")
                or member.type_name == "blob"
                and getattr(member, "metadata", {}).get("streaming")
            ):
                params[payload_name] = request  # the handler streams the body itself
            elif member.type_name in ("blob", "string"):
                body = await self._body(request)
                params[payload_name] = body if member.type_name == "blob" else body.decode("utf-8")
            else:
                body = await self._body(request)
                if body.strip():
                    params[payload_name] = self.read_document(body, member, payload=True)
        elif body_members:
            body = await self._body(request)
            if body.strip():
                document = self.read_document(body, shape, payload=False)
                for name in body_members:
                    if name in document:
                        params[name] = document[name]
        return params

    async def _body(self, request: HttpRequest) -> bytes:
        try:
            return await request.read_body(MAX_RPC_BODY)
        except BodyTooLarge:
            raise ServiceError("RequestEntityTooLarge", "Request body too large", 413) from None

    def read_document(self, body: bytes, shape: Shape, payload: bool) -> Any:
        raise NotImplementedError

    def serialize(self, request: HttpRequest, op: OperationModel, result: Any) -> HttpResponse:
        result = result or {}
        status = int(op.http.get("responseCode", 200))
        headers: list[tuple[str, str]] = self.base_headers(request)
        shape = op.output_shape
        body: Any = b""
        if shape is None:
            return HttpResponse(status, headers, body)
        payload_name = shape.serialization.get("payload")
        body_values = {}
        for name, value in result.items():
            member = shape.members.get(name)
            if member is None or value is None:
                continue
            location = member.serialization.get("location")
            wire = member.serialization.get("name", name)
            if location == "header":
                headers.append((wire, codec.header_value(value, member)))
            elif location == "headers":
                headers.extend((f"{wire}{k}", str(v)) for k, v in value.items())
            elif location == "statusCode":
                status = int(value)
            elif name == payload_name:
                if member.type_name in ("blob", "string"):
                    body = value.encode() if isinstance(value, str) else value
                else:
                    body = self.write_document(value, member, op, payload=True)
                    headers.append(("content-type", self.document_content_type))
            else:
                body_values[name] = value
        if not payload_name and self.has_body_members(shape):
            body = self.write_document(body_values, shape, op, payload=False)
            headers.append(("content-type", self.document_content_type))
        return HttpResponse(status, headers, body)

    @staticmethod
    def has_body_members(shape: Shape) -> bool:
        return any(m.serialization.get("location") is None for m in shape.members.values())

    def base_headers(self, request: HttpRequest) -> list[tuple[str, str]]:
        return [("x-amzn-requestid", request.request_id)]

    document_content_type = "application/json"

    def write_document(self, value: Any, shape: Shape, op: OperationModel, payload: bool) -> bytes:
        raise NotImplementedError


class RestJsonProtocol(RestProtocol):
    name = "rest-json"
    document_content_type = "application/json"

    def read_document(self, body: bytes, shape: Shape, payload: bool) -> Any:
        try:
            document = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise ServiceError(
                "SerializationException", "Could not parse the request body as JSON", 400
            ) from None
        return codec.from_json(document, shape)

    def write_document(self, value: Any, shape: Shape, op: OperationModel, payload: bool) -> bytes:
        return json_bytes(codec.to_json(value, shape))

    def error(self, request: HttpRequest, error: ServiceError, op: OperationModel | None) -> HttpResponse:
        document: dict[str, Any] = {"message": error.message}
        document.update(error.fields)
        headers = [
            ("content-type", "application/json"),
            ("x-amzn-requestid", request.request_id),
            ("x-amzn-errortype", error.code),
        ]
        headers.extend(error.headers.items())
        return HttpResponse(error.status, headers, json_bytes(document))


class RestXmlProtocol(RestProtocol):
    name = "rest-xml"
    document_content_type = "application/xml"

    #: Root element names S3 uses for output structures that have no payload member.
    ROOT_NAMES = {
        "ListBuckets": "ListAllMyBucketsResult",
        "ListObjects": "ListBucketResult",
        "ListObjectsV2": "ListBucketResult",
        "CreateMultipartUpload": "InitiateMultipartUploadResult",
        "CompleteMultipartUpload": "CompleteMultipartUploadResult",
        "ListParts": "ListPartsResult",
        "ListMultipartUploads": "ListMultipartUploadsResult",
        "DeleteObjects": "DeleteResult",
        "GetBucketLocation": "LocationConstraint",
        "GetObjectTagging": "Tagging",
        "GetBucketTagging": "Tagging",
        "ListObjectVersions": "ListVersionsResult",
        "GetBucketVersioning": "VersioningConfiguration",
        "GetBucketAcl": "AccessControlPolicy",
        "GetObjectAcl": "AccessControlPolicy",
    }
    XMLNS = "http://s3.amazonaws.com/doc/2006-03-01/"

    def read_document(self, body: bytes, shape: Shape, payload: bool) -> Any:
        return codec.from_xml(body, shape)

    def write_document(self, value: Any, shape: Shape, op: OperationModel, payload: bool) -> bytes:
        if op.name == "GetBucketLocation":
            location = value.get("LocationConstraint")
            text = (
                f'<LocationConstraint xmlns="{self.XMLNS}">{codec._escape(location)}</LocationConstraint>'
                if location
                else f'<LocationConstraint xmlns="{self.XMLNS}"/>'
            )
        else:
            name = shape.serialization.get("name") if payload else None
            name = name or self.ROOT_NAMES.get(op.name) or f"{op.name}Result"
            attrs = None if "xmlNamespace" in shape.serialization else {"xmlns": self.XMLNS}
            text = codec.to_xml(name, value, shape, attrs=attrs)
        return ('<?xml version="1.0" encoding="UTF-8"?>\n' + text).encode()

    def base_headers(self, request: HttpRequest) -> list[tuple[str, str]]:
        return [
            ("x-amz-request-id", request.request_id[:16].upper().replace("-", "")),
            ("x-amz-id-2", request.request_id),
        ]

    def error(self, request: HttpRequest, error: ServiceError, op: OperationModel | None) -> HttpResponse:
        headers = self.base_headers(request)
        headers.extend(error.headers.items())
        if request.method == "HEAD":
            return HttpResponse(error.status, headers, b"")
        text = (
            "<Error>"
            + codec.element("Code", error.code)
            + codec.element("Message", error.message)
            + "".join(codec.element(key, str(value)) for key, value in error.fields.items())
            + codec.element("RequestId", headers[0][1])
            + codec.element("HostId", request.request_id)
            + "</Error>"
        )
        headers.append(("content-type", "application/xml"))
        return HttpResponse(
            error.status, headers, ('<?xml version="1.0" encoding="UTF-8"?>\n' + text).encode()
        )

    def no_route(self, request: HttpRequest) -> ServiceError:
        return ServiceError(
            "MethodNotAllowed", "The specified method is not allowed against this resource.", 405
        )
