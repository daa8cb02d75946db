"""Partial dependence (``methods.pdp``): for each feature, the model's mean output with that feature set
to each grid value for every row. Numeric features: ``grid_resolution`` equal-width buckets (values at
their centres, ``data_distribution`` the share of rows in each); categorical: every value."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from . import groups
from .errors import ClarifyError

DEFAULT_GRID = 15
DEFAULT_TOP_K = 10
MAX_ROWS = 1000  # rows averaged per grid value


def features_to_plot(pdp_config: dict, columns: list[str], ranking: list[str] | None) -> list[str]:
    given = pdp_config.get("features")
    if given:
        names = []
        for spec in given:
            if isinstance(spec, int) and not isinstance(spec, bool):
                if not 0 <= spec < len(columns):
                    raise ClarifyError(
                        f"pdp feature index {spec} is out of range of the {len(columns)} features"
                    )
                names.append(columns[spec])
            elif str(spec) in columns:
                names.append(str(spec))
            else:
                raise ClarifyError(
                    f"pdp feature {spec!r} is not a feature of the model ({', '.join(columns)})"
                )
        return names
    if ranking is None:
        raise ClarifyError("pdp needs 'features' when no shap analysis ranks the features")
    return ranking[: int(pdp_config.get("top_k_features") or DEFAULT_TOP_K)]


def partial_dependence(
    predict: Callable[[pd.DataFrame], np.ndarray],
    features: pd.DataFrame,
    names: list[str],
    grid_resolution: int | None,
    label_headers: list[str],
) -> list[dict]:
    grid = int(grid_resolution or DEFAULT_GRID)
    sample = features if len(features) <= MAX_ROWS else features.sample(MAX_ROWS, random_state=0)
    result = []
    for name in names:
        column = features[name]
        entry: dict = {"feature_name": name}
        try:
            numeric = (
                np.issubdtype(column.dtype, np.number) and groups.column_type(column) == groups.CONTINUOUS
            )
            if numeric:
                edges = np.linspace(float(column.min()), float(column.max()), grid + 1)
                values = ((edges[:-1] + edges[1:]) / 2).tolist()
                counts, _ = np.histogram(column.to_numpy(dtype=float), bins=edges)
                distribution = (counts / max(1, counts.sum())).tolist()
            else:
                share = column.value_counts(normalize=True, sort=False)
                values = [v.item() if isinstance(v, np.generic) else v for v in share.index]
                distribution = share.tolist()
            outputs = []
            for value in values:
                varied = sample.copy()
                varied[name] = value
                outputs.append(np.asarray(predict(varied), dtype=float).mean(axis=0))
            matrix = np.array(outputs)  # grid × labels
            entry.update(
                {
                    "data_type": "numerical" if numeric else "categorical",
                    "feature_values": values,
                    "data_distribution": distribution,
                    "model_predictions": matrix.T.tolist(),
                    "label_headers": label_headers[: matrix.shape[1]],
                }
            )
        except ClarifyError as exc:
            entry["error"] = str(exc)
        result.append(entry)
    return result
