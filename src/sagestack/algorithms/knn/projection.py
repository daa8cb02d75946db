"""Random dimension reduction for k-NN: sign projection and the fast Johnson-Lindenstrauss transform.

Both are plain functions of a small fitted state (:class:`Projection`) that is saved with the model, so
queries are reduced exactly as the training points were.

* ``sign``: ``X @ R`` with ``R[i, j]`` uniformly ±1/sqrt(target) (works on scipy sparse input as is).
* ``fjlt``: a subsampled randomized trigonometric transform, ``sqrt(d / target) * DCT(X * s)[:, idx]``
  with random signs ``s`` and ``target`` random coordinates ``idx`` of the orthonormal DCT-II — the
  FJLT family's structured variant (Ailon & Chazelle; Tropp's SRHT analysis applies to the DCT).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


@dataclass(frozen=True)
class Projection:
    kind: str  # "sign" | "fjlt"
    input_dim: int
    target_dim: int
    seed: int
    matrix: np.ndarray | None = None  # sign: (input_dim, target_dim) float32
    signs: np.ndarray | None = None  # fjlt: (input_dim,) float32 of ±1
    columns: np.ndarray | None = None  # fjlt: (target_dim,) int64 DCT coordinates kept

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays to store (``np.savez``) besides the JSON metadata."""
        if self.kind == "sign":
            return {"matrix": self.matrix}
        return {"signs": self.signs, "columns": self.columns}


def make_projection(kind: str, input_dim: int, target_dim: int, seed: int) -> Projection:
    rng = np.random.default_rng(seed)
    if kind == "sign":
        matrix = rng.choice(np.array([-1.0, 1.0], dtype=np.float32), size=(input_dim, target_dim))
        matrix /= np.float32(np.sqrt(target_dim))
        return Projection(kind, input_dim, target_dim, seed, matrix=matrix)
    if kind == "fjlt":
        signs = rng.choice(np.array([-1.0, 1.0], dtype=np.float32), size=input_dim)
        columns = np.sort(rng.choice(input_dim, size=target_dim, replace=False)).astype(np.int64)
        return Projection(kind, input_dim, target_dim, seed, signs=signs, columns=columns)
    raise ValueError(f"unknown dimension reduction {kind!r}")


def projection_from_arrays(kind: str, input_dim: int, target_dim: int, seed: int, arrays) -> Projection:
    if kind == "sign":
        return Projection(kind, input_dim, target_dim, seed, matrix=np.asarray(arrays["matrix"]))
    return Projection(
        kind,
        input_dim,
        target_dim,
        seed,
        signs=np.asarray(arrays["signs"]),
        columns=np.asarray(arrays["columns"]),
    )


def apply_projection(projection: Projection, X) -> np.ndarray:
    """Reduce rows of ``X`` (dense array or scipy sparse) to ``target_dim`` float32 columns."""
    if projection.kind == "sign":
        out = X @ projection.matrix
        return np.ascontiguousarray(np.asarray(out, dtype=np.float32))
    from scipy.fft import dct

    dense = X.toarray() if sp.issparse(X) else np.asarray(X)
    mixed = dct(dense.astype(np.float64) * projection.signs, type=2, norm="ortho", axis=1)
    scale = np.sqrt(projection.input_dim / projection.target_dim)
    return np.ascontiguousarray((mixed[:, projection.columns] * scale).astype(np.float32))
