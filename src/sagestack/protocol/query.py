"""AWS query protocol (form-encoded ``Action=...``, XML responses): sts, iam."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from botocore.model import OperationModel, Shape

from . import codec
from .base import MAX_RPC_BODY, Protocol
from .errors import ServiceError
from .http import BodyTooLarge, HttpRequest, HttpResponse


class QueryProtocol(Protocol):
    name = "query"

    def __init__(self, service: str):
        super().__init__(service)
        self.namespace = self.model.metadata.get("xmlNamespace") or (
            f"https://{self.model.endpoint_prefix}.amazonaws.com/doc/{self.model.api_version}/"
        )

    async def _form(self, request: HttpRequest) -> dict[str, str]:
        cached = getattr(request, "_form", None)
        if cached is not None:
            return cached
        try:
            body = await request.read_body(MAX_RPC_BODY)
        except BodyTooLarge:
            raise ServiceError("RequestEntityTooLarge", "Request body too large", 413) from None
        form = dict(parse_qsl(request.query_string, keep_blank_values=True))
        form.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        request._form = form  # type: ignore[attr-defined]
        return form

    async def resolve_async(self, request: HttpRequest) -> OperationModel:
        form = await self._form(request)
        action = form.get("Action")
        if not action:
            raise ServiceError("MissingAction", "Missing Action", 400)
        if action not in self.model.operation_names:
            raise ServiceError(
                "InvalidAction",
                f"Could not find operation {action} for version "
                f"{form.get('Version', self.model.api_version)}",
                400,
            )
        return self.operation_model(action)

    async def parse(self, request: HttpRequest, op: OperationModel) -> dict[str, Any]:
        form = await self._form(request)
        if op.input_shape is None:
            return {}
        return _read_structure(form, "", op.input_shape)

    def serialize(self, request: HttpRequest, op: OperationModel, result: Any) -> HttpResponse:
        parts = [f'<{op.name}Response xmlns="{self.namespace}">']
        if op.output_shape is not None:
            wrapper = op._operation_model.get("output", {}).get("resultWrapper")
            parts.append(codec.to_xml(wrapper or f"{op.name}Result", result or {}, op.output_shape))
        parts.append(f"<ResponseMetadata>{codec.element('RequestId', request.request_id)}</ResponseMetadata>")
        parts.append(f"</{op.name}Response>")
        return HttpResponse(
            200,
            [("content-type", "text/xml"), ("x-amzn-requestid", request.request_id)],
            "".join(parts).encode(),
        )

    #: What an ``<Error>`` holds after its Message (SQS's query protocol adds an empty ``<Detail/>``).
    ERROR_DETAIL = ""

    def error(self, request: HttpRequest, error: ServiceError, op: OperationModel | None) -> HttpResponse:
        code, extra_headers = self.error_words(error)
        body = (
            f'<ErrorResponse xmlns="{self.namespace}"><Error>'
            + codec.element("Type", "Sender" if error.sender_fault else "Receiver")
            + codec.element("Code", code)
            + codec.element("Message", error.message)
            + self.ERROR_DETAIL
            + "</Error>"
            + codec.element("RequestId", request.request_id)
            + "</ErrorResponse>"
        )
        headers = [("content-type", "text/xml"), ("x-amzn-requestid", request.request_id)]
        headers.extend(extra_headers.items())
        return HttpResponse(error.status, headers, body.encode())

    def error_words(self, error: ServiceError) -> tuple[str, dict[str, str]]:
        """The error's ``Code`` and the headers it answers with."""
        # The query services (STS, IAM) call an invalid parameter ValidationError, the JSON ones
        # ValidationException: the shared input validation raises the latter.
        return ("ValidationError" if error.code == "ValidationException" else error.code), dict(error.headers)


def _read(form: dict[str, str], prefix: str, shape: Shape) -> Any:
    kind = shape.type_name
    if kind == "structure":
        return _read_structure(form, prefix, shape)
    if kind == "list":
        flattened = shape.serialization.get("flattened")
        base = prefix if flattened else f"{prefix}.{shape.member.serialization.get('name', 'member')}"
        if prefix in form and form[prefix] == "":
            return []
        items = []
        index = 1
        while has_prefix(form, f"{base}.{index}"):
            items.append(_read(form, f"{base}.{index}", shape.member))
            index += 1
        return items if items else None
    if kind == "map":
        flattened = shape.serialization.get("flattened")
        base = prefix if flattened else f"{prefix}.entry"
        key_name = shape.key.serialization.get("name", "key")
        value_name = shape.value.serialization.get("name", "value")
        result = {}
        index = 1
        while f"{base}.{index}.{key_name}" in form:
            key = form[f"{base}.{index}.{key_name}"]
            result[key] = _read(form, f"{base}.{index}.{value_name}", shape.value)
            index += 1
        return result if result else None
    if prefix not in form:
        return None
    return codec.parse_scalar(form[prefix], shape)


def _read_structure(form: dict[str, str], prefix: str, shape: Shape) -> dict | None:
    out = {}
    for name, member in shape.members.items():
        wire = member.serialization.get("name", name)
        key = f"{prefix}.{wire}" if prefix else wire
        value = _read(form, key, member)
        if value is not None:
            out[name] = value
    return out if (out or not prefix) else None


def has_prefix(form: dict[str, str], prefix: str) -> bool:
    """Whether the form holds ``prefix`` or a member below it (``prefix.…``)."""
    if prefix in form:
        return True
    dotted = prefix + "."
    return any(key.startswith(dotted) for key in form)
