"""SQS's query protocol, as clients made before SQS moved to JSON send it (form-encoded ``Action=...``,
XML answers) — read and written against the current JSON model, with SQS's historical wire names.

Input: maps and lists are flattened under their singular names (``Attribute.1.Name`` /
``Attribute.1.Value``, ``MessageAttribute.1.Value.StringValue``, ``AttributeName.1``, ``Tag.1.Key``,
``SendMessageBatchRequestEntry.1.Id``). Output: ``<ActionResponse><ActionResult>`` with the same
singular, flattened names (``<Message>``, ``<Attribute><Name/><Value/></Attribute>``, ``<QueueUrl>``,
``<SendMessageBatchResultEntry>``, ``<BatchResultErrorEntry>``). Errors carry the query codes
(``AWS.SimpleQueueService.NonExistentQueue``) that the JSON answers put in ``x-amzn-query-error``.
A request sent to a queue's own URL (``POST /<account>/<name>``) names that queue.
"""

from __future__ import annotations

from typing import Any

from botocore.model import OperationModel, Shape

from . import codec
from .errors import ServiceError
from .http import HttpRequest, HttpResponse
from .query import QueryProtocol, has_prefix

NAMESPACE = "http://queue.amazonaws.com/doc/2012-11-05/"
#: Member name → its singular wire name (lists and maps, both directions).
SINGULAR = {
    "Attributes": "Attribute",
    "tags": "Tag",
    "Tags": "Tag",
    "AttributeNames": "AttributeName",
    "MessageSystemAttributeNames": "MessageSystemAttributeName",
    "MessageAttributeNames": "MessageAttributeName",
    "MessageAttributes": "MessageAttribute",
    "MessageSystemAttributes": "MessageSystemAttribute",
    "TagKeys": "TagKey",
    "StringListValues": "StringListValue",
    "BinaryListValues": "BinaryListValue",
    "Messages": "Message",
    "QueueUrls": "QueueUrl",
    "Failed": "BatchResultErrorEntry",
    "queueUrls": "QueueUrl",
}
QUERY_ERROR = "x-amzn-query-error"


def _wire(name: str, op: OperationModel, direction: str) -> str:
    if name == "Entries":
        return f"{op.name}RequestEntry"
    if name == "Successful" and direction == "out":
        return f"{op.name}ResultEntry"
    return SINGULAR.get(name, name)


def _map_names(name: str) -> tuple[str, str]:
    return ("Key", "Value") if name in ("tags", "Tags") else ("Name", "Value")


class SqsQueryProtocol(QueryProtocol):
    name = "sqs-query"

    def __init__(self, service: str = "sqs"):
        super().__init__(service)
        self.namespace = NAMESPACE

    async def parse(self, request: HttpRequest, op: OperationModel) -> dict[str, Any]:
        form = await self._form(request)
        if op.input_shape is None:
            return {}
        params = _structure(form, "", op.input_shape, op) or {}
        if "QueueUrl" in op.input_shape.members and "QueueUrl" not in params:
            parts = [p for p in request.raw_path.split("/") if p]
            if len(parts) == 2:  # sent to the queue's own URL
                host = request.headers.get("host") or "localhost"
                params["QueueUrl"] = f"http://{host}/{parts[0]}/{parts[1]}"
        return params

    def serialize(self, request: HttpRequest, op: OperationModel, result: Any) -> HttpResponse:
        parts = [f'<{op.name}Response xmlns="{self.namespace}">']
        if op.output_shape is not None:
            body: list[str] = []
            _write_members(body, result or {}, op.output_shape, op)
            parts.append(f"<{op.name}Result>" + "".join(body) + f"</{op.name}Result>")
        parts.append(f"<ResponseMetadata>{codec.element('RequestId', request.request_id)}</ResponseMetadata>")
        parts.append(f"</{op.name}Response>")
        return HttpResponse(
            200,
            [("content-type", "text/xml"), ("x-amzn-requestid", request.request_id)],
            "".join(parts).encode(),
        )

    ERROR_DETAIL = "<Detail/>"

    def error_words(self, error: ServiceError) -> tuple[str, dict[str, str]]:
        headers = dict(error.headers)
        query = headers.pop(QUERY_ERROR, None)
        if query:
            code = query.split(";", 1)[0]
        elif error.code == "ValidationException":
            code = "InvalidParameterValue"
        else:
            code = error.code.rsplit("#", 1)[-1]
        return code, headers


# -- reading a form ----------------------------------------------------------------------------------


def _read(form: dict[str, str], prefix: str, name: str, shape: Shape, op: OperationModel) -> Any:
    kind = shape.type_name
    if kind == "structure":
        return _structure(form, prefix, shape, op)
    if kind == "list":
        items = []
        index = 1
        while has_prefix(form, f"{prefix}.{index}"):
            items.append(_read(form, f"{prefix}.{index}", name, shape.member, op))
            index += 1
        return items if items else None
    if kind == "map":
        key_name, value_name = _map_names(name)
        result = {}
        index = 1
        while f"{prefix}.{index}.{key_name}" in form:
            key = form[f"{prefix}.{index}.{key_name}"]
            result[key] = _read(form, f"{prefix}.{index}.{value_name}", value_name, shape.value, op)
            index += 1
        return result if result else None
    if prefix not in form:
        return None
    return codec.parse_scalar(form[prefix], shape)


def _structure(form: dict[str, str], prefix: str, shape: Shape, op: OperationModel) -> dict | None:
    out = {}
    for name, member in shape.members.items():
        wire = _wire(name, op, "in")
        value = _read(form, f"{prefix}.{wire}" if prefix else wire, name, member, op)
        if value is not None:
            out[name] = value
    return out if (out or not prefix) else None


# -- writing XML -------------------------------------------------------------------------------------


def _write_members(out: list[str], value: dict, shape: Shape, op: OperationModel) -> None:
    for name, item in value.items():
        member = shape.members.get(name)
        if member is None or item is None:
            continue
        _write(out, _wire(name, op, "out"), name, item, member, op)


def _write(out: list[str], wire: str, name: str, value: Any, shape: Shape, op: OperationModel) -> None:
    kind = shape.type_name
    if kind == "structure":
        out.append(f"<{wire}>")
        _write_members(out, value, shape, op)
        out.append(f"</{wire}>")
    elif kind == "list":
        for item in value:
            _write(out, wire, name, item, shape.member, op)
    elif kind == "map":
        key_name, value_name = _map_names(name)
        for key, item in value.items():
            out.append(f"<{wire}>")
            out.append(codec.element(key_name, key))
            _write(out, value_name, value_name, item, shape.value, op)
            out.append(f"</{wire}>")
    else:
        out.append(f"<{wire}>{codec._escape(codec.scalar_text(value, shape))}</{wire}>")
