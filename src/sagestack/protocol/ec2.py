"""The EC2 protocol: form-encoded ``Action=...`` like query, with EC2's own rules.

Input names are the member's ``queryName``, else its ``locationName`` capitalised, else the member
name; lists are always flattened (``Filter.1.Value.1``). Responses have no ``<…Result>`` wrapper: the
output members sit directly under ``<ActionResponse>`` beside ``<requestId>``, lists as ``<item>``
elements. Errors are ``<Response><Errors><Error>…</Error></Errors><RequestID>…</RequestID></Response>``.
"""

from __future__ import annotations

from typing import Any

from botocore.model import OperationModel, Shape

from . import codec
from .errors import ServiceError
from .http import HttpRequest, HttpResponse
from .query import QueryProtocol, has_prefix


class Ec2Protocol(QueryProtocol):
    name = "ec2"

    async def parse(self, request: HttpRequest, op: OperationModel) -> dict[str, Any]:
        form = await self._form(request)
        if op.input_shape is None:
            return {}
        return _structure(form, "", op.input_shape) or {}

    def serialize(self, request: HttpRequest, op: OperationModel, result: Any) -> HttpResponse:
        body = (
            codec.to_xml(f"{op.name}Response", result or {}, op.output_shape, attrs={"xmlns": self.namespace})
            if op.output_shape is not None
            else f'<{op.name}Response xmlns="{self.namespace}"></{op.name}Response>'
        )
        cut = body.rindex("</")
        body = body[:cut] + codec.element("requestId", request.request_id) + body[cut:]
        return HttpResponse(
            200,
            [("content-type", "text/xml;charset=UTF-8"), ("x-amzn-requestid", request.request_id)],
            body.encode(),
        )

    def error(self, request: HttpRequest, error: ServiceError, op: OperationModel | None) -> HttpResponse:
        body = (
            '<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error>'
            + codec.element("Code", error.code)
            + codec.element("Message", error.message)
            + "</Error></Errors>"
            + codec.element("RequestID", request.request_id)
            + "</Response>"
        )
        headers = [("content-type", "text/xml;charset=UTF-8"), ("x-amzn-requestid", request.request_id)]
        headers.extend(error.headers.items())
        return HttpResponse(error.status, headers, body.encode())


def _wire_name(shape: Shape, default: str) -> str:
    serialization = shape.serialization
    if "queryName" in serialization:
        return serialization["queryName"]
    if "name" in serialization:
        name = serialization["name"]
        return name[:1].upper() + name[1:]
    return default


def _read(form: dict[str, str], prefix: str, shape: Shape) -> Any:
    kind = shape.type_name
    if kind == "structure":
        return _structure(form, prefix, shape)
    if kind == "list":
        items = []
        index = 1
        while has_prefix(form, f"{prefix}.{index}"):
            items.append(_read(form, f"{prefix}.{index}", shape.member))
            index += 1
        return items if items else None
    if kind == "map":  # EC2 models carry no input maps today; read query's entry form if one appears
        result = {}
        index = 1
        while f"{prefix}.{index}.key" in form:
            result[form[f"{prefix}.{index}.key"]] = _read(form, f"{prefix}.{index}.value", shape.value)
            index += 1
        return result if result else None
    if prefix not in form:
        return None
    return codec.parse_scalar(form[prefix], shape)


def _structure(form: dict[str, str], prefix: str, shape: Shape) -> dict | None:
    out = {}
    for name, member in shape.members.items():
        wire = _wire_name(member, name)
        value = _read(form, f"{prefix}.{wire}" if prefix else wire, member)
        if value is not None:
            out[name] = value
    return out if (out or not prefix) else None
