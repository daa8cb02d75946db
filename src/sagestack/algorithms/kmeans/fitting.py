"""The K-Means training procedure over streamed mini-batches (no I/O: batches come from a callable).

0. **Small data** (sagestack's shortcut): when the whole training set is in memory and
   ``rows × k × feature_dim`` is at most :data:`DIRECT_MAX_WORK`, the streamed summary would only
   approximate the rows, so the local Lloyd stage runs on the rows themselves (weight 1 each) and
   stages 1 and 3 are skipped.
1. **Stream** ``epochs`` passes of mini-batches through :class:`~.clustering.StreamingCenters`
   holding ``K = k × extra_center_factor`` centers (seeded from the first rows with ``init_method``).
2. **Reduce** the ``K`` weighted centers to ``k`` with local Lloyd (``local_lloyd_init_method``
   seeding, ``local_lloyd_max_iter``, ``local_lloyd_tol``; best of ``local_lloyd_num_trials``).
3. **Refine** (sagestack's addition, so that the result matches batch k-means on any row order):
   full-data Lloyd passes from the reduced centers until the loss improves by at most
   ``local_lloyd_tol`` (relative) or :data:`MAX_REFINE_PASSES` passes were made.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from sagestack.algorithms.base import AlgorithmClientError
from sagestack.algorithms.kmeans.clustering import LloydPass, StreamingCenters, best_of_trials
from sagestack.algorithms.kmeans.spec import KMeansParams

AUTO_CENTER_FACTOR = 10
MAX_REFINE_PASSES = 10
DIRECT_MAX_ROWS = 50_000
DIRECT_MAX_WORK = 2e7

BatchPasses = Callable[[], Iterable[np.ndarray]]


@dataclass
class FitResult:
    centers: np.ndarray  # (k, feature_dim) float64
    rows: int
    stream_centers: int
    train_msd: float  # mean squared distance of the training rows to their closest center


def auto_center_factor(k: int) -> int:
    """``extra_center_factor=auto``: enough extra centers to summarise the stream, bounded in cost."""
    return max(1, min(AUTO_CENTER_FACTOR, 10_000 // max(k, 1)))


def auto_num_trials(n_points: int, k: int, dim: int) -> int:
    """``local_lloyd_num_trials=auto``: as many trials (≤ 10) as a small compute budget allows."""
    cost = n_points * k * max(dim, 1)
    return max(1, min(10, int(4e7 // max(cost, 1))))


def is_small(rows: int, k: int, dim: int) -> bool:
    """Whether a training set is clustered directly instead of through the streamed summary."""
    return rows <= DIRECT_MAX_ROWS and rows * k * max(dim, 1) <= DIRECT_MAX_WORK


def fit(
    passes: BatchPasses,
    params: KMeansParams,
    rng: np.random.Generator,
    log: Callable[[str], None] = print,
    in_memory: np.ndarray | None = None,
) -> FitResult:
    """Train ``k`` centers from the batches that each call of ``passes()`` yields (one data pass).

    ``in_memory``: the whole training set when the caller holds it (enables the small-data path).
    """
    k = params.k
    if in_memory is not None:
        _check_rows(in_memory.shape[0], k)
        if is_small(in_memory.shape[0], k, in_memory.shape[1]):
            return _fit_direct(in_memory, params, rng, log)
    factor = params.extra_center_factor or auto_center_factor(k)
    stream = StreamingCenters(
        n_centers=k * factor,
        init_method=params.init_method,
        half_life=params.half_life_time_size,
        rng=rng,
    )
    rows = 0
    for epoch in range(params.epochs):
        epoch_rows = 0
        for batch in passes():
            stream.update(batch)
            epoch_rows += batch.shape[0]
        stream.finish()
        if epoch == 0:
            rows = epoch_rows
            _check_rows(rows, k)
        log(f"Epoch {epoch}: streamed {epoch_rows} records through {stream.n_centers} centers")
    assert stream.centers is not None and stream.counts is not None

    centers = _reduce(stream.centers, stream.counts, params, rng, log)
    centers, msd = _refine(passes, centers, params.local_lloyd_tol, log)
    return FitResult(centers=centers, rows=rows, stream_centers=stream.n_centers, train_msd=msd)


def _check_rows(rows: int, k: int) -> None:
    if rows < k:
        raise AlgorithmClientError(
            f"k={k} is larger than the number of training records ({rows}); use a smaller k or more data"
        )


def _fit_direct(
    X: np.ndarray, params: KMeansParams, rng: np.random.Generator, log: Callable[[str], None]
) -> FitResult:
    k = params.k
    trials = params.local_lloyd_num_trials or auto_num_trials(X.shape[0], k, X.shape[1])
    result = best_of_trials(
        X,
        np.ones(X.shape[0], dtype=np.float64),
        k,
        params.local_lloyd_init_method,
        params.local_lloyd_max_iter,
        params.local_lloyd_tol,
        trials,
        rng,
    )
    msd = result.inertia / X.shape[0]
    log(
        f"Clustered {X.shape[0]} records directly with local Lloyd ({trials} trial(s), best after "
        f"{result.iterations} iteration(s)); train msd={msd:.6g}"
    )
    return FitResult(centers=result.centers, rows=X.shape[0], stream_centers=X.shape[0], train_msd=msd)


def _reduce(
    centers: np.ndarray,
    counts: np.ndarray,
    params: KMeansParams,
    rng: np.random.Generator,
    log: Callable[[str], None],
) -> np.ndarray:
    k = params.k
    if centers.shape[0] <= k:
        return centers
    weights = np.where(counts > 0, counts, 0.0)
    if np.count_nonzero(weights) < k:
        # Fewer weighted centers than clusters: let every streamed center count.
        weights = weights + max(float(weights.max(initial=0.0)), 1.0) * 1e-6
    trials = params.local_lloyd_num_trials or auto_num_trials(centers.shape[0], k, centers.shape[1])
    result = best_of_trials(
        centers,
        weights,
        k,
        params.local_lloyd_init_method,
        params.local_lloyd_max_iter,
        params.local_lloyd_tol,
        trials,
        rng,
    )
    log(
        f"Reduced {centers.shape[0]} centers to k={k} with local Lloyd "
        f"({trials} trial(s), best after {result.iterations} iteration(s))"
    )
    return result.centers


def _refine(
    passes: BatchPasses, centers: np.ndarray, tol: float, log: Callable[[str], None]
) -> tuple[np.ndarray, float]:
    previous: float | None = None
    msd = float("nan")
    for i in range(MAX_REFINE_PASSES):
        lloyd = LloydPass(centers)
        for batch in passes():
            lloyd.add(batch)
        msd = lloyd.loss / max(lloyd.rows, 1)
        if previous is not None and previous - lloyd.loss <= tol * previous:
            log(f"Refinement converged after {i} pass(es); train msd={msd:.6g}")
            return centers, msd
        previous = lloyd.loss
        centers = lloyd.updated_centers()
    log(f"Refinement stopped after {MAX_REFINE_PASSES} passes; train msd={msd:.6g}")
    return centers, msd


def array_batches(X: np.ndarray, batch_rows: int) -> BatchPasses:
    """``passes`` over an in-memory array (tests, and channels small enough to hold)."""

    def one_pass() -> Iterator[np.ndarray]:
        for start in range(0, X.shape[0], batch_rows):
            yield X[start : start + batch_rows]

    return one_pass
