"""Smithy RPC v2 CBOR (``POST /service/<Service>/operation/<Op>``, ``smithy-protocol: rpc-v2-cbor``)
and its awsJson1_0 sibling (``X-Amz-Target: <Prefix>.<Op>``), as CloudWatch speaks them.

botocore 1.44's ``cloudwatch`` client uses CBOR; other clients use JSON 1.0. The request's headers pick
the variant. CBOR itself is read and written by botocore's own codec classes (``RpcV2CBORParser``,
``CBORSerializer``) used in the server direction; values are shaped by the operation's model first.

CloudWatch is ``awsQueryCompatible``: errors carry the modeled shape name in ``__type`` and the
legacy query code in ``x-amzn-query-error: <Code>;<Sender|Receiver>``, from which botocore picks the
code its exception classes match on (``ResourceNotFound``, ``InvalidParameterValue``, …).
"""

from __future__ import annotations

import datetime as dt
import zlib
from typing import Any

from botocore.model import OperationModel, Shape
from botocore.parsers import ResponseParserError, RpcV2CBORParser
from botocore.serialize import CBORSerializer

from .base import MAX_RPC_BODY, Protocol, json_bytes
from .errors import ServiceError
from .http import BodyTooLarge, HttpRequest, HttpResponse
from .json_rpc import JsonRpcProtocol

UTC = dt.timezone.utc
CBOR_CONTENT_TYPE = "application/cbor"


def _utc_timestamp(value: Any) -> dt.datetime:
    if isinstance(value, (int, float)):
        return dt.datetime.fromtimestamp(float(value), UTC)
    raise ResponseParserError(f"Unable to parse timestamp value: {value!r}")


class _CborReader(RpcV2CBORParser):
    """botocore's CBOR response parser, reading a request body as the operation's input shape."""

    def __init__(self) -> None:
        super().__init__(timestamp_parser=_utc_timestamp)

    def read(self, body: bytes, shape: Shape) -> Any:
        stream = self.get_peekable_stream_from_bytes(body)
        document = self.parse_data_item(stream)
        if stream.peek(1)[:1]:
            raise ResponseParserError("trailing bytes after the CBOR data item")
        if not isinstance(document, dict):
            raise ResponseParserError("the request body is not a CBOR map")
        return self._parse_shape(shape, document)


class _CborWriter(CBORSerializer):
    """botocore's CBOR encoder writing a response (values already shaped by :func:`shape_value`)."""

    TIMESTAMP_FORMAT = "unixtimestamp"

    def write(self, value: Any, shape: Shape) -> bytes:
        out = bytearray()
        self._serialize_data_item(out, value, shape)
        return bytes(out)


def shape_value(value: Any, shape: Shape) -> Any:
    """``value`` trimmed to ``shape``: unknown members and ``None`` dropped, numbers and timestamps
    coerced to the types the encoder writes for the shape."""
    kind = shape.type_name
    if kind == "structure":
        members = shape.members
        return {
            name: shape_value(item, members[name])
            for name, item in value.items()
            if item is not None and name in members
        }
    if kind == "list":
        return [shape_value(item, shape.member) for item in value if item is not None]
    if kind == "map":
        return {str(k): shape_value(v, shape.value) for k, v in value.items() if v is not None}
    if kind in ("integer", "long"):
        return int(value)
    if kind in ("float", "double"):
        return float(value)
    if kind == "boolean":
        return bool(value)
    if kind == "timestamp":
        if isinstance(value, dt.datetime):
            return value if value.tzinfo else value.replace(tzinfo=UTC)
        return dt.datetime.fromtimestamp(float(value), UTC)
    if kind == "blob":
        return value.encode() if isinstance(value, str) else bytes(value)
    return str(value)


def _gunzip(body: bytes) -> bytes:
    decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = decompressor.decompress(body, MAX_RPC_BODY + 1)
    except zlib.error:
        raise ServiceError(
            "SerializationException", "The gzip-encoded request body is corrupt.", 400
        ) from None
    if len(out) > MAX_RPC_BODY or decompressor.unconsumed_tail:
        raise ServiceError("SerializationException", "Request body too large", 413)
    return out


class CborProtocol(Protocol):
    """CloudWatch: smithy-rpc-v2-cbor, or awsJson1_0 when the request carries ``X-Amz-Target``."""

    name = "smithy-rpc-v2-cbor"

    def __init__(self, service: str):
        super().__init__(service)
        self.target_prefix = self.model.metadata.get("targetPrefix", "")
        self.json = JsonRpcProtocol(service)
        self._reader = _CborReader()
        self._writer = _CborWriter()
        # Query-compatible errors: (shape name, query code, HTTP status, sender fault), found by the
        # query code (a shape named like the code wins) or by the shape name.
        self.by_name: dict[str, tuple[str, str, int, bool]] = {}
        self.by_code: dict[str, tuple[str, str, int, bool]] = {}
        for shape in self.model.error_shapes:
            meta = shape.metadata.get("error") or {}
            code = meta.get("code", shape.name)
            entry = (
                shape.name,
                code,
                int(meta.get("httpStatusCode", 400)),
                bool(meta.get("senderFault", True)),
            )
            self.by_name[shape.name] = entry
            if code not in self.by_code or shape.name == code:
                self.by_code[code] = entry

    @staticmethod
    def is_json(request: HttpRequest) -> bool:
        return bool(request.headers.get("x-amz-target"))

    # -- requests ---------------------------------------------------------------------------

    def resolve(self, request: HttpRequest) -> OperationModel:
        if self.is_json(request):
            return self.json.resolve(request)
        parts = request.raw_path.strip("/").split("/")
        if (
            len(parts) != 4
            or parts[0] != "service"
            or parts[2] != "operation"
            or parts[1] != self.target_prefix
            or request.method != "POST"
        ):
            raise ServiceError(
                "UnknownOperationException",
                f"Unknown operation path {request.raw_path!r}; expected "
                f"POST /service/{self.target_prefix}/operation/<Operation>",
                404,
            )
        return self.operation_model(parts[3])

    async def parse(self, request: HttpRequest, op: OperationModel) -> dict[str, Any]:
        try:
            body = await request.read_body(MAX_RPC_BODY)
        except BodyTooLarge:
            raise ServiceError("SerializationException", "Request body too large", 413) from None
        if "gzip" in (request.headers.get("content-encoding") or "").lower():
            # PutMetricData is modeled with request compression: botocore gzips bodies ≥ 10 KiB.
            body = request.body = _gunzip(body)
        if self.is_json(request):
            return await self.json.parse(request, op)
        if op.input_shape is None or not body:
            return {}
        try:
            return self._reader.read(body, op.input_shape)
        except (ResponseParserError, ValueError, TypeError, UnicodeDecodeError, AttributeError) as exc:
            raise ServiceError("SerializationException", f"Malformed CBOR request body: {exc}", 400) from None

    # -- responses --------------------------------------------------------------------------

    def serialize(self, request: HttpRequest, op: OperationModel, result: Any) -> HttpResponse:
        if self.is_json(request):
            return self.json.serialize(request, op, result)
        headers = [("smithy-protocol", "rpc-v2-cbor"), ("x-amzn-requestid", request.request_id)]
        if op.output_shape is None:
            return HttpResponse(200, headers, b"")
        body = self._writer.write(shape_value(result or {}, op.output_shape), op.output_shape)
        headers.append(("content-type", CBOR_CONTENT_TYPE))
        return HttpResponse(200, headers, body)

    def error(self, request: HttpRequest, error: ServiceError, op: OperationModel | None) -> HttpResponse:
        entry = self.by_code.get(error.code) or self.by_name.get(error.code)
        if entry is None:
            entry = (error.code, error.code, error.status, error.sender_fault)
        shape_name, query_code, status, sender = entry
        if error.status >= 500 or error.status in (401, 403, 413):
            status = error.status
        document = {"__type": shape_name, "message": error.message}
        document.update(error.fields)
        headers = [
            ("x-amzn-requestid", request.request_id),
            ("x-amzn-query-error", f"{query_code};{'Sender' if sender else 'Receiver'}"),
        ]
        headers.extend(error.headers.items())
        if self.is_json(request):
            headers += [("content-type", self.json.content_type), ("x-amzn-errortype", shape_name)]
            return HttpResponse(status, headers, json_bytes(document))
        headers += [("smithy-protocol", "rpc-v2-cbor"), ("content-type", CBOR_CONTENT_TYPE)]
        out = bytearray()
        for key, value in document.items():  # a flat map of strings
            self._writer._serialize_type_string(out, str(key), None, None)
            self._writer._serialize_type_string(out, str(value), None, None)
        header = self._writer._get_initial_byte(5, len(document)) if len(document) < 24 else None
        if header is None:  # pragma: no cover - error documents are tiny
            raise ValueError("error document too large")
        return HttpResponse(status, headers, bytes(header) + bytes(out))
