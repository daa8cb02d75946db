"""The factorization-machine math: degree-2 FM scores, gradients, initialisers and a lazy Adam.

``score(x) = w0 + x·w + ½ Σ_f [(x·V_f)² − (x²)·(V_f²)]`` (Rendle 2010), evaluated for a whole batch
with two sparse-dense products; works the same for dense ``numpy`` and scipy ``csr`` batches. Training
minimises log loss on ``sigmoid(score)`` (binary_classifier) or ½ squared error (regressor), averaged
over the mini-batch. Adam updates are *lazy* for sparse batches: only the rows of ``w`` and ``V``
(and their moments) whose features occur in the batch are touched, so a step costs O(nnz · factors)
rather than O(feature_dim · factors). Weight decay is added to the gradient, MXNet-style:
``g = rescale_grad · ∇ + wd · θ``, then clipped to ``[-clip_gradient, clip_gradient]``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp


@dataclass
class FMParams:
    """Fitted state of a factorization machine."""

    w0: np.ndarray  # shape (1,)
    w: np.ndarray  # shape (d,)
    V: np.ndarray  # shape (d, num_factors)


def _square(X):
    if sp.issparse(X):
        squared = X.copy()
        squared.data = squared.data * squared.data
        return squared
    return X * X


def _as_batch(X):
    if sp.issparse(X):
        X = X.tocsr()
        return X if X.dtype == np.float32 else X.astype(np.float32)
    return np.asarray(X, dtype=np.float32)


def forward(params: FMParams, X) -> tuple[np.ndarray, np.ndarray, object]:
    """``(scores, XV, X²)`` for a batch; XV and X² are reused by :func:`gradients`."""
    X = _as_batch(X)
    XV = np.asarray(X @ params.V)
    X2 = _square(X)
    pair = 0.5 * (np.einsum("ij,ij->i", XV, XV) - np.asarray(X2 @ (params.V * params.V)).sum(axis=1))
    linear = np.asarray(X @ params.w).ravel()
    return (params.w0[0] + linear + pair).astype(np.float32), XV, X2


def predict_scores(params: FMParams, X, predictor_type: str) -> np.ndarray:
    """Regression scores, or probabilities (sigmoid of the FM score) for binary_classifier."""
    scores, _, _ = forward(params, X)
    return sigmoid(scores) if predictor_type == "binary_classifier" else scores


def sigmoid(z: np.ndarray) -> np.ndarray:
    return (0.5 * (1.0 + np.tanh(0.5 * z))).astype(np.float32)


def loss_and_dscore(scores: np.ndarray, y: np.ndarray, predictor_type: str) -> tuple[float, np.ndarray]:
    """Mean loss over the batch and its gradient with respect to each score."""
    n = max(1, scores.shape[0])
    if predictor_type == "binary_classifier":
        p = sigmoid(scores)
        # log(1 + e^s) - y·s, computed stably.
        loss = float(np.mean(np.logaddexp(0.0, scores) - y * scores))
        return loss, (p - y) / n
    diff = scores - y
    return float(0.5 * np.mean(diff * diff)), diff / n


def gradients(params: FMParams, X, XV: np.ndarray, X2, dscore: np.ndarray, rows: np.ndarray | None):
    """Gradients ``(g_w0, g_w[rows], g_V[rows])``; ``rows`` = touched features (None = all)."""
    X = _as_batch(X)
    g_w0 = np.array([dscore.sum()], dtype=np.float32)
    if rows is not None:
        X = X[:, rows]
        X2 = X2[:, rows]
        V = params.V[rows]
    else:
        V = params.V
    Xt = X.T
    g_w = np.asarray(Xt @ dscore).ravel()
    g_V = np.asarray(Xt @ (XV * dscore[:, None])) - V * np.asarray(X2.T @ dscore).reshape(-1, 1)
    return g_w0, g_w.astype(np.float32), g_V.astype(np.float32)


def touched_rows(X) -> np.ndarray | None:
    """Feature indices present in a sparse batch (None for dense batches: every row is touched)."""
    if sp.issparse(X):
        return np.unique(X.tocsr().indices).astype(np.int64)
    return None


def init_array(
    shape: tuple[int, ...],
    method: str,
    sigma: float,
    scale: float | None,
    value: float | None,
    rng: np.random.Generator,
) -> np.ndarray:
    if method == "normal":
        return rng.normal(0.0, sigma, size=shape).astype(np.float32)
    if method == "uniform":
        return rng.uniform(-scale, scale, size=shape).astype(np.float32)
    return np.full(shape, value, dtype=np.float32)


@dataclass
class AdamGroup:
    """Adam state for one parameter group with its own learning rate and weight decay."""

    lr: float
    wd: float
    m: np.ndarray
    v: np.ndarray


@dataclass
class LazyAdam:
    """Adam with per-group learning rates / weight decays and row-sparse (lazy) updates."""

    groups: dict[str, AdamGroup]
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    rescale_grad: float = 1.0
    clip_gradient: float | None = None
    step_count: int = field(default=0)

    @classmethod
    def for_params(cls, params: FMParams, lrs: dict[str, float], wds: dict[str, float], **options):
        groups = {
            name: AdamGroup(lrs[name], wds[name], np.zeros_like(array), np.zeros_like(array))
            for name, array in (("bias", params.w0), ("linear", params.w), ("factors", params.V))
        }
        return cls(groups=groups, **options)

    def step(self, params: FMParams, grads, rows: np.ndarray | None) -> None:
        self.step_count += 1
        t = self.step_count
        correction = np.sqrt(1.0 - self.beta2**t) / (1.0 - self.beta1**t)
        g_w0, g_w, g_V = grads
        self._update("bias", params.w0, g_w0, None, correction)
        self._update("linear", params.w, g_w, rows, correction)
        self._update("factors", params.V, g_V, rows, correction)

    def _update(self, name: str, param: np.ndarray, grad: np.ndarray, rows, correction: float) -> None:
        group = self.groups[name]
        if group.lr == 0.0:
            return
        current = param if rows is None else param[rows]
        g = grad * self.rescale_grad + group.wd * current
        if self.clip_gradient is not None:
            g = np.clip(g, -self.clip_gradient, self.clip_gradient)
        m = group.m if rows is None else group.m[rows]
        v = group.v if rows is None else group.v[rows]
        m = self.beta1 * m + (1.0 - self.beta1) * g
        v = self.beta2 * v + (1.0 - self.beta2) * g * g
        updated = current - (group.lr * correction) * m / (np.sqrt(v) + self.eps)
        if rows is None:
            group.m[...] = m
            group.v[...] = v
            param[...] = updated
        else:
            group.m[rows] = m
            group.v[rows] = v
            param[rows] = updated
