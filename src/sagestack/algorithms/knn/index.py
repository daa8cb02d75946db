"""The k-NN math: faiss index construction, batched search and the neighbour vote/average.

Metrics: ``L2`` searches squared Euclidean distances and reports Euclidean ones; ``INNER_PRODUCT``
reports inner products (largest first); ``COSINE`` L2-normalises stored and query vectors, searches by
inner product and reports cosine distances ``1 - cos`` (smallest first).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class IndexPlan:
    """What to build, resolved against the actual number of sampled points."""

    index_type: str
    metric: str
    dim: int
    nlist: int = 1
    pq_m: int = 0
    pq_nbits: int = 8
    nprobe: int = 1


def plan_index(
    index_type: str, metric: str, dim: int, n_points: int, nlists: int | None = None, pq_m: int | None = None
) -> IndexPlan:
    """Resolve ``auto`` values (``nlists=None``: sqrt of the points) and keep faiss's training
    requirements satisfiable for small samples."""
    if index_type == "faiss.Flat":
        return IndexPlan(index_type, metric, dim)
    wanted = max(1, round(math.sqrt(n_points))) if nlists is None else nlists
    nlist = max(1, min(wanted, n_points))
    # Probe a fair share of the lists: recall close to Flat at a fraction of its cost.
    nprobe = max(1, min(nlist, math.ceil(math.sqrt(nlist)) * 2))
    if index_type == "faiss.IVFFlat":
        return IndexPlan(index_type, metric, dim, nlist=nlist, nprobe=nprobe)
    if pq_m is None:
        pq_m = _default_pq_m(dim)
    # 2**nbits centroids per sub-quantizer must not exceed the training points.
    nbits = int(max(1, min(8, math.floor(math.log2(max(2, n_points))))))
    return IndexPlan(index_type, metric, dim, nlist=nlist, pq_m=pq_m, pq_nbits=nbits, nprobe=nprobe)


def _default_pq_m(dim: int) -> int:
    from sagestack.algorithms.knn.spec import PQ_M_CHOICES

    divisors = [m for m in PQ_M_CHOICES if dim % m == 0 and m <= max(1, dim // 2)]
    return max(divisors) if divisors else 1


def prepare_vectors(X: np.ndarray, metric: str) -> np.ndarray:
    """float32, C-contiguous, and unit length for ``COSINE``."""
    X = np.ascontiguousarray(X, dtype=np.float32)
    if metric == "COSINE":
        norms = np.linalg.norm(X, axis=1, keepdims=True)
        X = X / np.where(norms > 0, norms, 1.0).astype(np.float32)
    return np.ascontiguousarray(X, dtype=np.float32)


def build_index(plan: IndexPlan, X: np.ndarray):
    """A trained faiss index holding the rows of ``X`` (already :func:`prepare_vectors`-ed)."""
    import faiss

    metric = faiss.METRIC_L2 if plan.metric == "L2" else faiss.METRIC_INNER_PRODUCT
    if plan.index_type == "faiss.Flat":
        description = "Flat"
    elif plan.index_type == "faiss.IVFFlat":
        description = f"IVF{plan.nlist},Flat"
    else:
        description = f"IVF{plan.nlist},PQ{plan.pq_m}x{plan.pq_nbits}np"  # np: no polysemous training (slow)
    index = faiss.index_factory(plan.dim, description, metric)
    if plan.index_type != "faiss.Flat":
        index.train(X)
        faiss.extract_index_ivf(index).nprobe = plan.nprobe
    index.add(X)
    return index


def search(index, Q: np.ndarray, k: int, metric: str, nprobe: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """One batched faiss search: ``(distances, ids)`` of shape ``(n, k)``; ids are -1 where missing."""
    import faiss

    try:
        faiss.extract_index_ivf(index).nprobe = nprobe
    except RuntimeError:  # not an IVF index
        pass
    k = max(1, min(k, index.ntotal))
    scores, ids = index.search(Q, k)
    if metric == "L2":
        distances = np.sqrt(np.maximum(scores, 0.0))
    elif metric == "COSINE":
        distances = 1.0 - scores
    else:
        distances = scores
    distances = np.where(ids < 0, np.nan, distances).astype(np.float32)
    return distances, ids


def neighbour_labels(labels: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Labels of the neighbours, NaN where faiss found fewer than k."""
    out = labels[np.maximum(ids, 0)].astype(np.float32)
    out[ids < 0] = np.nan
    return out


def vote(nbr: np.ndarray) -> np.ndarray:
    """Row-wise majority label; ties go to the smallest label (as scikit-learn's KNeighborsClassifier).

    Vectorised over rows: sort each row, number the runs of equal labels, count them with one bincount
    and take the first largest run (the smallest label among the most frequent). NaNs sort last and form
    runs of one, so they only win when a row has no neighbour at all.
    """
    n, k = nbr.shape
    if n == 0:
        return np.zeros(0, dtype=np.float32)
    ordered = np.sort(nbr, axis=1)
    change = ordered[:, 1:] != ordered[:, :-1]
    runs = np.concatenate([np.zeros((n, 1), dtype=np.int64), np.cumsum(change, axis=1)], axis=1)
    counts = np.bincount((np.arange(n)[:, None] * k + runs).ravel(), minlength=n * k).reshape(n, k)
    best = counts.argmax(axis=1)
    first = (runs == best[:, None]).argmax(axis=1)
    return ordered[np.arange(n), first].astype(np.float32)


def average(nbr: np.ndarray) -> np.ndarray:
    """Row-wise mean of the neighbours' labels (regressor)."""
    valid = ~np.isnan(nbr)
    total = np.where(valid, nbr, 0.0).sum(axis=1)
    count = valid.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (total / count).astype(np.float32)
