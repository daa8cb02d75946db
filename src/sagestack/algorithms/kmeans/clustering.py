"""K-means math as plain functions over numpy arrays.

* :func:`nearest_centers`: closest center and squared distance for every row (BLAS, chunked);
* :func:`kmeans_plusplus` / :func:`random_seeds`: seeding, both weighted;
* :func:`weighted_lloyd`: Lloyd's EM on weighted points (the "local Lloyd" that reduces the streamed
  centers to ``k``), best of several trials via :func:`best_of_trials`;
* :class:`StreamingCenters`: the web-scale mini-batch stage (Sculley 2010) that keeps
  ``k × extra_center_factor`` centers with per-center learning rates and an optional half-life decay;
* :class:`LloydPass`: one streamed Lloyd iteration over the full data (sums and counts per center).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

# Distance blocks are computed for at most this many (row, center) pairs at a time.
_BLOCK_ELEMENTS = 1 << 22


def nearest_centers(X: np.ndarray, centers: np.ndarray, exact: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Index of the closest center for each row of ``X`` and the squared Euclidean distance to it.

    The argmin uses ``|x|² - 2 x·c + |c|²`` (one matrix product per block, in ``X``'s dtype);
    with ``exact`` the returned distances are recomputed as ``|x - c|²`` in float64, free of the
    cancellation error of the expansion.
    """
    n = X.shape[0]
    labels = np.empty(n, dtype=np.int64)
    dists = np.empty(n, dtype=np.float64)
    C = np.ascontiguousarray(centers, dtype=X.dtype)
    c_sq = np.einsum("ij,ij->i", C, C)
    minus_2ct = np.ascontiguousarray(-2.0 * C.T)
    step = max(1, _BLOCK_ELEMENTS // max(1, C.shape[0]))
    for start in range(0, n, step):
        block = X[start : start + step]
        d = block @ minus_2ct
        d += c_sq
        idx = np.argmin(d, axis=1)
        labels[start : start + step] = idx
        if exact:
            diff = block.astype(np.float64, copy=False) - centers[idx]
            dists[start : start + step] = np.einsum("ij,ij->i", diff, diff)
        else:
            x_sq = np.einsum("ij,ij->i", block, block)
            dists[start : start + step] = np.maximum(d[np.arange(len(idx)), idx] + x_sq, 0.0)
    return labels, dists


def cluster_sums(
    X: np.ndarray, labels: np.ndarray, n_centers: int, weights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Per-center (weighted) sums of the rows (float64, ``(n_centers, d)``) and total weights.

    Rows are grouped by label with one sort and summed with ``np.add.reduceat`` (no Python loop).
    """
    n, d = X.shape
    sums = np.zeros((n_centers, d), dtype=np.float64)
    if n == 0:
        return sums, np.zeros(n_centers, dtype=np.float64)
    order = np.argsort(labels, kind="stable")
    ordered = labels[order]
    starts = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))
    rows = X[order].astype(np.float64, copy=False)
    if weights is None:
        counts = np.bincount(labels, minlength=n_centers).astype(np.float64)
    else:
        w = weights.astype(np.float64, copy=False)
        counts = np.bincount(labels, weights=w, minlength=n_centers)
        rows = rows * w[order, None]
    sums[ordered[starts]] = np.add.reduceat(rows, starts, axis=0)
    return sums, counts


def random_seeds(
    n_rows: int, n_seeds: int, rng: np.random.Generator, weights: np.ndarray | None = None
) -> np.ndarray:
    """``n_seeds`` distinct row indices drawn at random (proportionally to ``weights`` if given)."""
    if weights is None:
        return rng.choice(n_rows, size=n_seeds, replace=False)
    positive = np.flatnonzero(weights > 0)
    if len(positive) >= n_seeds:
        p = weights[positive] / weights[positive].sum()
        return positive[rng.choice(len(positive), size=n_seeds, replace=False, p=p)]
    rest = np.setdiff1d(np.arange(n_rows), positive)
    return np.concatenate([positive, rng.choice(rest, size=n_seeds - len(positive), replace=False)])


def kmeans_plusplus(
    X: np.ndarray, n_seeds: int, rng: np.random.Generator, weights: np.ndarray | None = None
) -> np.ndarray:
    """Greedy k-means++ seeding (Arthur & Vassilvitskii; ``2 + log k`` local trials per step).

    Returns the indices of the chosen rows. ``weights`` scale each row's sampling mass.
    """
    n = X.shape[0]
    w = np.ones(n, dtype=np.float64) if weights is None else weights.astype(np.float64, copy=False)
    Xd = X.astype(np.float64, copy=False)
    x_sq = np.einsum("ij,ij->i", Xd, Xd)
    n_local = 2 + int(math.log(max(n_seeds, 1)))
    chosen = np.empty(n_seeds, dtype=np.int64)
    first = rng.choice(n, p=w / w.sum()) if w.sum() > 0 else rng.integers(n)
    chosen[0] = first
    closest = _sq_dist_to(Xd, x_sq, Xd[first : first + 1])[0]
    for i in range(1, n_seeds):
        mass = w * closest
        total = mass.sum()
        if not np.isfinite(total) or total <= 0:
            # Every remaining row coincides with a seed: pick unused rows at random.
            unused = np.setdiff1d(np.arange(n), chosen[:i])
            chosen[i] = rng.choice(unused)
            closest = np.minimum(closest, _sq_dist_to(Xd, x_sq, Xd[chosen[i] : chosen[i] + 1])[0])
            continue
        cumulative = np.cumsum(mass)
        candidates = np.searchsorted(cumulative, rng.random(n_local) * cumulative[-1])
        candidates = np.minimum(candidates, n - 1)
        cand_d = np.minimum(closest, _sq_dist_to(Xd, x_sq, Xd[candidates]))
        best = int(np.argmin(cand_d @ w))
        chosen[i] = candidates[best]
        closest = cand_d[best]
    return chosen


def _sq_dist_to(Xd: np.ndarray, x_sq: np.ndarray, points: np.ndarray) -> np.ndarray:
    """``(len(points), n)`` squared distances from each point to every row."""
    p_sq = np.einsum("ij,ij->i", points, points)
    d = points @ Xd.T
    d *= -2.0
    d += p_sq[:, None]
    d += x_sq[None, :]
    return np.maximum(d, 0.0)


@dataclass
class LloydResult:
    centers: np.ndarray  # (k, d) float64
    labels: np.ndarray  # (n,)
    inertia: float  # weighted sum of squared distances
    iterations: int


def weighted_lloyd(
    X: np.ndarray,
    weights: np.ndarray,
    centers: np.ndarray,
    max_iter: int,
    tol: float,
) -> LloydResult:
    """Lloyd's algorithm on weighted points from the given initial centers.

    Stops after ``max_iter`` iterations or when the relative decrease of the weighted loss falls to
    ``tol`` or below. An empty cluster is moved to the point that currently costs the most.
    """
    Xd = X.astype(np.float64, copy=False)
    centers = np.array(centers, dtype=np.float64)
    k = centers.shape[0]
    labels, dists = nearest_centers(Xd, centers)
    loss = float(dists @ weights)
    iterations = 0
    for iterations in range(1, max_iter + 1 if loss > 0 else 1):  # noqa: B007 - the count is returned
        sums, mass = cluster_sums(Xd, labels, k, weights)
        filled = mass > 0
        centers[filled] = sums[filled] / mass[filled, None]
        empty = np.flatnonzero(~filled)
        if len(empty):
            far = np.argsort(-(dists * weights))[: len(empty)]
            centers[empty[: len(far)]] = Xd[far]
        labels, dists = nearest_centers(Xd, centers)
        new_loss = float(dists @ weights)
        converged = (loss - new_loss) <= tol * loss
        loss = new_loss
        if loss <= 0 or (converged and not len(empty)):
            break
    return LloydResult(centers=centers, labels=labels, inertia=loss, iterations=iterations)


def best_of_trials(
    X: np.ndarray,
    weights: np.ndarray,
    k: int,
    init_method: str,
    max_iter: int,
    tol: float,
    num_trials: int,
    rng: np.random.Generator,
) -> LloydResult:
    """Seed (``random`` or ``kmeans++``) and run weighted Lloyd ``num_trials`` times; keep the best."""
    best: LloydResult | None = None
    for _ in range(num_trials):
        if init_method == "kmeans++":
            seeds = kmeans_plusplus(X, k, rng, weights)
        else:
            seeds = random_seeds(X.shape[0], k, rng, weights)
        result = weighted_lloyd(X, weights, X[seeds], max_iter, tol)
        if best is None or result.inertia < best.inertia:
            best = result
    assert best is not None
    return best


@dataclass
class StreamingCenters:
    """Mini-batch k-means state over ``n_centers`` centers.

    Each batch assigns its rows to their closest centers; a center moves to the running mean of all
    rows it has won (learning rate ``1 / count``). With ``half_life`` > 0 the accumulated counts are
    halved every ``half_life`` rows, so older rows weigh less. Centers that have never won a row are
    re-seeded at rows of the current batch drawn proportionally to their squared distance.
    """

    n_centers: int
    init_method: str
    half_life: int
    rng: np.random.Generator
    centers: np.ndarray | None = None
    counts: np.ndarray | None = None
    _pending: list[np.ndarray] = field(default_factory=list)
    _pending_rows: int = 0

    @property
    def ready(self) -> bool:
        return self.centers is not None

    def update(self, X: np.ndarray) -> None:
        """Feed one mini-batch (rows as float32/float64)."""
        if self.centers is None:
            self._pending.append(X)
            self._pending_rows += X.shape[0]
            if self._pending_rows < self.n_centers:
                return
            X = np.concatenate(self._pending) if len(self._pending) > 1 else self._pending[0]
            self._pending, self._pending_rows = [], 0
            self._seed(X)
        self._step(X)

    def finish(self) -> None:
        """Seed from whatever was buffered when the data ran out before ``n_centers`` rows."""
        if self.centers is None and self._pending:
            X = np.concatenate(self._pending)
            self._pending, self._pending_rows = [], 0
            self.n_centers = min(self.n_centers, X.shape[0])
            self._seed(X)
            self._step(X)

    def _seed(self, X: np.ndarray) -> None:
        if self.init_method == "kmeans++":
            idx = kmeans_plusplus(X, self.n_centers, self.rng)
        else:
            idx = random_seeds(X.shape[0], self.n_centers, self.rng)
        self.centers = X[idx].astype(np.float64)
        self.counts = np.zeros(self.n_centers, dtype=np.float64)

    def _step(self, X: np.ndarray) -> None:
        assert self.centers is not None and self.counts is not None
        labels, dists = nearest_centers(X, self.centers, exact=False)
        if self.half_life > 0:
            self.counts *= 0.5 ** (X.shape[0] / self.half_life)
        sums, won = cluster_sums(X, labels, self.n_centers)
        total = self.counts + won
        moved = won > 0
        self.centers[moved] = (self.centers[moved] * self.counts[moved, None] + sums[moved]) / total[
            moved, None
        ]
        self.counts = total
        dead = np.flatnonzero(self.counts <= 0)
        if len(dead):
            mass = dists / dists.sum() if dists.sum() > 0 else None
            take = min(len(dead), int(np.count_nonzero(dists > 0)) if mass is not None else 0)
            if take:
                rows = self.rng.choice(X.shape[0], size=take, replace=False, p=mass)
                self.centers[dead[:take]] = X[rows]


@dataclass
class LloydPass:
    """Accumulates one Lloyd iteration over streamed batches: per-center sums, counts and loss."""

    centers: np.ndarray
    sums: np.ndarray = field(init=False)
    counts: np.ndarray = field(init=False)
    loss: float = 0.0
    rows: int = 0

    def __post_init__(self) -> None:
        self.sums = np.zeros_like(self.centers, dtype=np.float64)
        self.counts = np.zeros(self.centers.shape[0], dtype=np.float64)

    def add(self, X: np.ndarray) -> None:
        labels, dists = nearest_centers(X, self.centers, exact=False)
        sums, counts = cluster_sums(X, labels, self.centers.shape[0])
        self.sums += sums
        self.counts += counts
        self.loss += float(dists.sum())
        self.rows += X.shape[0]

    def updated_centers(self) -> np.ndarray:
        """The means of the clusters (a cluster that won nothing keeps its center)."""
        centers = self.centers.astype(np.float64, copy=True)
        filled = self.counts > 0
        centers[filled] = self.sums[filled] / self.counts[filled, None]
        return centers
