"""Column profiles in SageMaker Model Monitor's ``statistics.json`` format.

Type inference follows Deequ (what the real analyzer runs): each non-null value is classified by its
text — ``^(-|\\+)? ?\\d*\\.\\d*$`` Fractional, ``^(-|\\+)? ?\\d*$`` Integral, ``^(true|false)$`` Boolean,
else String — and a column is String if any value is String (or Booleans mix with numbers), else
Boolean if any is Boolean (reported as String: the constraint types are Integral, Fractional, String),
else Fractional if any is Fractional, else Integral.

Numeric features carry the population standard deviation and a KLL sketch (Apache DataSketches,
``k=2048``; SageMaker prints ``c=0.64``) materialised in 10 equal-width buckets between min and max.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

FRACTIONAL = re.compile(r"^(-|\+)? ?\d*\.\d*$")
INTEGRAL = re.compile(r"^(-|\+)? ?\d*$")
BOOLEAN = re.compile(r"^(true|false)$")

SKETCH_K = 2048
SKETCH_C = 0.64
BUCKETS = 10

INTEGRAL_TYPE = "Integral"
FRACTIONAL_TYPE = "Fractional"
STRING_TYPE = "String"
UNKNOWN_TYPE = "Unknown"


def classify(value) -> str:
    """One non-null value's Deequ type: Integral, Fractional, Boolean or String."""
    if isinstance(value, bool | np.bool_):
        return "Boolean"
    if isinstance(value, int | np.integer):
        return INTEGRAL_TYPE
    if isinstance(value, float | np.floating):
        return FRACTIONAL_TYPE
    text = str(value)
    if FRACTIONAL.match(text):
        return FRACTIONAL_TYPE
    if INTEGRAL.match(text):
        return INTEGRAL_TYPE
    if BOOLEAN.match(text):
        return "Boolean"
    return STRING_TYPE


def column_type(counts: dict[str, int]) -> str:
    """Deequ's ``determineType`` from per-type value counts (Boolean reported as String)."""
    present = {k: v for k, v in counts.items() if v}
    if not present:
        return UNKNOWN_TYPE
    if STRING_TYPE in present:
        return STRING_TYPE
    if "Boolean" in present:
        return STRING_TYPE
    if FRACTIONAL_TYPE in present:
        return FRACTIONAL_TYPE
    return INTEGRAL_TYPE


def type_counts(values: pd.Series) -> dict[str, int]:
    """Per-type counts of a column's non-null values (vectorised for text columns)."""
    values = values.dropna()
    if values.empty:
        return {}
    if (values.dtype == object or pd.api.types.is_string_dtype(values.dtype)) and all(
        isinstance(v, str) for v in values.iloc[:50]
    ):
        text = values.astype(str)
        frac = text.str.fullmatch(FRACTIONAL.pattern)
        integ = ~frac & text.str.fullmatch(INTEGRAL.pattern)
        boolean = ~frac & ~integ & text.str.fullmatch(BOOLEAN.pattern)
        counts = {
            FRACTIONAL_TYPE: int(frac.sum()),
            INTEGRAL_TYPE: int(integ.sum()),
            "Boolean": int(boolean.sum()),
        }
        counts[STRING_TYPE] = len(text) - sum(counts.values())
        return counts
    counts: dict[str, int] = {}
    for value in values:
        kind = classify(value)
        counts[kind] = counts.get(kind, 0) + 1
    return counts


@dataclass
class Sketch:
    """A KLL sketch's retained items and their weights (what drift distances compare)."""

    values: np.ndarray
    weights: np.ndarray
    n: float

    @classmethod
    def of(cls, numbers: np.ndarray) -> Sketch:
        from datasketches import kll_doubles_sketch

        sketch = kll_doubles_sketch(SKETCH_K)
        if len(numbers):
            sketch.update(np.array(numbers, dtype=np.float64, copy=True))
        items = list(sketch)
        values = np.array([v for v, _ in items], dtype=np.float64)
        weights = np.array([w for _, w in items], dtype=np.float64)
        return cls(values, weights, float(sketch.n))

    @classmethod
    def from_data(cls, data: list[list[float]]) -> Sketch:
        """From ``statistics.json``'s ``sketch.data`` (compactor level i: items of weight 2**i)."""
        values: list[float] = []
        weights: list[float] = []
        for level, items in enumerate(data or []):
            values.extend(float(v) for v in items)
            weights.extend([float(2**level)] * len(items))
        v = np.array(values, dtype=np.float64)
        w = np.array(weights, dtype=np.float64)
        return cls(v, w, float(w.sum()))

    def data(self) -> list[list[float]]:
        if not len(self.values):
            return [[]]
        levels = np.log2(self.weights).round().astype(int)
        out: list[list[float]] = [[] for _ in range(int(levels.max()) + 1)]
        for value, level in zip(self.values.tolist(), levels.tolist()):
            out[level].append(value)
        return out

    def cdf(self, points: np.ndarray) -> np.ndarray:
        """Fraction of weight ≤ each point."""
        if not len(self.values) or self.n == 0:
            return np.zeros(len(points))
        order = np.argsort(self.values, kind="stable")
        values = self.values[order]
        cumulative = np.cumsum(self.weights[order])
        index = np.searchsorted(values, points, side="right")
        return np.where(index > 0, cumulative[np.maximum(index - 1, 0)], 0.0) / cumulative[-1]

    def rank_below(self, point: float) -> float:
        """Weight strictly below ``point``."""
        mask = self.values < point
        return float(self.weights[mask].sum())


@dataclass
class FeatureProfile:
    name: str
    inferred_type: str
    num_present: int
    num_missing: int
    numbers: np.ndarray | None = None  # numeric features: the parsed values
    strings: pd.Series | None = None  # string features: the present values as text
    type_counts: dict[str, int] = field(default_factory=dict)
    sketch: Sketch | None = None

    def to_json(self) -> dict:
        common = {"num_present": self.num_present, "num_missing": self.num_missing}
        out: dict = {"name": self.name, "inferred_type": self.inferred_type}
        if self.inferred_type in (INTEGRAL_TYPE, FRACTIONAL_TYPE):
            out["numerical_statistics"] = numeric_statistics(self, common)
        else:
            out["string_statistics"] = string_statistics(self, common)
        return out


def _number(x: float):
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def numeric_statistics(feature: FeatureProfile, common: dict) -> dict:
    numbers = feature.numbers if feature.numbers is not None else np.array([])
    sketch = feature.sketch or Sketch.of(numbers)
    feature.sketch = sketch
    stats: dict = {"common": common}
    if len(numbers):
        total = float(numbers.sum())
        mean = total / len(numbers)
        stats.update(
            mean=mean,
            sum=total,
            std_dev=float(numbers.std()),
            min=float(numbers.min()),
            max=float(numbers.max()),
        )
        stats["distribution"] = {
            "kll": {
                "buckets": kll_buckets(sketch, stats["min"], stats["max"]),
                "sketch": {
                    "parameters": {"c": SKETCH_C, "k": float(SKETCH_K)},
                    "data": sketch.data(),
                },
            }
        }
    else:
        stats.update(mean=0.0, sum=0.0, std_dev=0.0, min=0.0, max=0.0)
    return stats


def kll_buckets(sketch: Sketch, low: float, high: float) -> list[dict]:
    """10 equal-width buckets; counts from the sketch's exclusive ranks (the last bucket includes max)."""
    width = (high - low) / BUCKETS
    buckets = []
    for i in range(BUCKETS):
        lower = low + width * i
        upper = high if i == BUCKETS - 1 else low + width * (i + 1)
        below_upper = sketch.n if i == BUCKETS - 1 else sketch.rank_below(upper)
        buckets.append(
            {"lower_bound": lower, "upper_bound": upper, "count": below_upper - sketch.rank_below(lower)}
        )
    return buckets


def string_statistics(feature: FeatureProfile, common: dict) -> dict:
    strings = feature.strings if feature.strings is not None else pd.Series([], dtype=object)
    counts = strings.value_counts(sort=True)
    return {
        "common": common,
        "distinct_count": float(len(counts)),
        "distribution": {
            "categorical": {
                "buckets": [{"value": str(value), "count": int(count)} for value, count in counts.items()]
            }
        },
    }


def _as_text(values: pd.Series) -> pd.Series:
    def text(v):
        if isinstance(v, bool | np.bool_):
            return "true" if v else "false"
        if isinstance(v, float | np.floating) and float(v).is_integer():
            return repr(float(v))
        return str(v)

    return values.map(text).astype(object)


def profile_column(
    name: str, values: pd.Series, text: Callable[[], pd.Series] | None = None
) -> FeatureProfile:
    """One column's profile. ``text``: the column's raw text, for float columns whose values are all whole
    (pandas reads ``1``/``''``/``2`` as floats; Deequ, reading the text, says Integral)."""
    missing = int(values.isna().sum())
    present = len(values) - missing
    if values.dtype.kind in "iu":
        kind, counts = INTEGRAL_TYPE, {INTEGRAL_TYPE: present}
    elif values.dtype.kind == "f":
        finite = values.dropna().to_numpy()
        kind, counts = FRACTIONAL_TYPE, {FRACTIONAL_TYPE: present}
        if text is not None and len(finite) and np.all(np.mod(finite, 1) == 0):
            counts = type_counts(text())
            kind = column_type(counts)
    elif values.dtype.kind == "b":
        kind, counts = STRING_TYPE, {"Boolean": present}
    else:
        counts = type_counts(values)
        kind = column_type(counts)
    feature = FeatureProfile(name, kind, present, missing, type_counts=counts)
    if kind in (INTEGRAL_TYPE, FRACTIONAL_TYPE):
        numbers = pd.to_numeric(values.dropna(), errors="coerce").dropna().to_numpy(dtype=np.float64)
        feature.numbers = numbers
        feature.sketch = Sketch.of(numbers)
    elif kind == STRING_TYPE:
        feature.strings = (
            _as_text(values.dropna()) if values.dtype.kind != "O" else values.dropna().astype(str)
        )
    return feature


def profile_frame(df: pd.DataFrame, text: Callable[[str], pd.Series] | None = None) -> list[FeatureProfile]:
    return [
        profile_column(str(name), df[name], (lambda n=name: text(n)) if text is not None else None)
        for name in df.columns
    ]


def statistics_json(features: list[FeatureProfile], item_count: int) -> dict:
    return {
        "version": 0.0,
        "dataset": {"item_count": int(item_count)},
        "features": [f.to_json() for f in features],
    }
