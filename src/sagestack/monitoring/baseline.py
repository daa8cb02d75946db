"""``constraints.json`` suggested from a baseline profile, as the Model Monitor analyzer writes it.

What the real analyzer suggests (observed in AWS outputs): each feature's type and observed completeness,
``is_non_negative`` for numeric features whose baseline minimum is ≥ 0, ``domains`` for low-cardinality
string features, and ``monitoring_config`` = Enabled / Enabled / 1.0 / 1.0 / {Enabled, 0.1, Robust}
(plus ``categorical_drift_method`` and ``categorical_comparison_threshold`` when the baseline job was
asked for a categorical drift method).
"""

from __future__ import annotations

from .profile import FRACTIONAL_TYPE, INTEGRAL_TYPE, STRING_TYPE, FeatureProfile

#: A string feature gets ``domains`` when it has at most this many distinct values …
DOMAIN_MAX_VALUES = 100
#: … and they are at most this fraction of its present values (a categorical, not free text).
DOMAIN_MAX_RATIO = 0.5

CATEGORICAL_DRIFT_METHODS = ("LInfinity", "ChiSquared")


def suggest(features: list[FeatureProfile], categorical_drift_method: str | None = None) -> dict:
    out = []
    for feature in features:
        total = feature.num_present + feature.num_missing
        item: dict = {
            "name": feature.name,
            "inferred_type": feature.inferred_type,
            "completeness": (feature.num_present / total) if total else 0.0,
        }
        if feature.inferred_type in (INTEGRAL_TYPE, FRACTIONAL_TYPE):
            numbers = feature.numbers
            non_negative = bool(numbers is None or not len(numbers) or float(numbers.min()) >= 0)
            item["num_constraints"] = {"is_non_negative": non_negative}
        elif feature.inferred_type == STRING_TYPE and feature.strings is not None:
            distinct = feature.strings.unique()
            if 0 < len(distinct) <= DOMAIN_MAX_VALUES and len(distinct) <= DOMAIN_MAX_RATIO * max(
                1, feature.num_present
            ):
                item["string_constraints"] = {"domains": sorted(str(v) for v in distinct)}
        out.append(item)
    distribution: dict = {
        "perform_comparison": "Enabled",
        "comparison_threshold": 0.1,
        "comparison_method": "Robust",
    }
    if categorical_drift_method:
        distribution["categorical_comparison_threshold"] = 0.1
        distribution["categorical_drift_method"] = categorical_drift_method
    return {
        "version": 0.0,
        "features": out,
        "monitoring_config": {
            "evaluate_constraints": "Enabled",
            "emit_metrics": "Enabled",
            "datatype_check_threshold": 1.0,
            "domain_content_threshold": 1.0,
            "distribution_constraints": distribution,
        },
    }
