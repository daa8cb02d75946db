"""Input validation against an operation's input shape, with AWS's wording.

AWS answers ``ValidationException`` with messages like
``1 validation error detected: Value null at 'trainingJobName' failed to satisfy constraint: Member must
not be null``. This walks botocore's shapes (required, type, length, range, enum, pattern).
"""

from __future__ import annotations

import datetime as _dt
import functools
import re

from botocore.model import Shape

from .errors import ServiceError


@functools.lru_cache(maxsize=4096)
def _pattern(text: str) -> re.Pattern | None:
    try:
        return re.compile(text)
    except re.error:
        return None


def _path(parent: str, name: str) -> str:
    name = name[:1].lower() + name[1:]
    return f"{parent}.{name}" if parent else name


def _render(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, (dict, list)):
        return "[...]" if isinstance(value, list) else "{...}"
    text = str(value)
    return text if len(text) <= 256 else text[:256] + "..."


def validate(
    params: dict, shape: Shape | None, *, check_patterns: bool = True, check_enums: bool = True
) -> None:
    """Raise ``ValidationException`` naming every problem found (AWS style). S3 checks neither patterns
    nor enums this way (it answers with its own codes, e.g. InvalidLocationConstraint)."""
    if shape is None:
        return
    problems: list[str] = []
    _walk(params, shape, "", problems, check_patterns, check_enums)
    if problems:
        count = len(problems)
        head = f"{count} validation error{'s' if count > 1 else ''} detected: "
        raise ServiceError("ValidationException", head + "; ".join(problems), 400)


def _walk(
    value, shape: Shape, path: str, problems: list[str], check_patterns: bool, check_enums: bool = True
) -> None:
    kind = shape.type_name
    meta = shape.metadata
    if kind == "structure":
        if not isinstance(value, dict):
            problems.append(
                f"Value {_render(value)} at '{path}' failed to satisfy constraint: Member must be a structure"
            )
            return
        members = shape.members
        for name in shape.required_members:
            if value.get(name) is None:
                problems.append(
                    f"Value null at '{_path(path, name)}' failed to satisfy constraint: "
                    "Member must not be null"
                )
        for name, item in value.items():
            member = members.get(name)
            if member is None:
                problems.append(
                    f"Unknown parameter '{_path(path, name)}': it is not a member of {shape.name}"
                )
                continue
            if item is not None:
                _walk(item, member, _path(path, name), problems, check_patterns, check_enums)
        return
    if kind == "list":
        if not isinstance(value, list):
            problems.append(
                f"Value {_render(value)} at '{path}' failed to satisfy constraint: Member must be a list"
            )
            return
        _length(len(value), meta, value, path, problems)
        for index, item in enumerate(value, 1):
            if item is not None:
                _walk(item, shape.member, f"{path}.{index}.member", problems, check_patterns, check_enums)
        return
    if kind == "map":
        if not isinstance(value, dict):
            problems.append(
                f"Value {_render(value)} at '{path}' failed to satisfy constraint: Member must be a map"
            )
            return
        _length(len(value), meta, value, path, problems)
        for key, item in value.items():
            _walk(key, shape.key, f"{path}.key", problems, check_patterns, check_enums)
            if item is not None:
                _walk(item, shape.value, f"{path}.value", problems, check_patterns, check_enums)
        return
    if kind == "string":
        if not isinstance(value, str):
            problems.append(
                f"Value {_render(value)} at '{path}' failed to satisfy constraint: Member must be a string"
            )
            return
        _length(len(value), meta, value, path, problems)
        enum = shape.enum
        if check_enums and enum and value not in enum:
            problems.append(
                f"Value '{_render(value)}' at '{path}' failed to satisfy constraint: "
                f"Member must satisfy enum value set: [{', '.join(enum)}]"
            )
        pattern = meta.get("pattern")
        if check_patterns and pattern:
            compiled = _pattern(pattern)
            if compiled is not None and not compiled.fullmatch(value) and not compiled.match(value):
                problems.append(
                    f"Value '{_render(value)}' at '{path}' failed to satisfy constraint: "
                    f"Member must satisfy regular expression pattern: {pattern}"
                )
        return
    if kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            problems.append(
                f"Value {_render(value)} at '{path}' failed to satisfy constraint: Member must be an integer"
            )
            return
        _range(value, meta, path, problems)
        return
    if kind in ("float", "double"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            problems.append(
                f"Value {_render(value)} at '{path}' failed to satisfy constraint: Member must be a number"
            )
            return
        _range(value, meta, path, problems)
        return
    if kind == "boolean":
        if not isinstance(value, bool):
            problems.append(
                f"Value {_render(value)} at '{path}' failed to satisfy constraint: Member must be a boolean"
            )
        return
    if kind == "timestamp":
        if not isinstance(value, (_dt.datetime, int, float)):
            problems.append(
                f"Value {_render(value)} at '{path}' failed to satisfy constraint: Member must be a timestamp"
            )
        return
    if kind == "blob":
        # streaming payloads arrive as the HttpRequest itself (it has ``stream()``)
        if (
            not isinstance(value, (bytes, bytearray, memoryview, str))
            and not hasattr(value, "read")
            and not hasattr(value, "__aiter__")
            and not hasattr(value, "stream")
        ):
            problems.append(f"Value at '{path}' failed to satisfy constraint: Member must be a blob")
        else:
            if isinstance(value, (bytes, bytearray, str)):
                _length(len(value), meta, None, path, problems)


def _length(length: int, meta: dict, value, path: str, problems: list[str]) -> None:
    shown = "" if value is None else f"'{_render(value)}' " if isinstance(value, str) else ""
    low, high = meta.get("min"), meta.get("max")
    if low is not None and length < low:
        problems.append(
            f"Value {shown}at '{path}' failed to satisfy constraint: Member must have "
            f"length greater than or equal to {low}"
        )
    if high is not None and length > high:
        problems.append(
            f"Value {shown}at '{path}' failed to satisfy constraint: Member must have "
            f"length less than or equal to {high}"
        )


def _range(value, meta: dict, path: str, problems: list[str]) -> None:
    low, high = meta.get("min"), meta.get("max")
    if low is not None and value < low:
        problems.append(
            f"Value '{value}' at '{path}' failed to satisfy constraint: Member must have "
            f"value greater than or equal to {low}"
        )
    if high is not None and value > high:
        problems.append(
            f"Value '{value}' at '{path}' failed to satisfy constraint: Member must have "
            f"value less than or equal to {high}"
        )
