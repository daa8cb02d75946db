"""Object2Vec data: JSON Lines records ``{"label": ..., "in0": [token ids], "in1": [token ids]}``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sagestack.algorithms.base import AlgorithmClientError


class RecordError(ValueError):
    """A record that is not a valid Object2Vec input."""


@dataclass
class Pairs:
    in0: list[np.ndarray]  # token ids per record (int64)
    in1: list[np.ndarray]
    labels: np.ndarray  # float32 (class index or regression target)

    def __len__(self) -> int:
        return len(self.in0)


def tokens(value: Any, field: str, vocab_size: int, max_len: int, where: str) -> np.ndarray:
    """A token-id list (truncated to ``max_len``) checked against the vocabulary."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, list) or not value:
        raise RecordError(f"{where}: {field} must be a non-empty list of integer token ids")
    try:
        ids = np.asarray(value, dtype=np.int64)
    except (TypeError, ValueError, OverflowError):
        raise RecordError(f"{where}: {field} must be a list of integer token ids") from None
    if ids.ndim != 1 or not np.all(np.asarray(value, dtype=object) == ids):
        raise RecordError(f"{where}: {field} must be a list of integer token ids")
    if ids.min() < 0 or ids.max() >= vocab_size:
        raise RecordError(f"{where}: {field} holds token ids outside [0, {vocab_size - 1}] (the vocab_size)")
    return ids[:max_len]


def read_channel(path: Path, name: str, params, regression: bool, num_classes: int) -> Pairs:
    from sagestack.formats.dataset import files_in

    in0, in1, labels = [], [], []
    for file in files_in(path):
        with open(file, encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                where = f"{name} channel file {file.name} line {number}"
                try:
                    record = json.loads(line)
                    if not isinstance(record, dict):
                        raise RecordError(f"{where}: a record must be a JSON object")
                    if "label" not in record:
                        raise RecordError(f"{where}: the record has no label")
                    label = float(record["label"])
                    if not regression and (not label.is_integer() or not 0 <= label < num_classes):
                        raise RecordError(
                            f"{where}: label {record['label']!r} must be a class in [0, {num_classes - 1}]"
                        )
                    in0.append(
                        tokens(
                            record.get("in0"), "in0", params.enc0.vocab_size, params.enc0.max_seq_len, where
                        )
                    )
                    in1.append(
                        tokens(
                            record.get("in1"), "in1", params.enc1.vocab_size, params.enc1.max_seq_len, where
                        )
                    )
                    labels.append(label)
                except (json.JSONDecodeError, UnicodeDecodeError):
                    raise AlgorithmClientError(f"{where} is not JSON") from None
                except (RecordError, TypeError, ValueError) as exc:
                    raise AlgorithmClientError(str(exc)) from None
    return Pairs(in0, in1, np.asarray(labels, dtype=np.float32))


def pad(sequences: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """``(tokens (n, T) int64 zero-padded, lengths (n,) int64)``."""
    lengths = np.asarray([s.shape[0] for s in sequences], dtype=np.int64)
    out = np.zeros((len(sequences), int(lengths.max(initial=1))), dtype=np.int64)
    for i, seq in enumerate(sequences):
        out[i, : seq.shape[0]] = seq
    return out, lengths
