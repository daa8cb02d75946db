"""Kernel SHAP for a Clarify job, computed with the ``shap`` library: the baseline (given, or k-means /
the mean of the data), ``num_samples``, ``use_logit``, ``seed``; global values aggregated with
``agg_method``; the local values for ``explanations_shap/out.csv``."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .errors import ClarifyError

AGG_METHODS = ("mean_abs", "median", "mean_sq")

log = logging.getLogger("sagestack.clarify")


@dataclass
class Explanation:
    labels: list[str]
    features: list[str]
    local: np.ndarray  # rows × features × labels
    expected: np.ndarray  # labels
    baseline: pd.DataFrame

    def global_values(self, agg_method: str) -> np.ndarray:
        """features × labels."""
        if agg_method == "mean_abs":
            return np.abs(self.local).mean(axis=0)
        if agg_method == "median":
            return np.median(self.local, axis=0)
        return (self.local**2).mean(axis=0)

    def section(self, agg_method: str) -> dict:
        values = self.global_values(agg_method)
        return {
            label: {
                "global_shap_values": {f: float(values[i, j]) for i, f in enumerate(self.features)},
                "expected_value": float(self.expected[j]),
            }
            for j, label in enumerate(self.labels)
        }

    def local_frame(self) -> pd.DataFrame:
        if len(self.labels) == 1:
            return pd.DataFrame(self.local[:, :, 0], columns=self.features)
        columns = {}
        for j, label in enumerate(self.labels):
            for i, feature in enumerate(self.features):
                columns[f"{label}_{feature}"] = self.local[:, i, j]
        return pd.DataFrame(columns)


def numeric_columns(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for column in out.columns:
        try:
            out[column] = pd.to_numeric(out[column])
        except (TypeError, ValueError):
            pass
    return out


def label_names(count: int, headers: list | None) -> list[str]:
    if headers and len(headers) == count:
        return [str(h) for h in headers]
    return [f"label{i}" for i in range(count)]


def baseline_frame(shap_config: dict, features: pd.DataFrame, read_baseline: Callable[[str], pd.DataFrame]):
    """The baseline rows: ``baseline`` (inline rows or an S3 URI read by ``read_baseline``), else k-means
    centres (``num_clusters``) of the data, else its mean (numeric) / mode (other columns)."""
    given = shap_config.get("baseline")
    columns = list(features.columns)
    if given is not None:
        if isinstance(given, str):
            frame = read_baseline(given)
        else:
            rows = given if isinstance(given, list) else [given]
            rows = [[r[c] for c in columns] if isinstance(r, dict) else r for r in rows]
            frame = pd.DataFrame(rows)
        if frame.shape[1] != len(columns):
            raise ClarifyError(
                f"The SHAP baseline has {frame.shape[1]} columns but the model takes {len(columns)} features "
                f"({', '.join(columns)})"
            )
        frame.columns = columns
        return numeric_columns(frame)
    numeric = all(np.issubdtype(features[c].dtype, np.number) for c in columns)
    clusters = shap_config.get("num_clusters")
    if numeric and clusters:
        from sklearn.cluster import KMeans

        k = max(1, min(int(clusters), len(features)))
        model = KMeans(n_clusters=k, n_init=10, random_state=shap_config.get("seed") or 0)
        model.fit(features.to_numpy(dtype=float))
        return pd.DataFrame(model.cluster_centers_, columns=columns)
    row = {
        c: float(features[c].mean())
        if np.issubdtype(features[c].dtype, np.number)
        else features[c].mode().iat[0]
        for c in columns
    }
    return pd.DataFrame([row], columns=columns)


def kernel_shap(
    predict: Callable[[np.ndarray], np.ndarray],
    features: pd.DataFrame,
    baseline: pd.DataFrame,
    shap_config: dict,
    label_headers: list | None = None,
) -> Explanation:
    """Local SHAP values of every row of ``features`` for every model output (``predict`` returns
    rows × outputs scores)."""
    import shap

    agg = shap_config.get("agg_method") or "mean_abs"
    if agg not in AGG_METHODS:
        raise ClarifyError(f"agg_method {agg!r} is not one of {', '.join(AGG_METHODS)}")
    seed = shap_config.get("seed")
    if seed is not None:
        np.random.seed(int(seed))
    link = "logit" if shap_config.get("use_logit") else "identity"
    data = baseline.to_numpy()
    explainer = shap.KernelExplainer(predict, data, link=link)
    num_samples = shap_config.get("num_samples")
    values = explainer.shap_values(
        features.to_numpy(), nsamples=int(num_samples) if num_samples else "auto", silent=True
    )
    local = np.asarray(values, dtype=float)
    if local.ndim == 2:  # one output
        local = local[:, :, None]
    elif local.ndim == 3 and local.shape[0] != len(features):  # older shap: a list per output
        local = np.transpose(local, (1, 2, 0))
    expected = np.atleast_1d(np.asarray(explainer.expected_value, dtype=float))
    labels = label_names(local.shape[2], label_headers)
    return Explanation(labels, list(features.columns), local, expected, baseline)
