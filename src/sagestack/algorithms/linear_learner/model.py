"""The trained model: raw-feature-space weights, the output transformation and the decision threshold.

Saved as two files in ``model_dir`` (see the package docstring): ``linear_learner.json`` (metadata) and
``linear_learner.npz`` (``weights`` float64 ``(feature_dim, outputs)``, ``bias`` float64 ``(outputs,)``).
Normalisation learned during training is folded into the weights, so scoring is one matrix product.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

FORMAT = "sagestack-linear-learner"
VERSION = 1
META_FILE = "linear_learner.json"
WEIGHTS_FILE = "linear_learner.npz"


@dataclass
class LinearModel:
    predictor_type: str  # binary_classifier | multiclass_classifier | regressor
    loss: str
    weights: np.ndarray  # (feature_dim, outputs) float64
    bias: np.ndarray  # (outputs,) float64
    threshold: float | None = None  # binary: predicted_label = score >= threshold
    hyperparameters: dict[str, Any] = field(default_factory=dict)

    @property
    def feature_dim(self) -> int:
        return int(self.weights.shape[0])

    @property
    def num_classes(self) -> int:
        return int(self.weights.shape[1]) if self.predictor_type == "multiclass_classifier" else 1

    @property
    def score_transform(self) -> str:
        if self.predictor_type == "multiclass_classifier":
            return "softmax"
        if self.predictor_type == "binary_classifier" and self.loss == "logistic":
            return "sigmoid"
        return "identity"

    def decision(self, X: Any) -> np.ndarray:
        """The linear part ``X @ weights + bias``: ``(rows, outputs)`` float64."""
        if isinstance(X, np.ndarray):
            out = X.astype(np.float64, copy=False) @ self.weights
        else:  # scipy sparse
            out = np.asarray(X @ self.weights)
        out += self.bias
        return out

    def scores(self, X: Any) -> np.ndarray:
        """``score`` as served: probabilities for logistic/softmax, the raw value otherwise.

        Binary and regression: ``(rows,)``; multiclass: ``(rows, classes)``.
        """
        return transform(self.decision(X), self.score_transform)

    def predicted_labels(self, scores: np.ndarray) -> np.ndarray | None:
        if self.predictor_type == "multiclass_classifier":
            return scores.argmax(axis=1)
        if self.predictor_type == "binary_classifier":
            return (scores >= self.threshold).astype(np.int64)
        return None

    def save(self, model_dir: Path) -> None:
        model_dir = Path(model_dir)
        model_dir.mkdir(parents=True, exist_ok=True)
        np.savez(model_dir / WEIGHTS_FILE, weights=self.weights, bias=self.bias)
        meta = {
            "format": FORMAT,
            "version": VERSION,
            "predictor_type": self.predictor_type,
            "loss": self.loss,
            "feature_dim": self.feature_dim,
            "num_classes": self.num_classes,
            "score": self.score_transform,
            "threshold": self.threshold,
            "hyperparameters": self.hyperparameters,
        }
        (model_dir / META_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True))

    @classmethod
    def load(cls, model_dir: Path) -> LinearModel:
        model_dir = Path(model_dir)
        meta = json.loads((model_dir / META_FILE).read_text())
        if meta.get("format") != FORMAT:
            raise ValueError(f"{model_dir / META_FILE} is not a {FORMAT} model")
        with np.load(model_dir / WEIGHTS_FILE) as arrays:
            weights = np.asarray(arrays["weights"], dtype=np.float64)
            bias = np.asarray(arrays["bias"], dtype=np.float64)
        return cls(
            predictor_type=meta["predictor_type"],
            loss=meta["loss"],
            weights=weights,
            bias=bias,
            threshold=meta.get("threshold"),
            hyperparameters=meta.get("hyperparameters", {}),
        )


def transform(z: np.ndarray, kind: str) -> np.ndarray:
    """Apply the score transformation to decision values ``(rows, outputs)``."""
    if kind == "softmax":
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    z = z[:, 0]
    if kind == "sigmoid":
        with np.errstate(over="ignore"):
            return 1.0 / (1.0 + np.exp(-z))
    return z
