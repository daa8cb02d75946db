"""A BlazingText channel's text: one sentence per line (plain text), labels as ``__label__`` tokens in
supervised mode; or JSON Lines ``{"source": "…", "label": 1}`` / ``{"label": [1, 3]}`` (the augmented
manifest's attributes), labels becoming ``__label__1``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sagestack.algorithms.base import AlgorithmClientError
from sagestack.algorithms.blazingtext.fasttext_format import LABEL_PREFIX, tokenize
from sagestack.formats import content_types as ct
from sagestack.formats.dataset import files_in


@dataclass
class Example:
    words: list[str]
    labels: list[str]


def _lines(channel_dir: Path) -> Iterator[tuple[str, int, str]]:
    for path in files_in(channel_dir):
        with open(path, encoding="utf-8", errors="replace") as handle:
            for number, line in enumerate(handle, 1):
                yield path.name, number, line


def _label(value) -> str:
    text = str(value)
    return text if text.startswith(LABEL_PREFIX) else LABEL_PREFIX + text


def read_examples(channel_dir: Path, content_type: str, name: str) -> list[Example]:
    """Supervised examples (lines without a label are skipped, as fastText skips them)."""
    examples = []
    jsonlines = ct.normalize(content_type) == ct.JSONLINES
    for filename, number, line in _lines(channel_dir):
        if not line.strip():
            continue
        if jsonlines:
            try:
                doc = json.loads(line)
            except json.JSONDecodeError:
                raise AlgorithmClientError(
                    f"Channel {name!r}, {filename} line {number}: not valid JSON"
                ) from None
            if not isinstance(doc, dict) or "source" not in doc:
                raise AlgorithmClientError(
                    f"Channel {name!r}, {filename} line {number}: a JSON line needs 'source' (and 'label')"
                )
            raw = doc.get("label", [])
            labels = [_label(v) for v in (raw if isinstance(raw, list) else [raw])]
            words = tokenize(str(doc["source"]))
        else:
            tokens = tokenize(line)
            labels = [t for t in tokens if t.startswith(LABEL_PREFIX)]
            words = [t for t in tokens if not t.startswith(LABEL_PREFIX)]
        if labels:
            examples.append(Example(words, labels))
    if not examples:
        raise AlgorithmClientError(
            f"Channel {name!r} holds no labelled sentences; supervised mode needs lines such as "
            f"'__label__1 the text'"
        )
    return examples


def read_sentences(channel_dir: Path, name: str) -> list[list[str]]:
    sentences = [tokenize(line) for _, _, line in _lines(channel_dir)]
    sentences = [s for s in sentences if s]
    if not sentences:
        raise AlgorithmClientError(f"Channel {name!r} holds no text")
    return sentences
