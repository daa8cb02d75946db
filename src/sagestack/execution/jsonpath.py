"""The JSONPath subset SageMaker batch transform accepts in InputFilter/OutputFilter.

Supported: ``$`` (everything), ``$[i]``, ``$[i,j,…]``, ``$[a:b]`` / ``$[a:]`` / ``$[:b]`` (negative
indices allowed), ``$.key`` / ``$['key']`` / ``$['k1','k2']`` and chains of those
(``$.SageMakerOutput['predicted_label']``). A CSV record is the JSON array of its fields.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_TOKEN = re.compile(r"\.([A-Za-z_][A-Za-z0-9_-]*)|\[([^\]]*)\]")


class JsonPathError(ValueError):
    pass


@dataclass(frozen=True)
class Step:
    kind: str  # "key" | "keys" | "index" | "indexes" | "slice"
    value: Any

    @property
    def many(self) -> bool:
        return self.kind in ("keys", "indexes", "slice")


@dataclass(frozen=True)
class JsonPath:
    text: str
    steps: tuple[Step, ...]

    @property
    def identity(self) -> bool:
        return not self.steps

    def apply(self, value: Any) -> Any:
        for step in self.steps:
            value = _apply(step, value, self.text)
        return value


def _apply(step: Step, value: Any, text: str) -> Any:
    try:
        if step.kind == "key":
            return value[step.value]
        if step.kind == "keys":
            return {k: value[k] for k in step.value if k in value}
        if step.kind == "index":
            return value[step.value]
        if step.kind == "indexes":
            return [value[i] for i in step.value]
        start, stop = step.value
        return value[start:stop]
    except (KeyError, IndexError, TypeError):
        raise JsonPathError(f"JSONPath {text} does not match the record") from None


def parse(text: str | None) -> JsonPath:
    text = (text or "$").strip()
    if not text.startswith("$"):
        raise JsonPathError(f"Invalid JSONPath {text!r}: it must start with $")
    rest = text[1:]
    steps: list[Step] = []
    pos = 0
    while pos < len(rest):
        match = _TOKEN.match(rest, pos)
        if not match:
            raise JsonPathError(f"Invalid JSONPath {text!r} near {rest[pos:]!r}")
        pos = match.end()
        if match.group(1) is not None:
            steps.append(Step("key", match.group(1)))
            continue
        inner = match.group(2).strip()
        if inner.startswith(("'", '"')):
            keys = [part.strip().strip("'\"") for part in inner.split(",")]
            steps.append(Step("key", keys[0]) if len(keys) == 1 else Step("keys", keys))
        elif ":" in inner:
            start, _, stop = inner.partition(":")
            try:
                steps.append(
                    Step(
                        "slice", (int(start) if start.strip() else None, int(stop) if stop.strip() else None)
                    )
                )
            except ValueError:
                raise JsonPathError(f"Invalid slice in JSONPath {text!r}") from None
        elif inner == "*":
            steps.append(Step("slice", (None, None)))
        else:
            try:
                indexes = [int(part) for part in inner.split(",")]
            except ValueError:
                raise JsonPathError(f"Invalid index in JSONPath {text!r}") from None
            steps.append(Step("index", indexes[0]) if len(indexes) == 1 else Step("indexes", indexes))
    return JsonPath(text, tuple(steps))
