"""Re-iterable dense mini-batches of one channel, for the multi-pass algorithms (k-means, PCA).

Multi-pass algorithms call the object once per pass. The first pass decodes the channel with
:func:`sagestack.formats.dataset.iter_channel`; while the decoded rows fit in ``cache_bytes`` they are
kept, so later passes (epochs, Lloyd refinement, power iterations) cost no I/O or decoding, and
:attr:`ChannelBatches.in_memory` then holds the whole channel as one array.

Single-pass consumers that keep nothing (PCA's regular mode) ask for ``transient`` batches: read through
one reused buffer and, for dense Float32 RecordIO-protobuf, strided views of the records in it (no
decode copy, no fresh memory per chunk); each is valid until the next is asked for and nothing is cached.
``check_finite=False`` leaves the NaN/infinity check to the caller (:meth:`ChannelBatches.check_finite`),
for one that can tell from its own results whether it needs to look.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from sagestack.algorithms.base import AlgorithmClientError, AlgorithmSpec, Channel, reader_content_type

DEFAULT_CACHE_BYTES = 1 << 30


class ChannelBatches:
    """Batches of ``batch_rows`` rows (the last may be shorter) as C-contiguous float32 arrays."""

    def __init__(
        self,
        channel_dir: Path,
        content_type: str,
        batch_rows: int,
        feature_dim: int,
        channel_name: str = "train",
        cache_bytes: int = DEFAULT_CACHE_BYTES,
        transient: bool = False,
        check_finite: bool = True,
    ):
        self.channel_dir = Path(channel_dir)
        self.content_type = content_type
        self.batch_rows = batch_rows
        self.feature_dim = feature_dim
        self.channel_name = channel_name
        self.cache_bytes = cache_bytes
        self.transient = transient
        self.verify_finite = check_finite
        self.rows: int | None = None
        self._cache: list[np.ndarray] | None = None
        self._joined: np.ndarray | None = None

    @classmethod
    def of(
        cls,
        spec: AlgorithmSpec,
        channel: Channel,
        batch_rows: int,
        feature_dim: int,
        cache_bytes: int = DEFAULT_CACHE_BYTES,
        *,
        transient: bool = False,
        check_finite: bool = True,
    ) -> ChannelBatches:
        """The batches of a job's channel, read as its (validated) content type says."""
        return cls(
            channel.path,
            reader_content_type(spec, channel),
            batch_rows,
            feature_dim,
            channel.name,
            cache_bytes,
            transient,
            check_finite,
        )

    @property
    def in_memory(self) -> np.ndarray | None:
        """The whole channel as one ``(rows, feature_dim)`` array once a pass has cached it."""
        if self._cache is None:
            return None
        if self._joined is None:
            if self._cache:
                self._joined = np.concatenate(self._cache)
            else:
                self._joined = np.zeros((0, self.feature_dim), dtype=np.float32)
            self._cache = [
                self._joined[i : i + self.batch_rows]
                for i in range(0, self._joined.shape[0], self.batch_rows)
            ]
        return self._joined

    def preload(self) -> np.ndarray | None:
        """Decode the channel now when its files fit the cache budget; the whole array, else None."""
        size = sum(f.stat().st_size for f in self.channel_dir.rglob("*") if f.is_file())
        if self.transient or size > self.cache_bytes:
            return None
        for _ in self():
            pass
        return self.in_memory

    def __call__(self) -> Iterator[np.ndarray]:
        if self._cache is not None:
            yield from self._cache
            return
        from sagestack.formats.dataset import iter_channel

        cache: list[np.ndarray] | None = None if self.transient else []
        cached_bytes = 0
        rows = 0
        for dataset in iter_channel(
            self.channel_dir, self.content_type, self.batch_rows, transient=self.transient
        ):
            batch = self._dense(dataset.X)
            if batch.shape[0] == 0:
                continue
            rows += batch.shape[0]
            if cache is not None:
                cached_bytes += batch.nbytes
                if cached_bytes <= self.cache_bytes:
                    cache.append(batch)
                else:
                    cache = None
            yield batch
        self.rows = rows
        self._cache = cache

    def _dense(self, X: object) -> np.ndarray:
        if hasattr(X, "toarray"):
            X = X.toarray()  # type: ignore[union-attr]
        array = np.asarray(X, dtype=np.float32)
        if array.ndim == 1:
            array = array.reshape(1, -1) if array.size else array.reshape(0, self.feature_dim)
        if array.shape[1] != self.feature_dim:
            raise AlgorithmClientError(
                f"The {self.channel_name} channel has records with {array.shape[1]} features but "
                f"feature_dim is {self.feature_dim}; set feature_dim to the number of features"
            )
        if self.verify_finite:
            self.check_finite(array)
        return array if self.transient else np.ascontiguousarray(array)

    def check_finite(self, batch: np.ndarray) -> None:
        """Raise the client error for a batch holding NaN or infinity."""
        # one float64 sum instead of a boolean matrix: finite float32 values never overflow it, and any
        # NaN or infinity makes it non-finite
        if not np.isfinite(batch.sum(dtype=np.float64)):
            raise AlgorithmClientError(
                f"The {self.channel_name} channel contains NaN or infinite feature values"
            )
