"""``num_models`` linear models trained as one batched computation.

All parameters live in one float32 matrix ``P`` of shape ``(features + 1, models * classes)``: rows
``0..features-1`` are the weights on *normalised* features, the last row the bias. Feature normalisation
``(x - mu) / sigma`` is folded into the products instead of being applied to the data, so sparse data
stays sparse and batches are used as they are read:

    Z = X @ (W / sigma) + (b - (mu / sigma) @ W)
    dL/dW = (X.T @ G) / sigma - (mu / sigma) outer sum(G)

Optimisers (per-model learning rates, step-decay scheduler, L2 ``wd`` in the gradient, L1 as a proximal
soft-threshold scaled by each optimiser's per-coordinate step):

* ``sgd``: heavy-ball momentum ``u = momentum u + g``; ``w -= lr u``;
* ``adam``: bias-corrected first/second moments (``beta_1``, ``beta_2``), epsilon 1e-8;
* ``rmsprop``: ``v = beta_2 v + (1 - beta_2) g^2``; ``w -= lr g / (sqrt(v) + eps)`` (with ``momentum`` if
  set).
"""

from __future__ import annotations

import contextlib
import math
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import numpy as np

from sagestack.algorithms.linear_learner.config import TrainConfig
from sagestack.algorithms.linear_learner.objectives import loss_and_grad

EPS = 1e-8


def single_threaded_blas() -> AbstractContextManager:
    """Mini-batch products are small: BLAS threads cost more in synchronisation than they gain (several
    times slower on a loaded 2-core machine), so training runs BLAS on one thread."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


@dataclass(frozen=True)
class Scaler:
    """Feature normalisation: ``(x - mu) * inv_sigma``; ``shift = mu * inv_sigma``."""

    mu: np.ndarray
    inv_sigma: np.ndarray

    @property
    def shift(self) -> np.ndarray:
        return self.mu * self.inv_sigma

    @classmethod
    def fit(cls, X: Any, scale: bool, center: bool) -> Scaler:
        d = X.shape[1]
        if isinstance(X, np.ndarray):
            mean = X.mean(axis=0, dtype=np.float64)
            var = X.var(axis=0, dtype=np.float64)
        else:
            mean = np.asarray(X.mean(axis=0), dtype=np.float64).reshape(-1)
            sq = np.asarray(X.multiply(X).mean(axis=0), dtype=np.float64).reshape(-1)
            var = np.maximum(sq - mean * mean, 0.0)
        std = np.sqrt(var)
        inv_sigma = np.where(std > 1e-12, 1.0 / np.where(std > 1e-12, std, 1.0), 1.0) if scale else np.ones(d)
        mu = mean if center else np.zeros(d)
        return cls(mu.astype(np.float32), inv_sigma.astype(np.float32))


class ParallelModels:
    def __init__(self, cfg: TrainConfig, feature_dim: int, scaler: Scaler, seed: int = 0):
        self.cfg = cfg
        self.scaler = scaler
        self.shift = scaler.shift
        self.centered = bool(np.any(scaler.mu != 0))
        k, c = cfg.num_models, cfg.num_classes
        self.k, self.c = k, c
        m = k * c
        d = feature_dim
        rng = np.random.default_rng(seed)
        if cfg.init_method == "normal":
            weights = rng.normal(0.0, cfg.init_sigma, size=(d, m))
        else:
            weights = rng.uniform(-cfg.init_scale, cfg.init_scale, size=(d, m))
        self.P = np.empty((d + 1, m), dtype=np.float32)
        self.P[:d] = weights
        self.P[d] = cfg.init_bias if cfg.use_bias else 0.0
        grid = cfg.grid
        self.lr0 = np.asarray(grid.learning_rate, np.float64)
        self.step_size = np.asarray(grid.lr_scheduler_step, np.int64)
        self.factor = np.asarray(grid.lr_scheduler_factor, np.float64)
        self.min_lr = np.minimum(np.asarray(grid.lr_scheduler_minimum_lr, np.float64), self.lr0)
        self.alive = np.ones(k, dtype=bool)
        row_lr = np.ones(d + 1, np.float32)
        row_lr[d] = cfg.bias_lr_mult if cfg.use_bias else 0.0
        self.row_lr = row_lr
        row_wd = np.ones(d + 1, np.float32)
        row_wd[d] = cfg.bias_wd_mult
        self.wd = (row_wd[:, None] * np.repeat(grid.wd, c)[None, :]).astype(np.float32)
        self.has_wd = bool(np.any(self.wd))
        l1 = np.repeat(grid.l1, c).astype(np.float32)
        self.l1 = l1 if np.any(l1) else None
        self.t = 0
        self.grad = np.empty_like(self.P)
        self.tmp = np.empty_like(self.P)
        self.den = np.empty_like(self.P)
        self.m1 = np.zeros_like(self.P)
        self.m2 = np.zeros_like(self.P) if cfg.optimizer in ("adam", "rmsprop") else None
        self.use_momentum = cfg.optimizer != "adam" and cfg.momentum > 0

    # ----------------------------------------------------------------- forward
    def decision(self, X: Any, P: np.ndarray | None = None) -> np.ndarray:
        """``(rows, models * classes)`` float32 decision values."""
        P = self.P if P is None else P
        W = P[:-1]
        weff = W * self.scaler.inv_sigma[:, None]
        offset = P[-1] - self.shift @ W if self.centered else P[-1]
        z = X @ weff
        if not isinstance(z, np.ndarray):
            z = np.asarray(z)
        z += offset
        return z

    # ----------------------------------------------------------------- training
    def learning_rates(self) -> np.ndarray:
        lr = self.lr0
        if self.cfg.use_lr_scheduler:
            lr = np.maximum(lr * self.factor ** (self.t // self.step_size), self.min_lr)
        lr = np.where(self.alive, lr, 0.0)
        return np.repeat(lr, self.c).astype(np.float32)

    def train_batch(self, X: Any, y: np.ndarray, weights: np.ndarray | None) -> None:
        """One update of every model on a mini-batch."""
        rows = X.shape[0]
        with np.errstate(over="ignore", invalid="ignore", under="ignore"):
            z = self.decision(X)
            _, g = loss_and_grad(self.cfg, z, y, weights)
            xtg = X.T @ g
            if not isinstance(xtg, np.ndarray):
                xtg = np.asarray(xtg)
            gsum = np.ones(rows, dtype=g.dtype) @ g
            grad = self.grad
            np.multiply(xtg, self.scaler.inv_sigma[:, None], out=grad[:-1])
            if self.centered:
                grad[:-1] -= np.outer(self.shift, gsum)
            grad[-1] = gsum
            grad *= np.float32(1.0 / rows)
            if self.has_wd:
                grad += self.wd * self.P
            self.t += 1
            self._update(grad)

    def _update(self, grad: np.ndarray) -> None:
        """One optimiser step, in place (``tmp``/``den`` are preallocated buffers)."""
        cfg = self.cfg
        lr = self.learning_rates()[None, :]  # per column; the bias row is scaled by row_lr below
        P, tmp, den = self.P, self.tmp, self.den
        if cfg.optimizer in ("adam", "rmsprop"):
            v = self.m2
            b2 = cfg.beta_2
            np.multiply(grad, grad, out=tmp)
            tmp *= np.float32(1.0 - b2)
            v *= np.float32(b2)
            v += tmp
            np.sqrt(v, out=den)
            if cfg.optimizer == "adam":
                den *= np.float32(1.0 / math.sqrt(1.0 - b2**self.t))
            den += EPS
            np.reciprocal(den, out=den)  # den = per-coordinate preconditioner
            if cfg.optimizer == "adam":
                m, b1 = self.m1, cfg.beta_1
                np.multiply(grad, np.float32(1.0 - b1), out=tmp)
                m *= np.float32(b1)
                m += tmp
                lr = lr * np.float32(1.0 / (1.0 - b1**self.t))
                np.multiply(m, den, out=tmp)
            else:
                np.multiply(grad, den, out=tmp)
                if self.use_momentum:
                    self.m1 *= np.float32(cfg.momentum)
                    self.m1 += tmp
                    tmp[...] = self.m1
        else:  # sgd
            if self.use_momentum:
                self.m1 *= np.float32(cfg.momentum)
                self.m1 += grad
                tmp[...] = self.m1
            else:
                tmp[...] = grad
        tmp *= lr
        tmp *= self.row_lr[:, None]
        P -= tmp
        if self.l1 is not None:
            W = P[:-1]
            threshold = lr * self.l1[None, :]
            if cfg.optimizer != "sgd":
                threshold = den[:-1] * threshold
            shrunk = np.abs(W)
            shrunk -= threshold
            np.maximum(shrunk, 0, out=shrunk)
            np.copysign(shrunk, W, out=W)

    def retire_diverged(self) -> np.ndarray:
        """Stop models whose parameters are no longer finite; returns the ``alive`` mask."""
        finite = np.isfinite(self.P).all(axis=0).reshape(self.k, self.c).all(axis=1)
        dead = ~finite
        if dead.any():
            self.alive &= finite
            cols = np.repeat(dead, self.c)
            self.P[:, cols] = 0.0
            self.m1[:, cols] = 0.0
            if self.m2 is not None:
                self.m2[:, cols] = 0.0
        return self.alive

    def columns(self, k: int) -> slice:
        return slice(k * self.c, (k + 1) * self.c)
