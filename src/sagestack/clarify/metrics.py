"""The bias metrics, computed as smclarify (Clarify's open-source core) defines them.

Every function takes boolean index series (``facet`` marks the sensitive group *d*, ``~facet`` the rest
*a*; ``label`` / ``predicted`` mark positive outcomes) and returns a float, or raises ``ValueError`` with
the reason the metric cannot be computed (the report then carries ``value: null`` and ``error``).
Ratios go through :func:`divide`: 0/0 = 0, x/0 = ±infinity.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd

INFINITY = math.inf
#: An integer column with fewer distinct values than this fraction of its rows is categorical.
UNIQUENESS_THRESHOLD = 0.05
FT_NEIGHBORS = 5
FT_MIN_NEIGHBORS = 1
FT_SAMPLES_THRESHOLD = 9

PRE_TRAINING = ("CDDL", "CI", "DPL", "JS", "KL", "KS", "LP", "TVD")
POST_TRAINING = ("AD", "CDDPL", "DAR", "DCA", "DCR", "DI", "DPPL", "DRR", "FT", "GE", "RD", "SD", "TE")

DESCRIPTIONS = {
    "CI": "Class Imbalance (CI)",
    "DPL": "Difference in Positive Proportions in Labels (DPL)",
    "KL": "Kullback-Liebler Divergence (KL)",
    "JS": "Jensen-Shannon Divergence (JS)",
    "LP": "L-p Norm (LP)",
    "TVD": "Total Variation Distance (TVD)",
    "KS": "Kolmogorov-Smirnov Distance (KS)",
    "CDDL": "Conditional Demographic Disparity in Labels (CDDL)",
    "DPPL": "Difference in Positive Proportions in Predicted Labels (DPPL)",
    "DI": "Disparate Impact (DI)",
    "DCA": "Difference in Conditional Acceptance (DCA)",
    "DCR": "Difference in Conditional Rejection (DCR)",
    "RD": "Recall Difference (RD)",
    "SD": "Specificity Difference (SD)",
    "DAR": "Difference in Acceptance Rates (DAR)",
    "DRR": "Difference in Rejection Rates (DRR)",
    "AD": "Accuracy Difference (AD)",
    "CDDPL": "Conditional Demographic Disparity in Predicted Labels (CDDPL)",
    "TE": "Treatment Equality (TE)",
    "FT": "Flip Test (FT)",
    "GE": "Generalized Entropy (GE)",
}


def divide(a: float, b: float) -> float:
    if b == 0:
        if a == 0:
            return 0.0
        return -INFINITY if a < 0 else INFINITY
    return a / b


def _difference(x: float, y: float) -> float:
    """x − y, except 0 when both are +infinity (smclarify's convention)."""
    if x == y == INFINITY:
        return 0.0
    return x - y


def _sizes(facet: pd.Series) -> tuple[int, int]:
    n_d = int(facet.sum())
    n_a = int(len(facet) - n_d)
    if n_a == 0:
        raise ValueError("Negated facet set is empty.")
    if n_d == 0:
        raise ValueError("Facet set is empty.")
    return n_a, n_d


def _count(mask) -> int:
    return int(np.count_nonzero(np.asarray(mask)))


# -- pre-training ---------------------------------------------------------------------------------------


def CI(facet: pd.Series) -> float:
    n_a, n_d = _sizes(facet)
    return (n_a - n_d) / (n_a + n_d)


def DPL(facet: pd.Series, label: pd.Series) -> float:
    n_a, n_d = _sizes(facet)
    return _count(label & ~facet) / n_a - _count(label & facet) / n_d


def _distributions(facet: pd.Series, label: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """P_a and P_d over {positive, not positive}."""
    n_a, n_d = _sizes(facet)
    pos_a, pos_d = _count(label & ~facet) / n_a, _count(label & facet) / n_d
    return np.array([pos_a, 1 - pos_a]), np.array([pos_d, 1 - pos_d])


def _nonzero(p_a: np.ndarray, p_d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    keep = (p_a > 0) & (p_d > 0)
    if not keep.any():
        raise ValueError("No instance of common facet found, dataset may be too small")
    return p_a[keep], p_d[keep]


def KL(facet: pd.Series, label: pd.Series) -> float:
    p_a, p_d = _nonzero(*_distributions(facet, label))
    return float(np.sum(p_a * np.log(p_a / p_d)))


def JS(facet: pd.Series, label: pd.Series) -> float:
    p_a, p_d = _nonzero(*_distributions(facet, label))
    p = 0.5 * (p_a + p_d)
    return float(0.5 * (np.sum(p_a * np.log(p_a / p)) + np.sum(p_d * np.log(p_d / p))))


def LP(facet: pd.Series, label: pd.Series) -> float:
    p_a, p_d = _nonzero(*_distributions(facet, label))
    return float(np.linalg.norm(p_a - p_d, 2))


def TVD(facet: pd.Series, label: pd.Series) -> float:
    p_a, p_d = _nonzero(*_distributions(facet, label))
    return float(0.5 * np.sum(np.abs(p_a - p_d)))


def KS(facet: pd.Series, label: pd.Series) -> float:
    p_a, p_d = _nonzero(*_distributions(facet, label))
    return float(np.max(np.abs(p_a - p_d)))


def CDD(facet: pd.Series, label: pd.Series, group: pd.Series | None) -> float:
    """Conditional demographic disparity of ``label`` (observed or predicted) over ``group``'s subgroups."""
    if group is None or len(group) == 0:
        raise ValueError("Group variable is empty or not provided")
    if _count(label) == 0:
        raise ValueError("No positive labels in set")
    if _count(~label) == 0:
        raise ValueError("No negative labels in set")
    total, weighted = 0, 0.0
    for value in pd.unique(group):
        in_group = np.asarray(group == value)
        n_i = _count(in_group)
        accepted = _count(label & in_group)
        rejected = _count(~label & in_group)
        share_accepted = _count(label & facet & in_group) / accepted if accepted else 0.0
        share_rejected = _count(~label & facet & in_group) / rejected if rejected else 0.0
        total += n_i
        weighted += n_i * (share_rejected - share_accepted)
    return divide(weighted, total)


def CDDL(facet: pd.Series, label: pd.Series, group: pd.Series | None) -> float:
    return CDD(facet, label, group)


# -- post-training ----------------------------------------------------------------------------------------


def _confusion(facet: pd.Series, label: pd.Series, predicted: pd.Series, sensitive: bool) -> tuple[int, ...]:
    side = facet if sensitive else ~facet
    tp = _count(label & predicted & side)
    fp = _count(~label & predicted & side)
    fn = _count(label & ~predicted & side)
    tn = _count(~label & ~predicted & side)
    return tp, fp, fn, tn


def DPPL(facet: pd.Series, predicted: pd.Series) -> float:
    n_a, n_d = _sizes(facet)
    return _count(predicted & ~facet) / n_a - _count(predicted & facet) / n_d


def DI(facet: pd.Series, predicted: pd.Series) -> float:
    n_a, n_d = _sizes(facet)
    return divide(_count(predicted & facet) / n_d, _count(predicted & ~facet) / n_a)


def DCA(facet: pd.Series, label: pd.Series, predicted: pd.Series) -> float:
    _sizes(facet)
    c_a = divide(_count(label & ~facet), _count(predicted & ~facet))
    c_d = divide(_count(label & facet), _count(predicted & facet))
    return _difference(c_a, c_d)


def DCR(facet: pd.Series, label: pd.Series, predicted: pd.Series) -> float:
    _sizes(facet)
    r_a = divide(_count(~label & ~facet), _count(~predicted & ~facet))
    r_d = divide(_count(~label & facet), _count(~predicted & facet))
    return _difference(r_d, r_a)


def RD(facet: pd.Series, label: pd.Series, predicted: pd.Series) -> float:
    _sizes(facet)
    tp_a, _, fn_a, _ = _confusion(facet, label, predicted, False)
    tp_d, _, fn_d, _ = _confusion(facet, label, predicted, True)
    return _difference(divide(tp_a, tp_a + fn_a), divide(tp_d, tp_d + fn_d))


def SD(facet: pd.Series, label: pd.Series, predicted: pd.Series) -> float:
    _sizes(facet)
    _, fp_a, _, tn_a = _confusion(facet, label, predicted, False)
    _, fp_d, _, tn_d = _confusion(facet, label, predicted, True)
    return _difference(divide(tn_d, tn_d + fp_d), divide(tn_a, tn_a + fp_a))


def DAR(facet: pd.Series, label: pd.Series, predicted: pd.Series) -> float:
    _sizes(facet)
    tp_a, fp_a, _, _ = _confusion(facet, label, predicted, False)
    tp_d, fp_d, _, _ = _confusion(facet, label, predicted, True)
    return _difference(divide(tp_a, tp_a + fp_a), divide(tp_d, tp_d + fp_d))


def DRR(facet: pd.Series, label: pd.Series, predicted: pd.Series) -> float:
    _sizes(facet)
    _, _, fn_a, tn_a = _confusion(facet, label, predicted, False)
    _, _, fn_d, tn_d = _confusion(facet, label, predicted, True)
    return _difference(divide(tn_d, tn_d + fn_d), divide(tn_a, tn_a + fn_a))


def AD(facet: pd.Series, label: pd.Series, predicted: pd.Series) -> float:
    _sizes(facet)
    a = _confusion(facet, label, predicted, False)
    d = _confusion(facet, label, predicted, True)
    return _difference(divide(a[0] + a[3], sum(a)), divide(d[0] + d[3], sum(d)))


def TE(facet: pd.Series, label: pd.Series, predicted: pd.Series) -> float:
    _sizes(facet)
    _, fp_a, fn_a, _ = _confusion(facet, label, predicted, False)
    _, fp_d, fn_d, _ = _confusion(facet, label, predicted, True)
    return _difference(divide(fn_d, fp_d), divide(fn_a, fp_a))


def CDDPL(facet: pd.Series, predicted: pd.Series, group: pd.Series | None) -> float:
    return CDD(facet, predicted, group)


def FT(features: pd.DataFrame, facet: pd.Series, predicted: pd.Series) -> float:
    """Flip test: a kNN fitted on facet *a* (with the model's predicted labels) predicts facet *d*;
    (#model positive & kNN negative − #model negative & kNN positive) / n_d."""
    from sklearn.neighbors import KNeighborsClassifier

    n_a, n_d = _sizes(facet)
    if len(features.columns) != len(features.select_dtypes([np.number, bool]).columns):
        raise ValueError("FlipTest does not support non-numeric columns")
    data = features.to_numpy()
    side = np.asarray(facet, dtype=bool)
    model = np.asarray(predicted, dtype=bool)
    knn = KNeighborsClassifier(
        n_neighbors=FT_NEIGHBORS if n_a > FT_SAMPLES_THRESHOLD else FT_MIN_NEIGHBORS, weights="uniform", p=2
    )
    knn.fit(data[~side], model[~side])
    as_if_a = knn.predict(data[side]).astype(bool)
    model_d = model[side]
    flipped_positive = int(np.count_nonzero(model_d & ~as_if_a))
    flipped_negative = int(np.count_nonzero(~model_d & as_if_a))
    return divide(flipped_positive - flipped_negative, n_d)


def GE(label: pd.Series, predicted: pd.Series) -> float:
    """Generalized entropy index with alpha = 2 over the benefits ŷ − y + 1."""
    n = len(label)
    if n == 0:
        raise ValueError("dataset must be non-empty")
    benefit = np.asarray(predicted, dtype=int) - np.asarray(label, dtype=int) + 1
    mean = benefit.mean()
    if mean == 0:
        raise ValueError(
            "All predicted labels are false negatives. There should be at least one prediction that is not "
            "false negative."
        )
    return float(((benefit / mean) ** 2 - 1).sum() / (n * 2))


#: How each metric is called: which of (facet, label, predicted, group, features) it takes.
SIGNATURES: dict[str, tuple[Callable[..., float], tuple[str, ...]]] = {
    "CI": (CI, ("facet",)),
    "DPL": (DPL, ("facet", "label")),
    "KL": (KL, ("facet", "label")),
    "JS": (JS, ("facet", "label")),
    "LP": (LP, ("facet", "label")),
    "TVD": (TVD, ("facet", "label")),
    "KS": (KS, ("facet", "label")),
    "CDDL": (CDDL, ("facet", "label", "group")),
    "DPPL": (DPPL, ("facet", "predicted")),
    "DI": (DI, ("facet", "predicted")),
    "DCA": (DCA, ("facet", "label", "predicted")),
    "DCR": (DCR, ("facet", "label", "predicted")),
    "RD": (RD, ("facet", "label", "predicted")),
    "SD": (SD, ("facet", "label", "predicted")),
    "DAR": (DAR, ("facet", "label", "predicted")),
    "DRR": (DRR, ("facet", "label", "predicted")),
    "AD": (AD, ("facet", "label", "predicted")),
    "TE": (TE, ("facet", "label", "predicted")),
    "CDDPL": (CDDPL, ("facet", "predicted", "group")),
    "FT": (FT, ("features", "facet", "predicted")),
    "GE": (GE, ("label", "predicted")),
}


def compute(name: str, **inputs) -> dict:
    """One metric's report entry: ``{"name", "description", "value"}`` or with ``value: None`` and
    ``error`` when it cannot be computed."""
    function, arguments = SIGNATURES[name]
    entry: dict = {"name": name, "description": DESCRIPTIONS[name]}
    try:
        value = float(function(*(inputs.get(arg) for arg in arguments)))
        entry["value"] = value
    except (ValueError, ZeroDivisionError) as exc:
        entry["value"] = None
        entry["error"] = str(exc)
    return entry


def json_value(value: float | None):
    """Infinite values are written as the strings ``"Infinity"`` / ``"-Infinity"``."""
    if value is None:
        return None
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if math.isnan(value):
        return None
    return value
