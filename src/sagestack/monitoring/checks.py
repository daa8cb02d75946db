"""Data-quality constraint checks: the current data's profile against the baseline's constraints and
statistics, giving ``constraint_violations.json`` entries.

Checks (``constraint_check_type``): ``missing_column_check``, ``extra_column_check``,
``data_type_check`` (fraction of values of the baseline type < ``datatype_check_threshold``),
``completeness_check`` (observed completeness < the baseline's), ``categorical_values_check`` (fraction
of values inside ``domains`` < ``domain_content_threshold``) and ``baseline_drift_check`` (distance >
``comparison_threshold``). Distances are Deequ's: L∞ between the two distributions' CDFs (numeric: the
KLL sketches; categorical: the category frequencies), ``Robust`` lowering it by
``1.8·√((n+m)/(n·m))``; ``ChiSquared`` for categoricals compares the chi-squared test's p-value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .profile import FRACTIONAL_TYPE, INTEGRAL_TYPE, STRING_TYPE, FeatureProfile, Sketch

ROBUST_C_ALPHA = 1.8


@dataclass
class CheckResult:
    violations: list[dict] = field(default_factory=list)
    #: feature → drift distance (what ``feature_baseline_drift_<name>`` publishes)
    distances: dict[str, float] = field(default_factory=dict)

    def add(self, feature: str, check: str, description: str) -> None:
        self.violations.append(
            {"feature_name": feature, "constraint_check_type": check, "description": description}
        )


def _robust(distance: float, n: float, m: float) -> float:
    if n <= 0 or m <= 0:
        return distance
    return max(0.0, distance - ROBUST_C_ALPHA * math.sqrt((n + m) / (n * m)))


def numeric_distance(baseline: Sketch, current: Sketch, method: str = "Robust") -> float:
    keys = np.union1d(baseline.values, current.values)
    if not len(keys):
        return 0.0
    distance = float(np.max(np.abs(baseline.cdf(keys) - current.cdf(keys))))
    return _robust(distance, baseline.n, current.n) if method == "Robust" else distance


def categorical_distance(
    baseline: dict[str, float], current: dict[str, float], method: str = "Robust"
) -> float:
    n, m = sum(baseline.values()), sum(current.values())
    if not n or not m:
        return 0.0
    keys = sorted(set(baseline) | set(current))
    distance = max(abs(baseline.get(k, 0.0) / n - current.get(k, 0.0) / m) for k in keys)
    return _robust(distance, n, m) if method == "Robust" else distance


def chi_squared_p_value(baseline: dict[str, float], current: dict[str, float]) -> float:
    """Deequ's categorical chi-squared: baseline frequencies scaled to the current total over the
    baseline's categories, the smallest categories merged until the expected counts are large enough;
    NaN when fewer than two categories remain."""
    from scipy.stats import chisquare

    m = sum(current.get(k, 0.0) for k in baseline)
    n = sum(baseline.values())
    if not n or not m:
        return float("nan")
    rows = sorted(([baseline[k] * m / n, current.get(k, 0.0)] for k in baseline), key=lambda r: r[0])

    def enough(rows) -> bool:
        if len(rows) == 2:
            return all(r[0] >= 10 for r in rows)
        return sum(1 for r in rows if r[0] < 5) <= 0.2 * len(rows)

    while len(rows) > 2 and not enough(rows):
        smallest = rows.pop(0)
        rows[0] = [rows[0][0] + smallest[0], rows[0][1] + smallest[1]]
        rows.sort(key=lambda r: r[0])
    if len(rows) < 2:
        return float("nan")
    expected = np.array([r[0] for r in rows])
    observed = np.array([r[1] for r in rows])
    return float(chisquare(observed, expected * observed.sum() / expected.sum()).pvalue)


def _overrides(constraint: dict) -> dict:
    found: dict = {}
    found.update(constraint.get("monitoringConfigOverrides") or {})
    for group in ("string_constraints", "num_constraints"):
        found.update((constraint.get(group) or {}).get("monitoring_config_overrides") or {})
    return found


def _matching_fraction(feature: FeatureProfile, expected: str) -> float:
    counts = feature.type_counts
    present = sum(counts.values())
    if not present or expected == STRING_TYPE:
        return 1.0
    if expected == FRACTIONAL_TYPE:
        good = counts.get(FRACTIONAL_TYPE, 0) + counts.get(INTEGRAL_TYPE, 0)
    else:
        good = counts.get(expected, 0)
    return good / present


def _pct(x: float) -> str:
    return repr(float(x * 100))


def _baseline_features(statistics: dict | None) -> dict[str, dict]:
    return {f["name"]: f for f in (statistics or {}).get("features") or []}


def check(features: list[FeatureProfile], constraints: dict, statistics: dict | None = None) -> CheckResult:
    result = CheckResult()
    config = constraints.get("monitoring_config") or {}
    if config.get("evaluate_constraints", "Enabled") == "Disabled":
        return result
    current = {f.name: f for f in features}
    expected = constraints.get("features") or []
    expected_names = [c["name"] for c in expected]
    for name in expected_names:
        if name not in current:
            result.add(
                name,
                "missing_column_check",
                f"There are missing columns in current dataset. Number of columns in current dataset: "
                f"{len(features)}, Number of columns in baseline constraints: {len(expected_names)}",
            )
    for feature in features:
        if feature.name not in expected_names:
            result.add(
                feature.name,
                "extra_column_check",
                f"There are extra columns in current dataset. Number of columns in current dataset: "
                f"{len(features)}, Number of columns in baseline constraints: {len(expected_names)}",
            )
    baseline_stats = _baseline_features(statistics)
    for constraint in expected:
        feature = current.get(constraint["name"])
        if feature is None:
            continue
        overrides = _overrides(constraint)
        if overrides.get("evaluate_constraints") == "Disabled":
            continue
        _check_feature(result, feature, constraint, config, overrides, baseline_stats.get(feature.name))
    return result


def _check_feature(
    result: CheckResult,
    feature: FeatureProfile,
    constraint: dict,
    config: dict,
    overrides: dict,
    stats: dict | None,
) -> None:
    name = feature.name
    want = constraint.get("inferred_type")
    if want in (INTEGRAL_TYPE, FRACTIONAL_TYPE, STRING_TYPE):
        threshold = float(
            overrides.get("datatype_check_threshold", config.get("datatype_check_threshold", 1.0))
        )
        fraction = _matching_fraction(feature, want)
        if fraction < threshold:
            result.add(
                name,
                "data_type_check",
                f"Data type match requirement is not met. Expected data type: {want}, Expected match: "
                f"{_pct(threshold)}%. Observed: Only {_pct(fraction)}% of data is {want}.",
            )
    total = feature.num_present + feature.num_missing
    completeness = feature.num_present / total if total else 0.0
    if "completeness" in constraint and completeness < float(constraint["completeness"]):
        result.add(
            name, "completeness_check", f"Value: {completeness!r} does not meet the constraint requirement! "
        )
    domains = (constraint.get("string_constraints") or {}).get("domains")
    if domains and feature.strings is not None and len(feature.strings):
        threshold = float(
            overrides.get("domain_content_threshold", config.get("domain_content_threshold", 1.0))
        )
        inside = float(feature.strings.astype(str).isin(set(map(str, domains))).mean())
        if inside < threshold:
            result.add(
                name,
                "categorical_values_check",
                f"Value: {inside!r} does not meet the constraint requirement! ",
            )
    dist = config.get("distribution_constraints") or {}
    if dist.get("perform_comparison", "Enabled") == "Disabled" or stats is None:
        return
    method = overrides.get("comparison_method", dist.get("comparison_method", "Robust"))
    threshold = float(overrides.get("comparison_threshold", dist.get("comparison_threshold", 0.1)))
    distance = _drift(feature, stats, method, dist, overrides)
    if distance is None or math.isnan(distance):
        return
    if feature.inferred_type == STRING_TYPE:
        threshold = float(
            overrides.get(
                "categorical_comparison_threshold", dist.get("categorical_comparison_threshold", threshold)
            )
        )
        if dist.get("categorical_drift_method") == "ChiSquared":
            result.distances[name] = distance
            if distance < threshold:
                result.add(
                    name,
                    "baseline_drift_check",
                    f"Baseline drift distance: {distance!r} exceeds threshold: {threshold!r}",
                )
            return
    result.distances[name] = distance
    if distance > threshold:
        result.add(
            name,
            "baseline_drift_check",
            f"Baseline drift distance: {distance!r} exceeds threshold: {threshold!r}",
        )


def _drift(feature: FeatureProfile, stats: dict, method: str, dist: dict, overrides: dict) -> float | None:
    numeric = stats.get("numerical_statistics")
    if feature.inferred_type in (INTEGRAL_TYPE, FRACTIONAL_TYPE) and numeric:
        data = (((numeric.get("distribution") or {}).get("kll") or {}).get("sketch") or {}).get("data")
        if data is None or feature.sketch is None:
            return None
        return numeric_distance(Sketch.from_data(data), feature.sketch, method)
    strings = stats.get("string_statistics")
    if feature.inferred_type == STRING_TYPE and strings and feature.strings is not None:
        buckets = ((strings.get("distribution") or {}).get("categorical") or {}).get("buckets") or []
        baseline = {str(b["value"]): float(b["count"]) for b in buckets}
        current = {str(k): float(v) for k, v in feature.strings.astype(str).value_counts().items()}
        drift_method = overrides.get(
            "categorical_drift_method", dist.get("categorical_drift_method", "LInfinity")
        )
        if drift_method == "ChiSquared":
            return chi_squared_p_value(baseline, current)
        return categorical_distance(baseline, current, method)
    return None
