"""Quality metrics and the binary decision-threshold search, vectorised over models.

Metric keys are the ones SageMaker logs (``binary_classification_accuracy``, ``binary_f_1.000``,
``precision``, ``recall``, ``roc_auc_score``, ``multiclass_accuracy``, ``multiclass_top_k_accuracy_3``,
``dcg``, ``macro_recall``, ``macro_precision``, ``macro_f_1.000``, ``multiclass_balanced_accuracy``,
``multiclass_log_loss``, ``mse``, ``rmse``, ``absolute_loss``). Values are computed without the training
class weights.
"""

from __future__ import annotations

import numpy as np


def threshold_search(
    scores: np.ndarray,
    labels: np.ndarray,
    criterion: str,
    beta: float = 1.0,
    target_precision: float = 0.8,
    target_recall: float = 0.8,
) -> tuple[np.ndarray, np.ndarray]:
    """Best decision threshold per model (column of ``scores``) for a selection criterion.

    Rows with ``score >= threshold`` are predicted positive. Returns ``(value, threshold)``, each
    ``(models,)``; ``value`` is higher-is-better: the criterion's value at the threshold (for
    ``recall_at_target_precision`` a model that cannot reach the target precision gets its best precision
    minus 2, so it ranks below every model that does).
    """
    scores = np.asarray(scores)
    if scores.ndim == 1:
        scores = scores[:, None]
    n, k = scores.shape
    # one model per row, contiguous: sorting along the last axis of a C-ordered array is much faster
    by_model = np.ascontiguousarray(scores.T)
    y = np.asarray(labels).astype(np.float64)
    positives = float(y.sum())
    negatives = n - positives
    order = np.argsort(-by_model, axis=1)
    sorted_scores = np.take_along_axis(by_model, order, axis=1).astype(np.float64)
    tp = np.zeros((k, n + 1))
    np.cumsum(y[order], axis=1, out=tp[:, 1:])
    # Cut i predicts the first i sorted rows positive (i = 0: none); a valid cut lies between two
    # different scores.
    fp = np.arange(n + 1, dtype=np.float64)[None, :] - tp
    valid = np.ones((k, n + 1), dtype=bool)
    valid[:, 1:n] = sorted_scores[:, :-1] != sorted_scores[:, 1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        if criterion == "accuracy":
            value = (tp + (negatives - fp)) / max(n, 1)
        elif criterion == "f_beta":
            b2 = beta * beta
            value = (1 + b2) * tp
            denom = value + b2 * (positives - tp) + fp
            value = np.where(denom > 0, value / np.where(denom > 0, denom, 1.0), 0.0)
        elif criterion in ("precision_at_target_recall", "recall_at_target_precision"):
            predicted = np.arange(n + 1, dtype=np.float64)[None, :]
            precision = np.where(predicted > 0, tp / np.maximum(predicted, 1.0), 1.0)
            recall = tp / positives if positives else np.ones_like(tp)
            if criterion == "precision_at_target_recall":
                value = np.where(recall >= target_recall, precision, -2.0 + recall)
            else:
                value = np.where(precision >= target_precision, recall, -2.0 + precision)
        else:
            raise ValueError(f"threshold search does not apply to criterion {criterion!r}")
    value[~valid] = -np.inf
    best = np.argmax(value, axis=1)
    rows = np.arange(k)
    # the threshold lies between the last included sorted score (best - 1) and the first excluded (best)
    upper = sorted_scores[rows, np.maximum(best - 1, 0)]
    lower = sorted_scores[rows, np.minimum(best, n - 1)]
    threshold = np.where(
        best == 0,
        np.nextafter(sorted_scores[:, 0], np.inf),
        np.where(best == n, sorted_scores[:, n - 1], (upper + lower) / 2.0),
    )
    # the midpoint can round onto the excluded score: then use the included one
    inner = (best > 0) & (best < n)
    threshold = np.where(inner & ((threshold <= lower) | (threshold > upper)), upper, threshold)
    return value[rows, best], threshold


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    from scipy.stats import rankdata

    y = np.asarray(labels) > 0.5
    positives = int(y.sum())
    negatives = y.shape[0] - positives
    if positives == 0 or negatives == 0:
        return float("nan")
    ranks = rankdata(scores)
    return float((ranks[y].sum() - positives * (positives + 1) / 2.0) / (positives * negatives))


def binary_metrics(scores: np.ndarray, labels: np.ndarray, threshold: float, beta: float) -> dict[str, float]:
    y = np.asarray(labels) > 0.5
    predicted = np.asarray(scores) >= threshold
    tp = float(np.sum(predicted & y))
    fp = float(np.sum(predicted & ~y))
    fn = float(np.sum(~predicted & y))
    n = max(y.shape[0], 1)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    b2 = beta * beta
    denom = (1 + b2) * tp + b2 * fn + fp
    return {
        "binary_classification_accuracy": float(np.sum(predicted == y)) / n,
        f"binary_f_{beta:.3f}": (1 + b2) * tp / denom if denom else 0.0,
        "precision": precision,
        "recall": recall,
        "roc_auc_score": roc_auc(scores, labels),
    }


class MulticlassAccumulator:
    """Streaming multiclass metrics of one model from ``(rows, classes)`` probabilities."""

    def __init__(self, num_classes: int, top_k: int, beta: float):
        self.num_classes = num_classes
        self.top_k = min(top_k, num_classes)
        self.beta = beta
        self.confusion = np.zeros((num_classes, num_classes), dtype=np.int64)
        self.top_k_hits = 0
        self.dcg = 0.0
        self.log_loss = 0.0
        self.rows = 0

    def update(self, probabilities: np.ndarray, labels: np.ndarray) -> None:
        y = labels.astype(np.int64)
        rows = y.shape[0]
        true_p = probabilities[np.arange(rows), y]
        predicted = probabilities.argmax(axis=1)
        np.add.at(self.confusion, (y, predicted), 1)
        rank = (probabilities > true_p[:, None]).sum(axis=1)  # 0-based rank of the true class
        self.top_k_hits += int(np.sum(rank < self.top_k))
        self.dcg += float(np.sum(1.0 / np.log2(rank + 2.0)))
        self.log_loss += float(-np.sum(np.log(np.maximum(true_p, 1e-15))))
        self.rows += rows

    def result(self) -> dict[str, float]:
        n = max(self.rows, 1)
        diag = np.diag(self.confusion).astype(np.float64)
        actual = self.confusion.sum(axis=1).astype(np.float64)
        predicted = self.confusion.sum(axis=0).astype(np.float64)
        present = actual > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            recall = np.where(actual > 0, diag / actual, 0.0)
            precision = np.where(predicted > 0, diag / predicted, 0.0)
            b2 = self.beta * self.beta
            denom = b2 * precision + recall
            f_beta = np.where(denom > 0, (1 + b2) * precision * recall / denom, 0.0)
        macro_recall = float(recall[present].mean()) if present.any() else 0.0
        return {
            "multiclass_accuracy": float(diag.sum()) / n,
            f"multiclass_top_k_accuracy_{self.top_k}": self.top_k_hits / n,
            "dcg": self.dcg / n,
            "macro_recall": macro_recall,
            "macro_precision": float(precision[present].mean()) if present.any() else 0.0,
            f"macro_f_{self.beta:.3f}": float(f_beta[present].mean()) if present.any() else 0.0,
            "multiclass_balanced_accuracy": macro_recall,
            "multiclass_log_loss": self.log_loss / n,
        }


class RegressionAccumulator:
    """Streaming regression metrics (original label units)."""

    def __init__(self) -> None:
        self.squared = 0.0
        self.absolute = 0.0
        self.rows = 0

    def update(self, predictions: np.ndarray, labels: np.ndarray) -> None:
        r = predictions.astype(np.float64) - labels.astype(np.float64)
        self.squared += float(r @ r)
        self.absolute += float(np.abs(r).sum())
        self.rows += r.shape[0]

    def result(self) -> dict[str, float]:
        n = max(self.rows, 1)
        mse = self.squared / n
        return {"mse": mse, "rmse": float(np.sqrt(mse)), "absolute_loss": self.absolute / n}
