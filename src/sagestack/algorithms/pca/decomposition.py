"""PCA math over streamed batches, as plain functions and accumulators over numpy arrays.

* ``regular``: :class:`ScatterAccumulator` sums the (shifted) scatter matrix ``Σ (x-s)(x-s)ᵀ`` and
  ``Σ (x-s)`` in float64 over the batches; :func:`exact_components` eigendecomposes the covariance.
  The shift ``s`` (the first batch's mean) keeps the sums well conditioned when the mean is large.
* ``randomized``: :func:`randomized_components` runs a randomized range finder with power iterations
  (Halko, Martinsson & Tropp 2011) on the implicit covariance: every product ``C·M`` is one pass over
  the batches (:class:`CovarianceProduct`), so memory is ``O(d·l)`` with ``l = num_components +
  extra_components``.

Components come out **in ascending order of variance** (the top component last), as SageMaker's PCA
orders ``v``, ``s`` and its projections; each component's sign makes its largest-magnitude entry
positive.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

BatchPasses = Callable[[], Iterable[np.ndarray]]

POWER_ITERATIONS = 4


@contextlib.contextmanager
def _one_blas_thread() -> Iterator[None]:
    """LAPACK on the small (d x d, d x l) matrices single-threaded: OpenBLAS's threads cost far more
    than they save there (numpy's ``eigh`` of 50 x 50 took 25-45 ms with 2 threads on a busy machine,
    0.2-0.5 ms with one)."""
    controller = _threadpool_controller()
    if controller is None:  # pragma: no cover - threadpoolctl is installed with scikit-learn
        yield
        return
    with controller.limit(limits=1, user_api="blas"):
        yield


@functools.cache
def _threadpool_controller() -> Any:
    """threadpoolctl's view of the loaded BLAS libraries, found once per process (finding them walks
    every loaded library: ≈3 ms, a tenth of a small PCA job's CPU)."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover
        return None
    return ThreadpoolController()


@dataclass
class PCAResult:
    mean: np.ndarray  # (d,) float64; zeros when subtract_mean is off
    components: np.ndarray  # (d, num_components), columns in ascending order of variance
    singular_values: np.ndarray  # (num_components,), ascending
    total_variance: float  # trace of the scatter matrix (sum of squared centred norms)
    rows: int


@dataclass
class ScatterAccumulator:
    """Running ``n``, ``Σ(x-s)`` and ``Σ(x-s)(x-s)ᵀ`` with a fixed shift ``s``.

    The shift is the first batch's mean when centring matters for float32 precision, i.e. when some
    column's mean is larger than its standard deviation (the rounding of an uncentred product grows with
    ``(σ² + μ²) / σ²``); otherwise it is zero and each batch's product is taken straight from the
    batch (no shifted copy; at most twice the rounding of the centred product, both at float32's
    ``1e-7``): ``use_shift=False`` forces zero."""

    dim: int
    use_shift: bool = True
    rows: int = 0
    shift: np.ndarray | None = None
    total: np.ndarray = field(init=False)
    scatter: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.total = np.zeros(self.dim, dtype=np.float64)
        self.scatter = np.zeros((self.dim, self.dim), dtype=np.float64)
        self._shift32: np.ndarray | None = None
        self._buffer: np.ndarray | None = None  # [shifted batch | 1], reused across batches
        self._ones: np.ndarray | None = None  # for the column sums of an unshifted batch

    def add(self, X: np.ndarray) -> bool:
        """Add a batch: one float32 GEMM (as scikit-learn's covariance solver does) and float64 running
        totals. Shifted, the batch is subtracted into a reused buffer whose extra column of ones yields
        the column sums in the same GEMM; unshifted, the GEMM reads the batch where it lies (a strided
        view of the reader's buffer works: BLAS takes the row stride) and a GEMV with ones sums it.
        Returns whether the batch's product is finite: a NaN or infinity anywhere in ``X`` makes its
        column's diagonal entry non-finite, so a caller can skip checking finite batches value by value."""
        d = self.dim
        X = np.asarray(X, dtype=np.float32)
        if self.shift is None:
            shift = np.zeros(d)
            if self.use_shift:
                mean = X.mean(axis=0, dtype=np.float64)
                with np.errstate(invalid="ignore", over="ignore"):
                    small = bool((mean * mean <= X.var(axis=0, dtype=np.float64)).all())
                if not small:
                    shift = mean
            self._shift32 = shift.astype(np.float32)
            self.shift = self._shift32.astype(np.float64)  # the shift actually subtracted
        n = X.shape[0]
        if not self.shift.any():
            return self._add_unshifted(X)
        buffer = self._buffer
        if buffer is None or buffer.shape[0] < n:
            buffer = self._buffer = np.empty((n, d + 1), dtype=np.float32)
            buffer[:, d] = 1.0
        Xs = buffer[:n]
        with np.errstate(invalid="ignore", over="ignore"):  # NaN/infinity: reported by the return value
            np.subtract(X, self._shift32, out=Xs[:, :d])
            product = Xs.T @ Xs  # [[Σ(x-s)(x-s)ᵀ, Σ(x-s)], [Σ(x-s)ᵀ, n]]
        self.scatter += product[:d, :d]
        self.total += product[d, :d]
        self.rows += n
        return bool(np.isfinite(product.diagonal()).all())

    def _add_unshifted(self, X: np.ndarray) -> bool:
        n = X.shape[0]
        if self._ones is None or self._ones.shape[0] < n:
            self._ones = np.ones(n, dtype=np.float32)
        with np.errstate(invalid="ignore", over="ignore"):
            product = X.T @ X
            sums = self._ones[:n] @ X
        self.scatter += product
        self.total += sums
        self.rows += n
        return bool(np.isfinite(product.diagonal()).all() and np.isfinite(sums).all())

    def mean(self) -> np.ndarray:
        assert self.shift is not None
        return self.shift + self.total / max(self.rows, 1)

    def centred_scatter(self, subtract_mean: bool) -> np.ndarray:
        """``Σ(x-μ)(x-μ)ᵀ`` (``subtract_mean``) or ``Σ x xᵀ``."""
        assert self.shift is not None
        if subtract_mean:
            return self.scatter - np.outer(self.total, self.total) / max(self.rows, 1)
        s, t = self.shift, self.total
        return self.scatter + np.outer(s, t) + np.outer(t, s) + self.rows * np.outer(s, s)


def exact_components(acc: ScatterAccumulator, num_components: int, subtract_mean: bool) -> PCAResult:
    """Top ``num_components`` eigenvectors of the accumulated scatter matrix."""
    scatter = acc.centred_scatter(subtract_mean)
    scatter = (scatter + scatter.T) / 2
    with _one_blas_thread():
        values, vectors = np.linalg.eigh(scatter)  # ascending
    top = slice(scatter.shape[0] - num_components, None)
    return PCAResult(
        mean=acc.mean() if subtract_mean else np.zeros(acc.dim),
        components=_fix_signs(vectors[:, top]),
        singular_values=np.sqrt(np.maximum(values[top], 0.0)),
        total_variance=float(np.trace(scatter)),
        rows=acc.rows,
    )


class CovarianceProduct:
    """One pass computing ``C·M`` for the implicit scatter matrix ``C`` of the batches.

    ``C = Σ(x-s)(x-s)ᵀ - n·δδᵀ`` with ``δ = μ - s`` when the mean is subtracted (``s``: first batch
    mean), ``C = Σ x xᵀ`` otherwise. The pass also returns the row count, mean and trace of ``C``.
    """

    def __init__(self, dim: int, subtract_mean: bool, shift: np.ndarray | None = None):
        self.dim = dim
        self.subtract_mean = subtract_mean
        self.shift = shift

    def run(
        self, passes: BatchPasses, M: np.ndarray, with_trace: bool = False
    ) -> tuple[np.ndarray, int, np.ndarray, float]:
        """``(C·M, rows, mean, trace(C))``; products in float32, sums in float64."""
        product = np.zeros((self.dim, M.shape[1]), dtype=np.float64)
        total = np.zeros(self.dim, dtype=np.float64)
        M32 = M.astype(np.float32)
        trace = 0.0
        rows = 0
        for X in passes():
            if self.shift is None:
                shift = X.mean(axis=0, dtype=np.float64) if self.subtract_mean else np.zeros(self.dim)
                self.shift = shift.astype(np.float32).astype(np.float64)  # exactly what is subtracted
            Xs = X.astype(np.float32, copy=False)
            if self.subtract_mean:
                Xs = Xs - self.shift.astype(np.float32)
            product += Xs.T @ (Xs @ M32)
            total += Xs.sum(axis=0, dtype=np.float64)
            if with_trace:
                trace += float(np.einsum("ij,ij->", Xs, Xs, dtype=np.float64))
            rows += X.shape[0]
        if rows == 0:
            return product, 0, np.zeros(self.dim), 0.0
        if self.subtract_mean:
            delta = total / rows
            product -= rows * np.outer(delta, delta @ M)
            trace -= rows * float(delta @ delta)
            mean = self.shift + delta
        else:
            mean = np.zeros(self.dim)
        return product, rows, mean, trace


def randomized_components(
    passes: BatchPasses,
    dim: int,
    num_components: int,
    extra_components: int,
    subtract_mean: bool,
    rng: np.random.Generator,
    power_iterations: int = POWER_ITERATIONS,
) -> PCAResult:
    """Randomized PCA: range finder on ``C`` with ``power_iterations`` QR-normalised power steps."""
    width = min(dim, num_components + extra_components)
    product = CovarianceProduct(dim, subtract_mean)
    Y, rows, mean, trace = product.run(passes, rng.standard_normal((dim, width)), with_trace=True)
    for _ in range(power_iterations):
        with _one_blas_thread():
            Q, _ = np.linalg.qr(Y)
        Y, *_ = product.run(passes, Q)
    with _one_blas_thread():
        Q, _ = np.linalg.qr(Y)
    CQ, *_ = product.run(passes, Q)
    small = Q.T @ CQ
    small = (small + small.T) / 2
    with _one_blas_thread():
        values, vectors = np.linalg.eigh(small)  # ascending
    top = slice(width - num_components, None)
    return PCAResult(
        mean=mean,
        components=_fix_signs(Q @ vectors[:, top]),
        singular_values=np.sqrt(np.maximum(values[top], 0.0)),
        total_variance=trace,
        rows=rows,
    )


def _fix_signs(components: np.ndarray) -> np.ndarray:
    """Flip each column so that its largest-magnitude entry is positive (deterministic output)."""
    rows = np.argmax(np.abs(components), axis=0)
    signs = np.sign(components[rows, np.arange(components.shape[1])])
    signs[signs == 0] = 1.0
    return components * signs


def project(X: np.ndarray, mean: np.ndarray, components: np.ndarray) -> np.ndarray:
    """``(X - mean) · components`` as float64 ``(n, num_components)``."""
    return (X.astype(np.float64, copy=False) - mean) @ components
