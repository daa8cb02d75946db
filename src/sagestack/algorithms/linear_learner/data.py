"""Channel data for training: streamed in chunks, kept in memory when it fits, shuffled.

A channel is read with :func:`sagestack.formats.dataset.iter_channel`. While the data read so far fits the
memory budget it is kept (float32, dense or CSR); after the first full read it is concatenated and its rows
permuted once, and every epoch then walks contiguous mini-batch slices in a fresh random order (views, no
copies). Data larger than the budget is re-read every epoch, rows permuted inside each chunk.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sagestack.algorithms.base import AlgorithmClientError

CHUNK_ROWS = 65536
CACHE_ENV = "SAGESTACK_LINEAR_LEARNER_CACHE_BYTES"  # override of the in-memory budget (tests, tuning)


def memory_budget() -> int:
    """Bytes of training data kept in memory: half of the available memory, at most 16 GiB."""
    override = os.environ.get(CACHE_ENV)
    if override:
        return int(override)
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return min(int(line.split()[1]) * 1024 // 2, 16 << 30)
    except OSError:
        pass
    return 4 << 30


@dataclass
class Chunk:
    X: Any  # float32 ndarray (rows, features) or scipy.sparse.csr_matrix
    y: np.ndarray  # float32 (rows,)
    w: np.ndarray | None  # float32 (rows,) or None

    @property
    def rows(self) -> int:
        return int(self.X.shape[0])

    @property
    def nbytes(self) -> int:
        X = self.X
        size = X.nbytes if isinstance(X, np.ndarray) else X.data.nbytes + X.indices.nbytes + X.indptr.nbytes
        return int(size + self.y.nbytes + (self.w.nbytes if self.w is not None else 0))

    def take(self, index: np.ndarray | slice) -> Chunk:
        return Chunk(self.X[index], self.y[index], None if self.w is None else self.w[index])


def _is_sparse(X: Any) -> bool:
    return not isinstance(X, np.ndarray) and hasattr(X, "tocsr")


def _normalise(dataset: Any, channel: str, feature_dim: int | None) -> Chunk:
    X = dataset.X
    if _is_sparse(X):
        X = X.tocsr()
        if X.dtype != np.float32:
            X = X.astype(np.float32)
        values = X.data
    else:
        X = np.ascontiguousarray(X, dtype=np.float32)
        if X.ndim == 1:
            X = X.reshape(-1, 1)
        values = X
    if feature_dim is not None and X.shape[1] != feature_dim:
        raise AlgorithmClientError(
            f"The {channel} channel has {X.shape[1]} features per record but feature_dim is {feature_dim}"
        )
    if not np.isfinite(values).all():
        raise AlgorithmClientError(f"The {channel} channel contains NaN or infinite feature values")
    y = getattr(dataset, "y", None)
    if y is None:
        raise AlgorithmClientError(f"The {channel} channel has records without a label")
    y = np.asarray(y, dtype=np.float32)
    if y.ndim > 1:
        y = y[:, 0] if y.shape[1] >= 1 else y.reshape(-1)
    if y.shape[0] != X.shape[0]:
        raise AlgorithmClientError(f"The {channel} channel has {y.shape[0]} labels for {X.shape[0]} records")
    w = getattr(dataset, "weights", None)
    if w is not None:
        w = np.asarray(w, dtype=np.float32).reshape(-1)
    return Chunk(X, y, w)


def _concat(chunks: list[Chunk]) -> Chunk:
    if len(chunks) == 1:
        return chunks[0]
    if any(_is_sparse(c.X) for c in chunks):
        import scipy.sparse as sp

        X = sp.vstack([sp.csr_matrix(c.X) for c in chunks], format="csr", dtype=np.float32)
    else:
        X = np.concatenate([c.X for c in chunks])
    y = np.concatenate([c.y for c in chunks])
    w = None
    if any(c.w is not None for c in chunks):
        w = np.concatenate([c.w if c.w is not None else np.ones(c.rows, np.float32) for c in chunks])
    return Chunk(X, y, w)


class ChannelData:
    """One channel's records, read once into memory when they fit the budget, else streamed."""

    def __init__(
        self, name: str, path: Path, content_type: str, feature_dim: int | None, budget: int, seed: int = 0
    ):
        self.name = name
        self.path = Path(path)
        self.content_type = content_type
        self.feature_dim = feature_dim
        self.budget = budget
        self.rng = np.random.default_rng(seed)
        self.cached: Chunk | None = None
        self.rows: int | None = None
        self.head: Chunk | None = None  # first rows (when streaming), for samples
        self.validate: Callable[[Chunk], None] | None = None  # called on every chunk read

    def _read(self) -> Iterator[Chunk]:
        from sagestack.formats.dataset import iter_channel
        from sagestack.formats.recordio import FormatError

        try:
            for dataset in iter_channel(self.path, self.content_type, CHUNK_ROWS):
                chunk = _normalise(dataset, self.name, self.feature_dim)
                if self.feature_dim is None:
                    self.feature_dim = int(chunk.X.shape[1])
                if chunk.rows:
                    if self.validate is not None:
                        self.validate(chunk)
                    yield chunk
        except FormatError as exc:
            raise AlgorithmClientError(f"Could not read the {self.name} channel: {exc}") from None

    def load(self, sample_rows: int) -> None:
        """First read: cache everything if it fits, else keep the first ``sample_rows`` rows only."""
        kept: list[Chunk] = []
        size = 0
        rows = 0
        streaming = False
        for chunk in self._read():
            kept.append(chunk)
            rows += chunk.rows
            size += chunk.nbytes
            if size > self.budget:
                streaming = True
            if streaming and rows >= sample_rows:
                break
        if rows == 0:
            raise AlgorithmClientError(f"The {self.name} channel has no records")
        if streaming:
            covered = np.cumsum([c.rows for c in kept])
            kept = kept[: int(np.searchsorted(covered, sample_rows)) + 1]
            self.head = _concat(kept).take(slice(0, sample_rows))
        else:
            data = _concat(kept)
            self.rows = rows
            self.cached = data.take(self.rng.permutation(data.rows)) if self.name == "train" else data

    def sample(self, rows: int) -> Chunk:
        """Up to ``rows`` records: a random sample when cached, the first records otherwise."""
        source = self.cached if self.cached is not None else self.head
        assert source is not None, "load() first"
        return source.take(slice(0, min(rows, source.rows)))

    def chunks(self, rows: int = CHUNK_ROWS) -> Iterator[Chunk]:
        """One pass over the records in order (for evaluation)."""
        if self.cached is not None:
            for start in range(0, self.cached.rows, rows):
                yield self.cached.take(slice(start, start + rows))
        else:
            for chunk in self._read():
                for start in range(0, chunk.rows, rows):
                    yield chunk.take(slice(start, start + rows))

    def batches(self, batch_rows: int) -> Iterator[Chunk]:
        """One training epoch of mini-batches in random order."""
        if self.cached is not None:
            starts = np.arange(0, self.cached.rows, batch_rows)
            for start in starts[self.rng.permutation(starts.shape[0])]:
                yield self.cached.take(slice(int(start), int(start) + batch_rows))
        else:
            for chunk in self._read():
                chunk = chunk.take(self.rng.permutation(chunk.rows))
                for start in range(0, chunk.rows, batch_rows):
                    yield chunk.take(slice(start, start + batch_rows))
