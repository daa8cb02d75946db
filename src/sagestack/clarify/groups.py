"""How Clarify turns a column and the values the user gave into a boolean index (smclarify's rules):
categorical columns select rows by value, continuous ones by ``(threshold, max]``."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .errors import ClarifyError
from .metrics import UNIQUENESS_THRESHOLD, divide

CATEGORICAL = "categorical"
CONTINUOUS = "continuous"


def column_type(series: pd.Series, values: list | None = None) -> str:
    uniqueness = divide(series.nunique(), series.count())
    if series.dtype.name == "category" or (isinstance(values, list) and len(values) > 1):
        return CATEGORICAL
    if series.dtype == bool:
        return CATEGORICAL
    if series.dtype.name in ("str", "string", "object"):
        try:
            series.astype("int64")
        except (ValueError, TypeError):
            return CATEGORICAL
        return CONTINUOUS if uniqueness >= UNIQUENESS_THRESHOLD else CATEGORICAL
    if np.issubdtype(series.dtype, np.floating):
        return CONTINUOUS
    if np.issubdtype(series.dtype, np.integer):
        return CONTINUOUS if uniqueness >= UNIQUENESS_THRESHOLD else CATEGORICAL
    return CATEGORICAL


def _matching(series: pd.Series, values: list) -> pd.Series:
    index = series.isin(values)
    if not index.any():  # "1" given for an int column, 1 for a str column: compare as the column's type
        try:
            if np.issubdtype(series.dtype, np.number):
                index = series.isin([float(v) for v in values])
            else:
                index = series.astype(str).isin([str(v) for v in values])
        except (TypeError, ValueError):
            pass
    return index.astype(bool)


def interval_text(threshold: float, series: pd.Series) -> str:
    return str(pd.Interval(threshold, pd.to_numeric(series).max(), closed="right"))


def _threshold(values: list, what: str) -> float:
    if len(values) != 1:
        raise ClarifyError(f"{what} value provided must be a single numeric threshold for continuous data")
    try:
        return float(values[0])
    except (TypeError, ValueError):
        raise ClarifyError(
            f"{what} value provided must be a single numeric threshold for continuous data"
        ) from None


def positive_index(series: pd.Series, values: list, kind: str, what: str = "Label") -> pd.Series:
    if kind == CONTINUOUS:
        return (pd.to_numeric(series) > _threshold(values, what)).astype(bool)
    return _matching(series, values)


def value_text(series: pd.Series, values: list, kind: str) -> str:
    if kind == CONTINUOUS:
        return interval_text(_threshold(values, "Label"), series)
    return ",".join(str(v) for v in values)


def facet_groups(series: pd.Series, values: list | None) -> list[tuple[str, pd.Series]]:
    """(value_or_threshold text, sensitive index) per facet group: the given values (or threshold), or
    one-vs-rest for each value of a categorical column when none are given."""
    kind = column_type(series, values)
    name = series.name
    if values:
        if kind == CONTINUOUS:
            threshold = _threshold(values, f"Facet {name}")
            return [(interval_text(threshold, series), (pd.to_numeric(series) > threshold).astype(bool))]
        return [(",".join(str(v) for v in values), _matching(series, values))]
    if kind == CONTINUOUS:
        raise ClarifyError(
            f"Facet {name} is a continuous column: value_or_threshold must give a single numeric threshold"
        )
    return [(str(v), (series == v).astype(bool)) for v in sorted(series.dropna().unique(), key=str)]
