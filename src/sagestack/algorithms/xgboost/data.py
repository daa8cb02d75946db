"""Training data for XGBoost: channel checks and DMatrix loading with the container's rules.

CSV: no header, label in column 0, weight in column 1 when ``csv_weights=1``, delimiter sniffed from
the first line of the first file. LibSVM: ``<label>[:<weight>] <index>:<value> …``. Both are loaded by
XGBoost's own text parser, as the container does. Parquet: column 0 is the label. RecordIO-protobuf:
``features["values"]`` / ``label["values"]`` per record.
"""

from __future__ import annotations

import csv
import logging
import os
import tempfile
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sagestack.algorithms.base import AlgorithmClientError, Channel

from .versions import ImageVersion

logger = logging.getLogger(__name__)

CSV = "csv"
LIBSVM = "libsvm"
PARQUET = "parquet"
RECORDIO_PROTOBUF = "recordio-protobuf"

_CONTENT_TYPES: dict[str, str] = {
    "csv": CSV,
    "text/csv": CSV,
    "libsvm": LIBSVM,
    "text/libsvm": LIBSVM,
    "text/x-libsvm": LIBSVM,
    "parquet": PARQUET,
    "application/x-parquet": PARQUET,
    "recordio-protobuf": RECORDIO_PROTOBUF,
    "application/x-recordio-protobuf": RECORDIO_PROTOBUF,
}
ACCEPTED_CONTENT_TYPES: tuple[str, ...] = tuple(_CONTENT_TYPES)
LEGACY_CONTENT_KINDS = (CSV, LIBSVM)

CHANNELS = ("train", "validation", "code")
MAX_FOLDER_DEPTH = 3


def split_media_type(content_type: str) -> tuple[str, dict[str, str]]:
    """``"text/csv; label_size=1"`` → ``("text/csv", {"label_size": "1"})`` (lower-cased)."""
    main, *rest = content_type.lower().split(";")
    params: dict[str, str] = {}
    for part in rest:
        key, sep, value = part.partition("=")
        if sep:
            params[key.strip()] = value.strip().strip('"')
    return main.strip(), params


def content_kind(content_type: str | None, default: str = LIBSVM) -> str:
    """The data kind a ContentType names (``csv``/``libsvm``/``parquet``/``recordio-protobuf``).

    A missing content type means LibSVM. For CSV a ``label_size`` other than 1 is a user error.
    """
    if content_type is None or not content_type.strip():
        return default
    media, params = split_media_type(content_type)
    kind = _CONTENT_TYPES.get(media)
    if kind is None:
        raise AlgorithmClientError(
            f"{content_type} is not an accepted ContentType: {', '.join(ACCEPTED_CONTENT_TYPES)}."
        )
    if kind == CSV and params.get("label_size", "1") != "1":
        raise AlgorithmClientError(
            f"{content_type} is not an accepted csv ContentType. Optional parameter label_size must be equal to 1"
        )
    return kind


def validate_channels(channels: Mapping[str, Channel], version: ImageVersion) -> str:
    """Check the channel set (``train`` required; ``validation``, ``code`` optional); the data kind."""
    for name in channels:
        if name not in CHANNELS:
            raise AlgorithmClientError(f"Extraneous channel found: {name}")
    if "train" not in channels:
        raise AlgorithmClientError("Missing required channel: train")
    for channel in channels.values():
        if channel.input_mode == "Pipe" and channel.name != "code":
            raise AlgorithmClientError(
                f"Pipe mode for channel {channel.name!r} is not supported. Please use Fast File mode "
                "(default) instead. Set input_mode='File' in your SageMaker Estimator or TrainingInput."
            )
    kind = content_kind(channels["train"].content_type)
    if version.legacy and kind not in LEGACY_CONTENT_KINDS:
        raise AlgorithmClientError(
            f"{channels['train'].content_type} is not an accepted ContentType for XGBoost 0.72: "
            "text/libsvm, text/csv."
        )
    return kind


def channel_files(root: Path) -> list[Path]:
    """Data files under a channel directory (followed up to 3 levels), sorted; hidden files fail."""
    if not root.exists():
        return []
    if root.is_file():
        return [root]
    found: list[Path] = []
    base_depth = len(root.parts)
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        depth = len(Path(dirpath).parts) - base_depth
        if depth >= MAX_FOLDER_DEPTH:
            dirnames[:] = []
        dirnames.sort()
        for name in sorted(filenames):
            if name.startswith("."):
                raise AlgorithmClientError(
                    f"Hidden file found in the data path! Remove {Path(dirpath, name)} from the channel."
                )
            if ".cache" in name and ("dtrain" in name or "dval" in name):
                continue
            path = Path(dirpath, name)
            if path.is_file():
                found.append(path)
    return found


def load_dmatrix(files: list[Path], kind: str, csv_weights: int = 0) -> Any:
    """One ``xgboost.DMatrix`` from a channel's files, or ``None`` when they hold no data."""
    files = [f for f in files if f.stat().st_size > 0]
    if not files:
        return None
    if kind == CSV:
        return _load_text(files, CSV, _csv_query(files[0], csv_weights))
    if kind == LIBSVM:
        for path in files:
            _check_libsvm(path)
        return _load_text(files, LIBSVM, "format=libsvm")
    if kind == PARQUET:
        return _load_parquet(files)
    return _load_recordio(files)


def _csv_query(first_file: Path, csv_weights: int) -> str:
    with open(first_file, errors="ignore") as handle:
        line = handle.readline()
    delimiter = sniff_delimiter(line)
    if delimiter is None:
        raise AlgorithmClientError(f"Could not determine delimiter on line {line[:50]}")
    query = f"format=csv&label_column=0&delimiter={delimiter}"
    if csv_weights == 1:
        query += "&weight_column=1"
    return query


def sniff_delimiter(line: str) -> str | None:
    """The delimiter of a CSV line (``csv.Sniffer`` over the usual candidates); one column → ``,``."""
    line = line.rstrip("\r\n")
    if "," in line:
        return ","
    try:
        return csv.Sniffer().sniff(line, delimiters="\t;| ").delimiter
    except csv.Error:
        return "," if line.strip() else None


def _check_libsvm(path: Path) -> None:
    """The container's light check: the first line with features is ``label[:weight] idx:val …``."""
    with open(path, errors="ignore") as handle:
        for line in handle:
            tokens = line.split()
            if not tokens:
                continue
            label_ok = len(tokens[0].split(":")) <= 2 and all(is_float(p) for p in tokens[0].split(":"))
            features_ok = all(len(t.split(":")) == 2 for t in tokens[1:] if not t.startswith("qid:"))
            if not (label_ok and features_ok):
                raise AlgorithmClientError(
                    f"First line '{line[:50]}...' of file '{path.name}' is not 'LIBSVM' format. "
                    "Please ensure the file is in 'LIBSVM' format."
                )
            if len(tokens) > 1:
                return


def is_float(text: str | bytes) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


@contextmanager
def _single_directory(files: list[Path]) -> Iterator[Path]:
    """A directory holding exactly ``files`` (their own, or a temporary one of symlinks)."""
    parent = files[0].parent
    siblings = [p for p in parent.iterdir() if p.is_file()]
    if all(f.parent == parent for f in files) and len(siblings) == len(files):
        yield parent if len(files) > 1 else files[0]
        return
    with tempfile.TemporaryDirectory(prefix="sagestack-xgb-") as tmp:
        for index, path in enumerate(files):
            os.symlink(path.resolve(), Path(tmp, f"{index:06d}-{path.name}"))
        yield Path(tmp)


def _load_text(files: list[Path], kind: str, query: str) -> Any:
    import xgboost as xgb

    with _single_directory(files) as source:
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*Text file input has been deprecated.*")
                return xgb.DMatrix(f"{source}?{query}")
        except xgb.core.XGBoostError as exc:
            raise AlgorithmClientError(f"Failed to load {kind} data with exception:\n{exc}") from None


def _load_parquet(files: list[Path]) -> Any:
    import xgboost as xgb

    from sagestack.formats import tabular

    try:
        features, labels = tabular.load_parquet(files, label_column=0)
    except (ValueError, OSError) as exc:
        raise AlgorithmClientError(f"Failed to load parquet data with exception:\n{exc}") from None
    if labels is None or len(labels) == 0:
        raise AlgorithmClientError("Got input data without labels. Please check the input data set.")
    return xgb.DMatrix(features, label=labels)


def _load_recordio(files: list[Path]) -> Any:
    import xgboost as xgb

    from sagestack.formats import recordio_protobuf

    files = [f for f in files if not f.name.startswith(("_", "."))]
    if not files:
        return None
    try:
        batch = recordio_protobuf.load(files)
    except ValueError as exc:
        raise AlgorithmClientError(f"Failed to load recordio-protobuf data with exception:\n{exc}") from None
    if batch.labels is None or len(batch.labels) == 0:
        raise AlgorithmClientError("Got input data without labels. Please check the input data set.")
    return xgb.DMatrix(batch.features, label=batch.labels)
