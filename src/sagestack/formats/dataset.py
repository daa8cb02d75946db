"""A training channel's files read as one dataset, whatever its content type.

``files_in`` lists the data files of a channel directory (``/opt/ml/input/data/<channel>``);
``load_channel`` / ``iter_channel`` read them with the reader for the channel's content type.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sagestack.formats import content_types as ct
from sagestack.formats import recordio_protobuf, tabular
from sagestack.formats.recordio import FormatError

SUPPORTED = (ct.RECORDIO_PROTOBUF, ct.CSV, ct.LIBSVM, ct.PARQUET)
_MANIFEST_SUFFIXES = (".manifest",)


@dataclass
class Dataset:
    """Rows of a channel: ``X`` (float32, dense or CSR), ``y`` (None without labels), ``weights``."""

    X: Any
    y: np.ndarray | None
    weights: np.ndarray | None = None
    qid: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.X.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.X.shape[1])


def _hidden(name: str) -> bool:
    return name.startswith(".") or name.startswith("_")


def files_in(channel_dir: str | os.PathLike) -> list[Path]:
    """Data files under ``channel_dir`` (recursive, sorted by relative path). Skips hidden entries
    (names starting with ``.``, e.g. ``.amazon.manifest``), ``_``-prefixed bookkeeping files
    (``_SUCCESS``) and ``*.manifest`` files; follows symlinked files."""
    root = Path(channel_dir)
    if not root.is_dir():
        return []
    found = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            if _hidden(name) or name.endswith(_MANIFEST_SUFFIXES):
                continue
            path = Path(dirpath) / name
            if path.is_file():
                found.append(path)
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


def _label_column(content_type: str, label_column: int | None) -> int | None:
    size = ct.parameters(content_type).get("label_size")
    if size is not None and size.strip() == "0":
        return None
    return label_column


def load_channel(
    channel_dir: str | os.PathLike,
    content_type: str,
    *,
    label_column: int | None = 0,
    weight_column: int | None = None,
) -> Dataset:
    """Every file of the channel as one :class:`Dataset` (RecordIO-protobuf, CSV, LibSVM, Parquet)."""
    kind = ct.normalize(content_type)
    files = files_in(channel_dir)
    if kind == ct.RECORDIO_PROTOBUF:
        batch = recordio_protobuf.load(files)
        return Dataset(batch.features, batch.labels)
    if kind == ct.CSV:
        X, y, w = tabular.read_csv(
            files, _label_column(content_type, label_column), weight_column=weight_column
        )
        return Dataset(X, y, w)
    if kind == ct.LIBSVM:
        data = tabular.read_libsvm(files)
        return Dataset(data.X, data.y, data.weights, data.qid)
    if kind == ct.PARQUET:
        X, y, _ = tabular.read_parquet(files, label_column)
        return Dataset(X, y)
    raise FormatError(f"Content type {content_type!r} is not supported; supported: {', '.join(SUPPORTED)}")


def iter_channel(
    channel_dir: str | os.PathLike,
    content_type: str,
    batch_rows: int,
    *,
    label_column: int | None = 0,
    weight_column: int | None = None,
    transient: bool = False,
) -> Iterator[Dataset]:
    """The channel's rows in batches of ``batch_rows`` (the last may be shorter), streamed from disk
    for RecordIO-protobuf, CSV and Parquet; LibSVM is read file by file. ``transient``: a batch may be a
    view of a reused read buffer, valid until the next one (see ``recordio_protobuf.iter_batches``)."""
    kind = ct.normalize(content_type)
    files = files_in(channel_dir)
    if kind == ct.RECORDIO_PROTOBUF:
        for batch in recordio_protobuf.iter_batches(files, batch_rows, transient=transient):
            yield Dataset(batch.features, batch.labels)
    elif kind == ct.CSV:
        label = _label_column(content_type, label_column)
        for X, y, w in tabular.iter_csv(files, batch_rows, label, weight_column=weight_column):
            yield Dataset(X, y, w)
    elif kind == ct.PARQUET:
        for X, y, _ in tabular.iter_parquet(files, batch_rows, label_column):
            yield Dataset(X, y)
    elif kind == ct.LIBSVM:

        def blocks() -> Iterator[tuple[Any, ...]]:
            for path in files:
                data = tabular.read_libsvm([path])
                if data.X.shape[0]:
                    yield (data.X, data.y, data.weights)

        for X, y, w in tabular.rebatch(blocks(), batch_rows):
            yield Dataset(X, y, w)
    else:
        raise FormatError(
            f"Content type {content_type!r} is not supported; supported: {', '.join(SUPPORTED)}"
        )
