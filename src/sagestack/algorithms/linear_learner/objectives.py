"""Loss functions and their gradients, vectorised over a mini-batch and all parallel models at once.

``Z`` is the ``(rows, models * classes)`` float32 output of the linear part; ``y`` the ``(rows,)`` labels
(0/1 for binary, class index for multiclass, the normalised target for regression). Each function returns
``(loss_sum, G)``: ``loss_sum`` is the ``(models,)`` float64 sum of per-row losses (times the row weights),
``G`` the ``(rows, models * classes)`` gradient of the per-row losses with respect to ``Z`` (times the row
weights). Training asks for the gradient only, evaluation for the loss only.

Definitions (``r = prediction - label``): logistic ``log(1 + exp(-s z))`` with ``s = 2y - 1``; hinge
``max(0, margin - s z)``; squared ``r^2``; absolute ``|r|``; eps-insensitive squared/absolute
``max(0, |r| - eps)^2`` / ``max(0, |r| - eps)``; quantile ``q max(-r, 0) + (1 - q) max(r, 0)``; huber
``r^2 / 2`` for ``|r| <= delta`` else ``delta (|r| - delta / 2)``; softmax cross-entropy ``-log p_y``.
"""

from __future__ import annotations

import numpy as np

from sagestack.algorithms.linear_learner.config import TrainConfig

# Name used in log keys ``<name>_objective`` (logs show binary_classification_cross_entropy_objective,
# multiclass_cross_entropy_objective and mse_objective).
OBJECTIVE_NAMES = {
    "logistic": "binary_classification_cross_entropy",
    "hinge_loss": "binary_classification_hinge_loss",
    "softmax_loss": "multiclass_cross_entropy",
    "squared_loss": "mse",
    "absolute_loss": "absolute_loss",
    "eps_insensitive_squared_loss": "eps_insensitive_squared_loss",
    "eps_insensitive_absolute_loss": "eps_insensitive_absolute_loss",
    "quantile_loss": "quantile_loss",
    "huber_loss": "huber_loss",
}

# Power of the label scale by which a regression loss computed on normalised labels is multiplied to be
# expressed in the original label units (each of these losses is homogeneous in that sense when its
# threshold parameter is scaled too).
LABEL_SCALE_POWER = {
    "squared_loss": 2,
    "eps_insensitive_squared_loss": 2,
    "huber_loss": 2,
    "absolute_loss": 1,
    "eps_insensitive_absolute_loss": 1,
    "quantile_loss": 1,
}


def _weighted_sum(loss: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
    """Per-model sum over rows of ``loss`` (rows, models), weighted by rows (a BLAS product: fast)."""
    if weights is None:
        weights = np.ones(loss.shape[0], dtype=loss.dtype)
    if weights.ndim == 1:
        return (weights.astype(loss.dtype, copy=False) @ loss).astype(np.float64)
    return np.einsum("ij,ij->j", loss, weights, dtype=np.float64)


def _apply_weights(grad: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
    if weights is None:
        return grad
    if weights.ndim == 1:
        grad *= weights[:, None]
    else:
        grad *= weights
    return grad


def logistic(z: np.ndarray, y: np.ndarray, weights: np.ndarray | None, grad: bool = True):
    yc = y.astype(z.dtype, copy=False)[:, None]
    if grad:  # training path: the gradient only (the loss is measured per epoch on a sample)
        g = np.negative(z)
        np.exp(g, out=g)
        g += 1.0
        np.reciprocal(g, out=g)  # sigmoid(z); exp overflow gives 1/inf = 0
        g -= yc
        return None, _apply_weights(g, weights)
    a = np.abs(z)
    np.negative(a, out=a)
    np.exp(a, out=a)  # exp(-|z|) in (0, 1]
    a += 1.0
    loss = np.log(a, out=a)
    loss += np.maximum(z, 0)
    loss -= yc * z
    return _weighted_sum(loss, weights), None


def hinge(z: np.ndarray, y: np.ndarray, weights: np.ndarray | None, margin: float, grad: bool = True):
    s = (2.0 * y.astype(z.dtype, copy=False) - 1.0)[:, None]
    sz = z * s
    if grad:
        g = (sz < margin).astype(z.dtype)
        g *= -s
        return None, _apply_weights(g, weights)
    slack = margin - sz
    np.maximum(slack, 0, out=slack)
    return _weighted_sum(slack, weights), None


def regression(z: np.ndarray, y: np.ndarray, weights: np.ndarray | None, cfg: TrainConfig, grad: bool = True):
    r = z - y.astype(z.dtype, copy=False)[:, None]
    name = cfg.loss
    if name == "squared_loss":
        result = 2.0 * r if grad else r * r
    elif name == "absolute_loss":
        result = np.sign(r) if grad else np.abs(r)
    elif name in ("eps_insensitive_squared_loss", "eps_insensitive_absolute_loss"):
        excess = np.abs(r) - cfg.loss_insensitivity
        np.maximum(excess, 0, out=excess)
        if name == "eps_insensitive_squared_loss":
            result = 2.0 * np.sign(r) * excess if grad else excess * excess
        else:
            result = np.sign(r) * (excess > 0) if grad else excess
    elif name == "quantile_loss":
        q = cfg.quantile
        below = r < 0
        if grad:
            result = (1.0 - q) - below.astype(z.dtype)
        else:
            result = np.where(below, -q * r, (1.0 - q) * r)
    elif name == "huber_loss":
        delta = cfg.huber_delta
        if grad:
            result = np.clip(r, -delta, delta)
        else:
            a = np.abs(r)
            result = np.where(a <= delta, 0.5 * r * r, delta * (a - 0.5 * delta))
    else:  # pragma: no cover - config.resolve rejects other losses
        raise ValueError(f"unknown regression loss {name}")
    result = result.astype(z.dtype, copy=False)
    if grad:
        return None, _apply_weights(result, weights)
    return _weighted_sum(result, weights), None


def softmax(z: np.ndarray, y: np.ndarray, weights: np.ndarray | None, num_classes: int, grad: bool = True):
    rows = z.shape[0]
    z3 = z.reshape(rows, -1, num_classes)
    z3 -= z3.max(axis=2, keepdims=True)  # z is a scratch array owned by the caller
    idx = y.astype(np.int64)
    if not grad:
        picked = z3[np.arange(rows), :, idx]  # (rows, models)
        np.exp(z3, out=z3)
        s = z3.sum(axis=2)
        return _weighted_sum(np.log(s) - picked, weights), None
    np.exp(z3, out=z3)
    z3 /= z3.sum(axis=2, keepdims=True)
    z3[np.arange(rows), :, idx] -= 1.0
    if weights is not None:
        z3 *= weights[:, None, None] if weights.ndim == 1 else weights[:, :, None]
    return None, z


def loss_and_grad(
    cfg: TrainConfig, z: np.ndarray, y: np.ndarray, weights: np.ndarray | None, grad: bool = True
):
    """``grad=True``: ``(None, G)``; ``grad=False``: ``(loss_sum, None)``. See the module docstring."""
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        if cfg.loss == "logistic":
            return logistic(z, y, weights, grad)
        if cfg.loss == "hinge_loss":
            return hinge(z, y, weights, cfg.margin, grad)
        if cfg.loss == "softmax_loss":
            return softmax(z, y, weights, cfg.num_classes, grad)
        return regression(z, y, weights, cfg, grad)
