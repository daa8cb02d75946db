"""XGBoost metric names, their SageMaker metric definitions, and the container-computed metrics.

SageMaker's XGBoost container reads ``validation:<metric>`` from XGBoost's evaluation printout
(``[3]\\ttrain-rmse:0.41\\tvalidation-rmse:0.43``; CloudWatch shows the TAB as ``#011``). Some metrics
(accuracy, f1, precision, …) are not XGBoost metrics: the container computes them with scikit-learn
on the predicted classes (binary: margin > 0, i.e. probability > 0.5; multiclass: argmax).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

MAXIMIZE_METRICS: tuple[str, ...] = (
    "accuracy",
    "auc",
    "aucpr",
    "balanced_accuracy",
    "f1",
    "f1_binary",
    "f1_macro",
    "map",
    "ndcg",
    "precision",
    "r2",
    "recall",
    "precision_macro",
    "precision_micro",
    "recall_macro",
    "recall_micro",
)
MINIMIZE_METRICS: tuple[str, ...] = (
    "aft-nloglik",
    "cox-nloglik",
    "error",
    "gamma-deviance",
    "gamma-nloglik",
    "interval-regression-accuracy",
    "logloss",
    "mae",
    "mape",
    "merror",
    "mlogloss",
    "mphe",
    "mse",
    "poisson-nloglik",
    "rmse",
    "rmsle",
    "tweedie-nloglik",
)
ALL_METRICS: tuple[str, ...] = MAXIMIZE_METRICS + MINIMIZE_METRICS

# Metrics whose ``eval_metric`` may carry a threshold (``error@0.7``, ``ndcg@5``, ``map@3``).
THRESHOLD_METRICS: tuple[str, ...] = ("error", "ndcg", "map")

# Metric names a tuning job may optimise (``_tuning_objective_metric``).
TUNING_METRIC_NAMES: tuple[str, ...] = tuple(f"validation:{m}" for m in ALL_METRICS)


def metric_regex(data_name: str, metric: str) -> str:
    """Regex for one value of an evaluation line; matches a real TAB and CloudWatch's ``#011``."""
    return r".*\[[0-9]+\].*(?:\t|#011)" + data_name + "-" + metric.replace(".", r"\.") + r":([^\s#]+)"


def metric_definitions() -> tuple[dict, ...]:
    """``{"Name": "validation:<m>", "Regex": …}`` for every metric the container declares."""
    return tuple({"Name": f"validation:{m}", "Regex": metric_regex("validation", m)} for m in ALL_METRICS)


def is_maximized(metric: str) -> bool:
    return metric.split("@")[0] in MAXIMIZE_METRICS


# ----------------------------------------------------------------------------------------------
# Container-computed metrics (scikit-learn on raw margins).


def class_labels(predictions: np.ndarray, objective: str | None) -> np.ndarray:
    """Class labels from what XGBoost hands a custom metric (transformed predictions).

    The container's rule is "margin > 0" (binary) or argmax (multiclass); on transformed outputs
    that is ``p > 0.5`` for logistic objectives and the label itself for ``multi:softmax``.
    """
    if predictions.ndim == 2 and predictions.shape[1] > 1:
        return np.argmax(predictions, axis=1)
    flat = predictions.reshape(-1)
    if objective == "multi:softmax":
        return flat.astype(int)
    if objective in ("binary:logistic", "reg:logistic", "binary:hinge"):
        return (flat > 0.5).astype(int)
    return (flat > 0.0).astype(int)


def _classification(score: Callable[[np.ndarray, np.ndarray], float]) -> Callable:
    def compute(predictions: np.ndarray, labels: np.ndarray, objective: str | None) -> float:
        if predictions.size == 0:
            return 0.0
        return float(score(labels, class_labels(predictions, objective)))

    return compute


def _regression(score: Callable[[np.ndarray, np.ndarray], float]) -> Callable:
    def compute(predictions: np.ndarray, labels: np.ndarray, objective: str | None) -> float:
        return float(score(labels, predictions.reshape(-1)))

    return compute


def _custom_metric_table() -> dict[str, Callable[..., float]]:
    from sklearn import metrics as skm

    def average(fn: Callable, kind: str) -> Callable:
        return lambda y, p: fn(y, p, average=kind)

    return {
        "accuracy": _classification(skm.accuracy_score),
        "balanced_accuracy": _classification(skm.balanced_accuracy_score),
        "f1": _classification(average(skm.f1_score, "macro")),
        "f1_binary": _classification(average(skm.f1_score, "binary")),
        "f1_macro": _classification(average(skm.f1_score, "macro")),
        "mse": _regression(skm.mean_squared_error),
        "precision": _classification(skm.precision_score),
        "precision_macro": _classification(average(skm.precision_score, "macro")),
        "precision_micro": _classification(average(skm.precision_score, "micro")),
        "r2": _regression(skm.r2_score),
        "recall": _classification(skm.recall_score),
        "recall_macro": _classification(average(skm.recall_score, "macro")),
        "recall_micro": _classification(average(skm.recall_score, "micro")),
    }


# The container also routes ``rmse``/``mae`` through scikit-learn; XGBoost computes the same values
# (weighted when weights are given), and computing them twice under one name would corrupt the
# evaluation history early stopping reads, so those two stay with XGBoost here.
CUSTOM_METRICS: frozenset[str] = frozenset(
    {
        "accuracy",
        "balanced_accuracy",
        "f1",
        "f1_binary",
        "f1_macro",
        "mse",
        "precision",
        "precision_macro",
        "precision_micro",
        "r2",
        "recall",
        "recall_macro",
        "recall_micro",
    }
)


def custom_metric_function(
    names: Sequence[str], objective: str | None = None
) -> Callable[[np.ndarray, Any], list[tuple[str, float]]]:
    """An ``xgboost.train(custom_metric=…)`` function computing the named container metrics."""
    table = _custom_metric_table()
    chosen = [(name, table[name]) for name in names]

    def evaluate(margins: np.ndarray, dmatrix: Any) -> list[tuple[str, float]]:
        labels = dmatrix.get_label()
        return [(name, fn(np.asarray(margins), labels, objective)) for name, fn in chosen]

    return evaluate


def split_eval_metrics(
    eval_metric: Sequence[str] | None, tuning_metric: str | None
) -> tuple[list[str], list[str], str | None]:
    """``(xgboost_metrics, container_metrics, early_stopping_metric)`` as the container derives them.

    The tuning objective (``validation:<m>``) is added to ``eval_metric``; metrics XGBoost does not
    know are computed by the container; early stopping follows the tuning metric, else the last
    ``eval_metric`` entry.
    """
    requested = list(eval_metric or [])
    tuning = tuning_metric.split(":", 1)[1] if tuning_metric else None
    if tuning and tuning not in requested:
        requested.append(tuning)
    xgb_metrics = [m for m in requested if m not in CUSTOM_METRICS]
    custom = [m for m in requested if m in CUSTOM_METRICS]
    stopping = tuning or (requested[-1] if requested else None)
    return xgb_metrics, custom, stopping
