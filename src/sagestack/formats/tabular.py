"""CSV, LibSVM and Parquet training data (spec algorithms.md §2.1 "Data rules").

* CSV: no header, label in ``label_column`` (default 0), optional weight column, delimiter sniffed from
  the first line when not given; read with pandas' C parser as float32 (empty fields → NaN).
* LibSVM: ``<label>[:<weight>] [qid:<q>] <index>:<value> ...``; indices are taken as written
  (zero-based, as XGBoost reads them) unless ``zero_based`` says otherwise.
* Parquet: every column numeric, column ``label_column`` (default 0) is the label.

Functions take one path or a list of paths; several files are concatenated in the order given.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from sagestack.formats.recordio import FormatError

PathLike = str | os.PathLike
Paths = PathLike | Sequence[PathLike]
_DELIMITERS = (",", "\t", ";", "|")


def _as_paths(paths: Paths) -> list[PathLike]:
    if isinstance(paths, (str, os.PathLike)):
        return [paths]
    return list(paths)


def _split(
    matrix: np.ndarray, label_column: int | None, weight_column: int | None = None
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """(features, label, weights) from a 2-D float32 matrix."""
    ncols = matrix.shape[1]
    special = [c for c in (label_column, weight_column) if c is not None]
    for c in special:
        if not -ncols <= c < ncols:
            raise FormatError(f"column {c} does not exist: the data has {ncols} columns")
    special = [c % ncols for c in special]
    y = matrix[:, special[0]].copy() if label_column is not None else None
    w = matrix[:, weight_column % ncols].copy() if weight_column is not None else None
    if not special:
        return matrix, y, w
    keep = np.setdiff1d(np.arange(ncols), special)
    return np.ascontiguousarray(matrix[:, keep]), y, w


# --------------------------------------------------------------------------------------------------
# CSV


def sniff_delimiter(sample: bytes | str) -> str:
    """The delimiter of a CSV line: the first of ``, TAB ; |`` it contains, else ``,``."""
    text = sample.decode("utf-8", "replace") if isinstance(sample, bytes) else sample
    line = text.split("\n", 1)[0]
    for delim in _DELIMITERS:
        if delim in line:
            return delim
    return ","


def _first_line(paths: list[PathLike]) -> bytes:
    for path in paths:
        with open(path, "rb") as fh:
            line = fh.readline()
        if line.strip():
            return line
    return b""


def _read_csv_frame(source: Any, delimiter: str, **kwargs: Any) -> Any:
    import pandas as pd

    try:
        return pd.read_csv(
            source, header=None, sep=delimiter, dtype=np.float32, engine="c", skip_blank_lines=True, **kwargs
        )
    except pd.errors.EmptyDataError:
        return None
    except (ValueError, pd.errors.ParserError) as exc:
        raise FormatError(f"CSV data could not be parsed as numbers: {exc}") from None


def read_csv(
    paths: Paths,
    label_column: int | None = 0,
    *,
    weight_column: int | None = None,
    delimiter: str | None = None,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """(X float32, y, weights) from headerless CSV files."""
    files = _as_paths(paths)
    delimiter = delimiter or sniff_delimiter(_first_line(files))
    blocks = []
    for path in files:
        frame = _read_csv_frame(path, delimiter)
        if frame is not None and len(frame):
            blocks.append(np.ascontiguousarray(frame.to_numpy(dtype=np.float32)))
    if not blocks:
        width = 0
        return (
            np.zeros((0, width), np.float32),
            (np.zeros(0, np.float32) if label_column is not None else None),
            None,
        )
    widths = {b.shape[1] for b in blocks}
    if len(widths) > 1:
        raise FormatError(f"CSV files have different numbers of columns: {sorted(widths)}")
    return _split(np.concatenate(blocks) if len(blocks) > 1 else blocks[0], label_column, weight_column)


def load_csv(
    paths: Paths, label_column: int | None = 0, *, delimiter: str | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """(X float32, y float32 or None) from headerless CSV files; ``label_column=None``: no label."""
    X, y, _ = read_csv(paths, label_column, delimiter=delimiter)
    return X, y


def parse_csv_bytes(body: bytes, delimiter: str | None = None) -> np.ndarray:
    """A CSV body (no header, no label) as a float32 matrix."""
    frame = _read_csv_frame(io.BytesIO(body), delimiter or sniff_delimiter(body[:4096]))
    return (
        np.zeros((0, 0), np.float32)
        if frame is None
        else np.ascontiguousarray(frame.to_numpy(dtype=np.float32))
    )


def rebatch(blocks: Iterator[tuple[np.ndarray, ...]], batch_rows: int) -> Iterator[tuple[Any, ...]]:
    """Re-cut a stream of aligned (X, y, ...) blocks into batches of exactly ``batch_rows`` rows."""
    if batch_rows <= 0:
        raise ValueError("batch_rows must be positive")
    pending: list[tuple[Any, ...]] = []
    count = 0
    for block in blocks:
        pending.append(block)
        count += block[0].shape[0]
        while count >= batch_rows:
            merged = tuple(_concat_optional([p[i] for p in pending]) for i in range(len(block)))
            yield tuple(None if m is None else m[:batch_rows] for m in merged)
            rest = tuple(None if m is None else m[batch_rows:] for m in merged)
            count -= batch_rows
            pending = [rest] if count else []
    if count:
        yield tuple(_concat_optional([p[i] for p in pending]) for i in range(len(pending[0])))


def _concat_optional(parts: list[Any]) -> Any:
    if parts[0] is None:
        return None
    if len(parts) == 1:
        return parts[0]
    if hasattr(parts[0], "tocsr"):
        import scipy.sparse as sp

        width = max(p.shape[1] for p in parts)
        mats = []
        for p in parts:
            p = p.tocsr()
            if p.shape[1] != width:
                p.resize((p.shape[0], width))
            mats.append(p)
        return sp.vstack(mats, format="csr")
    return np.concatenate(parts)


def iter_csv(
    paths: Paths,
    batch_rows: int,
    label_column: int | None = 0,
    *,
    weight_column: int | None = None,
    delimiter: str | None = None,
) -> Iterator[tuple[np.ndarray, np.ndarray | None, np.ndarray | None]]:
    """Stream (X, y, weights) batches of ``batch_rows`` rows (the last may be shorter)."""
    files = _as_paths(paths)
    delimiter = delimiter or sniff_delimiter(_first_line(files))

    def blocks() -> Iterator[tuple[Any, ...]]:
        width = None
        for path in files:
            reader = _read_csv_frame(path, delimiter, chunksize=max(batch_rows, 1024))
            if reader is None:
                continue
            try:
                for frame in reader:
                    matrix = np.ascontiguousarray(frame.to_numpy(dtype=np.float32))
                    if width is not None and matrix.shape[1] != width:
                        raise FormatError(
                            f"CSV files have different numbers of columns: {width}, {matrix.shape[1]}"
                        )
                    width = matrix.shape[1]
                    yield _split(matrix, label_column, weight_column)
            except ValueError as exc:
                if isinstance(exc, FormatError):
                    raise
                raise FormatError(f"CSV data could not be parsed as numbers: {exc}") from None

    yield from rebatch(blocks(), batch_rows)  # type: ignore[misc]


# --------------------------------------------------------------------------------------------------
# LibSVM


@dataclass
class LibSVMData:
    X: Any  # scipy.sparse.csr_matrix, float32
    y: np.ndarray
    weights: np.ndarray | None = None
    qid: np.ndarray | None = None


_LABEL_WEIGHT = re.compile(rb"(?m)^([ \t]*)([^\s:#]+):([^\s]+)")


def _strip_weights(data: bytes) -> tuple[bytes, np.ndarray | None]:
    """Remove XGBoost's ``label:weight`` syntax; returns the cleaned text and the weights (1.0 where a
    line has none)."""
    if not _LABEL_WEIGHT.search(data):
        return data, None
    weights: list[float] = []

    def repl(match: re.Match[bytes]) -> bytes:
        weights.append(float(match.group(3)))
        return match.group(1) + match.group(2)

    lines = data.split(b"\n")
    cleaned = []
    for line in lines:
        body = line.split(b"#", 1)[0]
        if not body.strip():
            cleaned.append(line)
            continue
        new, count = _LABEL_WEIGHT.subn(repl, line, count=1)
        if not count:
            weights.append(1.0)
        cleaned.append(new)
    return b"\n".join(cleaned), np.asarray(weights, dtype=np.float32)


def read_libsvm(paths: Paths, *, zero_based: bool | str = True, n_features: int | None = None) -> LibSVMData:
    """LibSVM files (one matrix, consistent width) with labels, ``label:weight`` weights and ``qid``s."""
    from sklearn.datasets import load_svmlight_files

    sources, weights, has_qid = [], [], False
    for path in _as_paths(paths):
        with open(path, "rb") as fh:
            data = fh.read()
        if not data.strip():
            continue
        cleaned, w = _strip_weights(data)
        has_qid = has_qid or b"qid:" in cleaned
        sources.append(io.BytesIO(cleaned))
        weights.append(w)
    if not sources:
        import scipy.sparse as sp

        return LibSVMData(sp.csr_matrix((0, n_features or 0), dtype=np.float32), np.zeros(0, np.float32))
    try:
        parts = load_svmlight_files(
            sources, n_features=n_features, dtype=np.float32, zero_based=zero_based, query_id=True
        )
    except ValueError as exc:
        raise FormatError(f"LibSVM data could not be parsed: {exc}") from None
    import scipy.sparse as sp

    Xs, ys, qs = parts[0::3], parts[1::3], parts[2::3]
    X = sp.vstack(Xs, format="csr", dtype=np.float32) if len(Xs) > 1 else Xs[0].tocsr()
    y = np.concatenate(ys).astype(np.float32)
    w = None
    if any(wi is not None for wi in weights):
        w = np.concatenate(
            [wi if wi is not None else np.ones(x.shape[0], np.float32) for wi, x in zip(weights, Xs)]
        )
    qid = None
    if has_qid:  # files without qids give empty arrays: those rows get qid 0
        qid = np.concatenate(
            [q if q.shape[0] == x.shape[0] else np.zeros(x.shape[0], np.int64) for q, x in zip(qs, Xs)]
        )
    return LibSVMData(X, y, w, qid)


def load_libsvm(paths: Paths, *, zero_based: bool | str = True) -> tuple[Any, np.ndarray]:
    """(X csr float32, y float32) from LibSVM files."""
    data = read_libsvm(paths, zero_based=zero_based)
    return data.X, data.y


# --------------------------------------------------------------------------------------------------
# Parquet


def _table_matrix(table: Any) -> np.ndarray:
    if table.num_columns == 0:
        return np.zeros((table.num_rows, 0), np.float32)
    cols = []
    for name, col in zip(table.column_names, table.columns):
        try:
            cols.append(np.asarray(col.to_numpy(zero_copy_only=False), dtype=np.float32))
        except (ValueError, TypeError) as exc:
            raise FormatError(f"Parquet column {name!r} is not numeric: {exc}") from None
    return np.column_stack(cols)


def read_parquet(
    paths: Paths, label_column: int | None = 0
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    import pyarrow.parquet as pq

    blocks = [_table_matrix(pq.read_table(path)) for path in _as_paths(paths)]
    blocks = [b for b in blocks if b.shape[0]]
    if not blocks:
        return (
            np.zeros((0, 0), np.float32),
            (np.zeros(0, np.float32) if label_column is not None else None),
            None,
        )
    widths = {b.shape[1] for b in blocks}
    if len(widths) > 1:
        raise FormatError(f"Parquet files have different numbers of columns: {sorted(widths)}")
    return _split(np.concatenate(blocks) if len(blocks) > 1 else blocks[0], label_column)


def load_parquet(paths: Paths, label_column: int | None = 0) -> tuple[np.ndarray, np.ndarray | None]:
    """(X float32, y) from Parquet files; column ``label_column`` is the label."""
    X, y, _ = read_parquet(paths, label_column)
    return X, y


def iter_parquet(
    paths: Paths, batch_rows: int, label_column: int | None = 0
) -> Iterator[tuple[np.ndarray, np.ndarray | None, np.ndarray | None]]:
    """Stream (X, y, None) batches of ``batch_rows`` rows, reading row groups as needed."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    def blocks() -> Iterator[tuple[Any, ...]]:
        for path in _as_paths(paths):
            pf = pq.ParquetFile(path)
            for batch in pf.iter_batches(batch_size=batch_rows):
                yield _split(_table_matrix(pa.Table.from_batches([batch])), label_column)

    yield from rebatch(blocks(), batch_rows)  # type: ignore[misc]
