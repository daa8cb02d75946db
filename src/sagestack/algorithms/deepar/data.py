"""DeepAR's time series: the JSON Lines / Parquet records of a channel or a request (§2.10).

A record is ``{"start": "YYYY-MM-DD HH:MM:SS", "target": [...], "cat": [...], "dynamic_feat": [[...]]}``;
missing target values are ``null``, ``"NaN"`` (or NaN in Parquet). Files are read recursively; names
starting with ``.`` and ``_SUCCESS`` are skipped; the format comes from the extension (``.json``,
``.json.gz``, ``.jsonl``, ``.parquet``), else from the channel's content type.
"""

from __future__ import annotations

import gzip
import json
import math
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sagestack.algorithms.base import AlgorithmClientError
from sagestack.formats import content_types as ct


@dataclass
class Series:
    start: Any  # pandas.Timestamp
    target: np.ndarray  # float32, NaN where missing
    cat: list[int] | None = None
    dynamic_feat: np.ndarray | None = None  # (num_dynamic_feat, length) float32


def parse_start(value: Any, where: str) -> Any:
    import pandas as pd

    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError):
        stamp = None
    if stamp is None or stamp is pd.NaT:
        raise AlgorithmClientError(f"{where}: 'start' {value!r} is not a timestamp (YYYY-MM-DD HH:MM:SS)")
    if stamp.tzinfo is not None:
        stamp = stamp.tz_localize(None)
    return stamp


def _number(value: Any) -> float:
    if value is None:
        return math.nan
    if isinstance(value, str):
        if value.strip().lower() == "nan":
            return math.nan
        raise ValueError(value)
    if isinstance(value, bool):
        raise ValueError(value)
    return float(value)


def parse_record(doc: Any, where: str, *, allow_empty_target: bool = False) -> Series:
    """One record as a :class:`Series`; AlgorithmClientError (naming ``where``) when malformed."""
    if not isinstance(doc, dict):
        raise AlgorithmClientError(f"{where}: a record must be a JSON object, got {type(doc).__name__}")
    if "start" not in doc or "target" not in doc:
        raise AlgorithmClientError(f"{where}: a record needs 'start' and 'target'")
    start = parse_start(doc["start"], where)
    raw_target = doc["target"]
    if hasattr(raw_target, "tolist"):
        raw_target = raw_target.tolist()
    if not isinstance(raw_target, list):
        raise AlgorithmClientError(f"{where}: 'target' must be an array of numbers")
    try:
        target = np.array([_number(v) for v in raw_target], dtype=np.float32)
    except (TypeError, ValueError):
        raise AlgorithmClientError(f"{where}: 'target' holds a value that is not a number or NaN") from None
    if target.size == 0 and not allow_empty_target:
        raise AlgorithmClientError(f"{where}: 'target' is empty")
    cat = None
    if doc.get("cat") is not None:
        raw_cat = doc["cat"]
        raw_cat = raw_cat.tolist() if hasattr(raw_cat, "tolist") else raw_cat
        if isinstance(raw_cat, (int, float)) and not isinstance(raw_cat, bool):
            raw_cat = [raw_cat]
        if not isinstance(raw_cat, list) or not all(
            isinstance(c, (int, float)) and not isinstance(c, bool) and float(c).is_integer() and c >= 0
            for c in raw_cat
        ):
            raise AlgorithmClientError(f"{where}: 'cat' must be an array of non-negative integers")
        cat = [int(c) for c in raw_cat]
    dyn = None
    if doc.get("dynamic_feat") is not None:
        raw_dyn = doc["dynamic_feat"]
        raw_dyn = (
            [list(r) if hasattr(r, "__len__") else r for r in raw_dyn]
            if hasattr(raw_dyn, "__iter__")
            else raw_dyn
        )
        try:
            rows = [[float(v) for v in row] for row in raw_dyn]
        except (TypeError, ValueError):
            raise AlgorithmClientError(
                f"{where}: 'dynamic_feat' must be an array of arrays of numbers"
            ) from None
        lengths = {len(r) for r in rows}
        if len(lengths) > 1:
            raise AlgorithmClientError(f"{where}: the 'dynamic_feat' arrays have different lengths")
        dyn = np.array(rows, dtype=np.float32).reshape(len(rows), -1)
        if not np.isfinite(dyn).all():
            raise AlgorithmClientError(f"{where}: 'dynamic_feat' must not hold missing values")
    return Series(start=start, target=target, cat=cat, dynamic_feat=dyn)


def data_files(channel_dir: Path) -> list[Path]:
    found = []
    for dirpath, dirnames, filenames in os.walk(channel_dir, followlinks=True):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith(".") or name == "_SUCCESS" or name.endswith(".manifest"):
                continue
            path = Path(dirpath) / name
            if path.is_file():
                found.append(path)
    return found


def _file_format(path: Path, content_type: str | None) -> str:
    name = path.name.lower()
    if name.endswith((".parquet", ".parq")):
        return "parquet"
    if name.endswith((".json", ".json.gz", ".jsonl", ".jsonl.gz", ".jsonlines")):
        return "json"
    return "parquet" if ct.normalize(content_type) == ct.PARQUET else "json"


def _json_lines(path: Path) -> Iterator[tuple[int, Any]]:
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    for number, line in enumerate(raw.decode("utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError as exc:
            raise AlgorithmClientError(f"{path.name} line {number}: not valid JSON ({exc.msg})") from None


def _parquet_rows(path: Path) -> Iterator[tuple[int, Any]]:
    import pandas as pd

    try:
        frame = pd.read_parquet(path)
    except Exception as exc:  # noqa: BLE001 - any reader failure is the user's file
        raise AlgorithmClientError(f"{path.name}: not a readable Parquet file ({exc})") from None
    for number, row in enumerate(frame.to_dict("records"), 1):
        yield number, {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}


def read_channel(channel_dir: Path, content_type: str | None, name: str) -> list[Series]:
    series: list[Series] = []
    for path in data_files(channel_dir):
        rows: Iterable[tuple[int, Any]] = (
            _parquet_rows(path) if _file_format(path, content_type) == "parquet" else _json_lines(path)
        )
        for number, doc in rows:
            series.append(parse_record(doc, f"Channel {name!r}, {path.name} record {number}"))
    if not series:
        raise AlgorithmClientError(f"Channel {name!r} holds no time series")
    return series


def check_consistent(series: list[Series], name: str) -> tuple[int, int]:
    """``(number of cat, number of dynamic_feat)`` shared by every series (ClientError otherwise)."""
    n_cat = {len(s.cat) if s.cat else 0 for s in series}
    n_dyn = {s.dynamic_feat.shape[0] if s.dynamic_feat is not None else 0 for s in series}
    if len(n_cat) > 1:
        raise AlgorithmClientError(f"Channel {name!r}: all series must have the same number of 'cat' values")
    if len(n_dyn) > 1:
        raise AlgorithmClientError(
            f"Channel {name!r}: all series must have the same number of 'dynamic_feat' arrays"
        )
    for index, s in enumerate(series):
        if s.dynamic_feat is not None and s.dynamic_feat.shape[1] < s.target.shape[0]:
            raise AlgorithmClientError(
                f"Channel {name!r}, series {index}: 'dynamic_feat' arrays are shorter than 'target'"
            )
    return n_cat.pop(), n_dyn.pop()
