"""Pipeline definition expressions, as SageMaker Pipelines evaluates them: ``Get`` (Parameters,
Execution variables, PipelineExperimentConfig, step properties), ``Std:Join``, ``Std:JsonGet`` and the
condition grammar. Pure functions over a :class:`Scope` the engine fills in.

Stringification follows the service: booleans ``true``/``false``, integers plainly, floats in their
shortest round-trip form (``6.0``), null as ``""``, objects and lists as compact JSON.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

EXPRESSION_KEYS = ("Get", "Std:Join", "Std:JsonGet")

EXECUTION_VARIABLES = (
    "PipelineExecutionId",
    "PipelineExecutionArn",
    "PipelineName",
    "PipelineArn",
    "StartDateTime",
    "CurrentDateTime",
    "TrainingJobName",
    "ProcessingJobName",
)

#: Members that name an element of a list, for ``Outputs['train']``-style keys.
IDENTIFYING_FIELDS = (
    "OutputName",
    "InputName",
    "ChannelName",
    "MetricName",
    "VariantName",
    "Name",
    "Key",
    "TrainingJobName",
)


class ExpressionError(Exception):
    """An expression that cannot be evaluated (the consuming step fails with this message)."""


def is_expression(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and next(iter(value)) in EXPRESSION_KEYS


# -- property paths --------------------------------------------------------------------------

_SEGMENT = re.compile(r"""([A-Za-z_][A-Za-z0-9_]*)|\[\s*(?:(-?\d+)|'([^']*)'|"([^"]*)")\s*\]|(\.)""")


def parse_path(path: str) -> list[str | int]:
    """``Outputs['train'].S3Output.S3Uri`` → ``["Outputs", "train", "S3Output", "S3Uri"]`` (ints for list
    indexes; quoted keys may hold dots)."""
    parts: list[str | int] = []
    pos = 0
    while pos < len(path):
        match = _SEGMENT.match(path, pos)
        if match is None:
            raise ExpressionError(f"Invalid property path '{path}'.")
        ident, index, single, double, dot = match.groups()
        if ident is not None:
            parts.append(ident)
        elif index is not None:
            parts.append(int(index))
        elif dot is None:
            parts.append(single if single is not None else double)
        pos = match.end()
    return parts


def split_step_reference(reference: str) -> tuple[str, str]:
    """``Steps.Train.ModelArtifacts.S3ModelArtifacts`` → (``Train``, ``ModelArtifacts.S3ModelArtifacts``)."""
    rest = reference[len("Steps.") :]
    name, _, path = rest.partition(".")
    return name, path


def walk(document: Any, parts: list[str | int], where: str) -> Any:
    value = document
    for part in parts:
        if isinstance(value, dict) and isinstance(part, str) and part in value:
            value = value[part]
        elif isinstance(value, list) and isinstance(part, int) and -len(value) <= part < len(value):
            value = value[part]
        elif isinstance(value, list) and isinstance(part, str):
            found = [
                item
                for item in value
                if isinstance(item, dict) and any(item.get(k) == part for k in IDENTIFYING_FIELDS)
            ]
            if not found:
                raise ExpressionError(f"{where} is undefined.")
            value = found[0]
        else:
            raise ExpressionError(f"{where} is undefined.")
    return value


# -- JSON paths (Std:JsonGet) ----------------------------------------------------------------


def json_path(document: Any, path: str) -> Any:
    text = path.strip()
    if text.startswith("$"):
        text = text[1:].lstrip(".")
    try:
        parts = parse_path(text) if text else []
    except ExpressionError:
        raise ExpressionError(f"Invalid json path '{path}'") from None
    try:
        return walk(document, parts, path)
    except ExpressionError:
        raise ExpressionError(f"Invalid json path '{path}': no value at that path.") from None


# -- values ----------------------------------------------------------------------------------


def to_string(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"), default=str)
    return str(value)


def parse_parameter(name: str, kind: str, text: str) -> Any:
    """A start-time parameter value (always a string on the wire) as its declared type."""
    if kind == "Integer":
        try:
            return int(text.strip())
        except ValueError:
            try:
                as_float = float(text)
            except ValueError:
                raise ExpressionError(f"Parameter '{name}' value '{text}' is not a valid Integer.") from None
            if as_float.is_integer():
                return int(as_float)
            raise ExpressionError(f"Parameter '{name}' value '{text}' is not a valid Integer.") from None
    if kind == "Float":
        try:
            return float(text.strip())
        except ValueError:
            raise ExpressionError(f"Parameter '{name}' value '{text}' is not a valid Float.") from None
    if kind == "Boolean":
        lowered = text.strip().lower()
        if lowered not in ("true", "false"):
            raise ExpressionError(f"Parameter '{name}' value '{text}' is not a valid Boolean.")
        return lowered == "true"
    return text


# -- evaluation ------------------------------------------------------------------------------


@dataclass
class Scope:
    """What expressions read. ``step_properties(name)`` gives a finished step's property document (raises
    ExpressionError when the step has none); ``property_file_uri(step, file)`` the S3 URI of a declared
    property file; ``read_json(uri)`` the parsed JSON of an S3 object."""

    parameters: dict[str, Any]
    execution: dict[str, Any]
    experiment: dict[str, Any] = field(default_factory=dict)
    step_properties: Callable[[str], Any] = lambda name: (_ for _ in ()).throw(
        ExpressionError(f"Steps.{name} is undefined.")
    )
    property_file_uri: Callable[[str, str], str] | None = None
    read_json: Callable[[str], Any] | None = None


def evaluate(value: Any, scope: Scope) -> Any:
    """Resolve every expression inside ``value`` (objects and lists walked recursively)."""
    if isinstance(value, dict):
        if is_expression(value):
            key, body = next(iter(value.items()))
            if key == "Get":
                return get(body, scope)
            if key == "Std:Join":
                return join(body, scope)
            return json_get(body, scope)
        return {k: evaluate(v, scope) for k, v in value.items()}
    if isinstance(value, list):
        return [evaluate(v, scope) for v in value]
    return value


def get(reference: Any, scope: Scope) -> Any:
    if not isinstance(reference, str):
        raise ExpressionError(f"Get expects a string reference, got {reference!r}.")
    if reference.startswith("Parameters."):
        name = reference[len("Parameters.") :]
        if name not in scope.parameters:
            raise ExpressionError(f"Parameter '{name}' is undefined.")
        return scope.parameters[name]
    if reference.startswith("Execution."):
        name = reference[len("Execution.") :]
        if name == "CurrentDateTime":
            return to_string(dt.datetime.now(dt.timezone.utc))
        if name not in scope.execution:
            raise ExpressionError(f"Execution variable '{name}' is undefined.")
        return scope.execution[name]
    if reference.startswith("PipelineExperimentConfig."):
        name = reference[len("PipelineExperimentConfig.") :]
        if name not in scope.experiment:
            raise ExpressionError(f"{reference} is undefined.")
        return scope.experiment[name]
    if reference.startswith("Steps."):
        step, path = split_step_reference(reference)
        document = scope.step_properties(step)
        return walk(document, parse_path(path), reference)
    raise ExpressionError(f"Unknown reference '{reference}'.")


def join(body: Any, scope: Scope) -> str:
    if not isinstance(body, dict) or not isinstance(body.get("Values"), list):
        raise ExpressionError("Std:Join needs a Values list.")
    on = body.get("On", "")
    return to_string(on).join(to_string(evaluate(v, scope)) for v in body["Values"])


def json_get(body: Any, scope: Scope) -> Any:
    if not isinstance(body, dict) or "Path" not in body:
        raise ExpressionError("Std:JsonGet needs a Path.")
    if "PropertyFile" in body:
        reference = body["PropertyFile"]
        reference = reference.get("Get") if isinstance(reference, dict) else reference
        if not isinstance(reference, str) or ".PropertyFiles." not in reference:
            raise ExpressionError(
                "Std:JsonGet PropertyFile must reference Steps.<step>.PropertyFiles.<name>."
            )
        step, path = split_step_reference(reference)
        file_name = path[len("PropertyFiles.") :]
        if scope.property_file_uri is None:
            raise ExpressionError("Property files cannot be read here.")
        uri = scope.property_file_uri(step, file_name)
    elif "S3Uri" in body:
        uri = to_string(evaluate(body["S3Uri"], scope))
    else:
        raise ExpressionError("Std:JsonGet needs a PropertyFile or an S3Uri.")
    if scope.read_json is None:
        raise ExpressionError("Property files cannot be read here.")
    document = scope.read_json(uri)
    return json_path(document, to_string(evaluate(body["Path"], scope)))


# -- conditions ------------------------------------------------------------------------------

_ORDERINGS = {
    "GreaterThan": lambda a, b: a > b,
    "GreaterThanOrEqualTo": lambda a, b: a >= b,
    "LessThan": lambda a, b: a < b,
    "LessThanOrEqualTo": lambda a, b: a <= b,
}


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, int):
        return "Integer"
    if isinstance(value, float):
        return "Float"
    if isinstance(value, str):
        return "String"
    return type(value).__name__


def _equal(left: Any, right: Any) -> bool:
    if _number(left) and _number(right):
        return left == right
    if type(left) is not type(right):
        raise ExpressionError(
            f"LeftValue [{to_string(left)}] of type [{_type_name(left)}] and RightValue "
            f"[{to_string(right)}] of type [{_type_name(right)}] are not of the same type."
        )
    return left == right


def condition(item: Any, scope: Scope) -> bool:
    if not isinstance(item, dict) or "Type" not in item:
        raise ExpressionError(f"Invalid condition {item!r}.")
    kind = item["Type"]
    if kind in ("Equals", "NotEquals"):
        result = _equal(evaluate(item["LeftValue"], scope), evaluate(item["RightValue"], scope))
        return result if kind == "Equals" else not result
    if kind in _ORDERINGS:
        left, right = evaluate(item["LeftValue"], scope), evaluate(item["RightValue"], scope)
        if (_number(left) and _number(right)) or (isinstance(left, str) and isinstance(right, str)):
            return _ORDERINGS[kind](left, right)
        raise ExpressionError(
            f"Condition of type [{kind}] not supported between [{to_string(left)}] of type "
            f"[{_type_name(left)}] and [{to_string(right)}] of type [{_type_name(right)}]."
        )
    if kind in ("In", "NotIn"):
        query = evaluate(item["QueryValue"] if "QueryValue" in item else item.get("Value"), scope)
        values = evaluate(item["Values"] if "Values" in item else item.get("In") or [], scope)
        found = any(
            _number(query) and _number(v) and query == v or type(query) is type(v) and query == v
            for v in values
        )
        return found if kind == "In" else not found
    if kind == "Not":
        return not condition(item["Condition"], scope)
    if kind == "Or":
        return any(condition(c, scope) for c in item["Conditions"])
    if kind == "And":
        return all(condition(c, scope) for c in item["Conditions"])
    raise ExpressionError(f"Unknown condition type '{kind}'.")


# -- references (for the dependency graph and validation) ------------------------------------


def references(value: Any) -> list[str]:
    """Every ``Get`` reference string inside ``value`` (also the PropertyFile of a JsonGet)."""
    found: list[str] = []

    def visit(item: Any) -> None:
        if isinstance(item, dict):
            if len(item) == 1 and "Get" in item and isinstance(item["Get"], str):
                found.append(item["Get"])
                return
            for member in item.values():
                visit(member)
        elif isinstance(item, list):
            for member in item:
                visit(member)

    visit(value)
    return found
