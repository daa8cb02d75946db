"""Model-quality metrics, named and shaped as SageMaker Model Monitor writes them.

``statistics.json``: ``{"version": 0.0, "dataset": {"item_count": n}, "<problem>_metrics": {...}}``, each
scalar metric ``{"value": x, "standard_deviation": s}`` where ``s`` is the standard deviation of the metric
over five random 80 % subsamples when there are at least 200 rows, else ``"NaN"``. ``confusion_matrix``
(``{"<actual>": {"<predicted>": count}}``) and the curves are written as they are.

The "best constant classifier" metrics are those of the constant prediction that suits each metric: the
majority class for accuracy (and for the multiclass weighted metrics), the positive class for binary
recall, precision and the F-scores.
"""

from __future__ import annotations

import math

import numpy as np

REGRESSION = "Regression"
BINARY = "BinaryClassification"
MULTICLASS = "MulticlassClassification"
PROBLEM_TYPES = (REGRESSION, BINARY, MULTICLASS)

SECTION = {
    REGRESSION: "regression",
    BINARY: "binary_classification",
    MULTICLASS: "multiclass_classification",
}

MIN_ROWS_FOR_DEVIATION = 200
SUBSAMPLES = 5
SUBSAMPLE_FRACTION = 0.8

#: metric → comparison operator in suggested constraints (a violation when value <op> threshold).
HIGHER_IS_WORSE = {"mae", "mse", "rmse", "false_positive_rate", "false_negative_rate"}
CONSTRAINED = {
    REGRESSION: ("mae", "mse", "rmse", "r2"),
    BINARY: (
        "recall",
        "precision",
        "accuracy",
        "true_positive_rate",
        "true_negative_rate",
        "false_positive_rate",
        "false_negative_rate",
        "auc",
        "f0_5",
        "f1",
        "f2",
    ),
    MULTICLASS: (
        "accuracy",
        "weighted_recall",
        "weighted_precision",
        "weighted_f0_5",
        "weighted_f1",
        "weighted_f2",
    ),
}
OPERATORS = {
    "GreaterThanThreshold": lambda v, t: v > t,
    "GreaterThanOrEqualToThreshold": lambda v, t: v >= t,
    "LessThanThreshold": lambda v, t: v < t,
    "LessThanOrEqualToThreshold": lambda v, t: v <= t,
}


class QualityError(Exception):
    """Data the metrics cannot be computed from (a ClientError for the job)."""


def label_key(value) -> str:
    """A class label as the confusion matrix names it (``1.0`` → ``"1"``)."""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _normalise(values) -> np.ndarray:
    """Labels as numbers when they all are, else text."""
    out = []
    numeric = True
    for v in values:
        try:
            out.append(float(v))
        except (TypeError, ValueError):
            numeric = False
            break
    if numeric:
        return np.array(out, dtype=np.float64)
    return np.array([str(v) for v in values], dtype=object)


def _fbeta(precision: float, recall: float, beta: float) -> float:
    b2 = beta * beta
    denominator = b2 * precision + recall
    return (1 + b2) * precision * recall / denominator if denominator else 0.0


def _ratio(a: float, b: float) -> float:
    return a / b if b else 0.0


def regression_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    error = p - y
    mse = float(np.mean(error**2))
    total = float(np.sum((y - y.mean()) ** 2))
    r2 = 1.0 - float(np.sum(error**2)) / total if total else (1.0 if mse == 0 else 0.0)
    return {"mae": float(np.mean(np.abs(error))), "mse": mse, "rmse": math.sqrt(mse), "r2": r2}


def _binary_scalars(y_pos: np.ndarray, p_pos: np.ndarray) -> dict[str, float]:
    tp = float(np.sum(y_pos & p_pos))
    fp = float(np.sum(~y_pos & p_pos))
    fn = float(np.sum(y_pos & ~p_pos))
    tn = float(np.sum(~y_pos & ~p_pos))
    precision = _ratio(tp, tp + fp)
    recall = _ratio(tp, tp + fn)
    return {
        "recall": recall,
        "precision": precision,
        "accuracy": _ratio(tp + tn, tp + tn + fp + fn),
        "true_positive_rate": recall,
        "true_negative_rate": _ratio(tn, tn + fp),
        "false_positive_rate": _ratio(fp, fp + tn),
        "false_negative_rate": _ratio(fn, fn + tp),
        "f0_5": _fbeta(precision, recall, 0.5),
        "f1": _fbeta(precision, recall, 1.0),
        "f2": _fbeta(precision, recall, 2.0),
    }


def positive_label(y: np.ndarray, p: np.ndarray):
    labels = sorted(set(y.tolist()) | set(p.tolist()), key=lambda v: (str(type(v)), v))
    for candidate in (1.0, "1", "true", "True", "yes"):
        if candidate in labels:
            return candidate
    return labels[-1] if labels else 1.0


def binary_metrics(y: np.ndarray, p: np.ndarray, scores: np.ndarray | None) -> dict[str, float]:
    positive = positive_label(y, p)
    y_pos = y == positive
    p_pos = p == positive
    out = _binary_scalars(y_pos, p_pos)
    if scores is not None and len(np.unique(y_pos)) == 2:
        from sklearn.metrics import roc_auc_score

        out["auc"] = float(roc_auc_score(y_pos, scores))
    elif len(np.unique(y_pos)) == 2:
        from sklearn.metrics import roc_auc_score

        out["auc"] = float(roc_auc_score(y_pos, p_pos.astype(float)))
    else:
        out["auc"] = 0.0
    constant_positive = _binary_scalars(y_pos, np.ones_like(y_pos))
    majority = bool(y_pos.mean() >= 0.5) if len(y_pos) else True
    constant_majority = _binary_scalars(y_pos, np.full_like(y_pos, majority))
    out["recall_best_constant_classifier"] = constant_positive["recall"]
    out["precision_best_constant_classifier"] = constant_positive["precision"]
    out["accuracy_best_constant_classifier"] = constant_majority["accuracy"]
    for f in ("f0_5", "f1", "f2"):
        out[f"{f}_best_constant_classifier"] = constant_positive[f]
    return out


def _weighted(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    labels = np.unique(y)
    weights = np.array([np.sum(y == c) for c in labels], dtype=float)
    stats = {"recall": [], "precision": [], "f0_5": [], "f1": [], "f2": []}
    for c in labels:
        s = _binary_scalars(y == c, p == c)
        for key in stats:
            stats[key].append(s[key])
    total = weights.sum()
    out = {"accuracy": float(np.mean(y == p)) if len(y) else 0.0}
    for key, values in stats.items():
        out[f"weighted_{key}"] = float(np.dot(weights, values) / total) if total else 0.0
    return out


def multiclass_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    out = _weighted(y, p)
    values, counts = np.unique(y, return_counts=True)
    majority = values[int(np.argmax(counts))] if len(values) else None
    constant = _weighted(y, np.array([majority] * len(y), dtype=y.dtype))
    for key, value in constant.items():
        out[f"{key}_best_constant_classifier"] = value
    return out


def _scalars(problem: str, y, p, scores) -> dict[str, float]:
    if problem == REGRESSION:
        return regression_metrics(y, p)
    if problem == BINARY:
        return binary_metrics(y, p, scores)
    return multiclass_metrics(y, p)


def confusion_matrix(y: np.ndarray, p: np.ndarray) -> dict:
    labels = sorted({label_key(v) for v in y.tolist()} | {label_key(v) for v in p.tolist()})
    matrix = {a: {b: 0 for b in labels} for a in labels}
    for actual, predicted in zip(y.tolist(), p.tolist()):
        matrix[label_key(actual)][label_key(predicted)] += 1
    return matrix


def compute(
    problem: str,
    actual,
    predicted=None,
    scores=None,
    threshold: float | None = None,
    seed: int = 0,
) -> dict:
    """The ``statistics.json`` document for one dataset."""
    if problem not in PROBLEM_TYPES:
        raise QualityError(f"problem_type must be one of {', '.join(PROBLEM_TYPES)} (got {problem!r})")
    if not len(actual):
        raise QualityError("there are no rows with both a prediction and a ground-truth label to evaluate")
    score_array = np.asarray(scores, dtype=np.float64) if scores is not None else None
    if problem == REGRESSION:
        y = np.asarray(actual, dtype=np.float64)
        p = np.asarray(predicted if predicted is not None else scores, dtype=np.float64)
    else:
        y = _normalise(actual)
        if predicted is None:
            if score_array is None:
                raise QualityError(
                    "neither an inference attribute nor a probability attribute gives predictions"
                )
            cut = 0.5 if threshold is None else float(threshold)
            p = (score_array > cut).astype(np.float64)
            if y.dtype == object:
                p = np.array([label_key(v) for v in p], dtype=object)
        else:
            p = _normalise(predicted)
        if y.dtype != p.dtype:
            y = np.array([label_key(v) for v in y], dtype=object)
            p = np.array([label_key(v) for v in p], dtype=object)
    scalars = _scalars(problem, y, p, score_array)
    deviations = _deviations(problem, y, p, score_array, seed) if len(y) >= MIN_ROWS_FOR_DEVIATION else {}
    metrics: dict = {}
    if problem != REGRESSION:
        metrics["confusion_matrix"] = confusion_matrix(y, p)
    for key, value in scalars.items():
        metrics[key] = {"value": value, "standard_deviation": deviations.get(key, "NaN")}
    if problem == BINARY:
        metrics.update(_curves(y, p, score_array))
    return {"version": 0.0, "dataset": {"item_count": int(len(y))}, f"{SECTION[problem]}_metrics": metrics}


def _curves(y: np.ndarray, p: np.ndarray, scores: np.ndarray | None) -> dict:
    from sklearn.metrics import precision_recall_curve, roc_curve

    positive = positive_label(y, p)
    y_pos = (y == positive).astype(int)
    s = scores if scores is not None else (p == positive).astype(float)
    if len(np.unique(y_pos)) < 2:
        return {}
    fpr, tpr, _ = roc_curve(y_pos, s)
    precision, recall, _ = precision_recall_curve(y_pos, s)
    return {
        "receiver_operating_characteristic_curve": {
            "false_positive_rates": [float(v) for v in fpr],
            "true_positive_rates": [float(v) for v in tpr],
        },
        "precision_recall_curve": {
            "precisions": [float(v) for v in precision],
            "recalls": [float(v) for v in recall],
        },
    }


def _deviations(problem: str, y, p, scores, seed: int) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    size = int(len(y) * SUBSAMPLE_FRACTION)
    runs: dict[str, list[float]] = {}
    for _ in range(SUBSAMPLES):
        index = rng.choice(len(y), size=size, replace=False)
        values = _scalars(problem, y[index], p[index], scores[index] if scores is not None else None)
        for key, value in values.items():
            runs.setdefault(key, []).append(value)
    return {key: float(np.std(values)) for key, values in runs.items()}


def suggest_constraints(statistics: dict, problem: str) -> dict:
    metrics = statistics.get(f"{SECTION[problem]}_metrics") or {}
    constraints = {}
    for key in CONSTRAINED[problem]:
        if key in metrics:
            operator = "GreaterThanThreshold" if key in HIGHER_IS_WORSE else "LessThanThreshold"
            constraints[key] = {"threshold": metrics[key]["value"], "comparison_operator": operator}
    return {"version": 0.0, f"{SECTION[problem]}_constraints": constraints}


def violations(statistics: dict, constraints: dict) -> list[dict]:
    found = []
    for section in SECTION.values():
        wanted = constraints.get(f"{section}_constraints")
        metrics = statistics.get(f"{section}_metrics")
        if not wanted or not metrics:
            continue
        for name, rule in wanted.items():
            value = (metrics.get(name) or {}).get("value")
            operator = rule.get("comparison_operator", "LessThanThreshold")
            test = OPERATORS.get(operator)
            if value is None or test is None or not isinstance(value, int | float):
                continue
            if test(float(value), float(rule["threshold"])):
                found.append(
                    {
                        "metric_name": name,
                        "constraint_check_type": operator,
                        "description": f"Metric {name} with {value!r} was {operator} '{rule['threshold']!r}'",
                    }
                )
    return found
