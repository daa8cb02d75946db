"""Drift checks of a monitoring execution against its baseline (the baseline job's analysis.json, given
as the ``baseline_constraints`` file): ``constraint_violations.json`` with

* ``bias_drift_check`` — a bias metric farther from 0 than its baseline value (|current| > |baseline|);
* ``feature_attribution_drift_check`` — per label, the nDCG of the current global SHAP values ranked
  against the baseline's below 0.9.

Written only when there are violations (as Clarify monitors do)."""

from __future__ import annotations

import json
import math
from pathlib import Path

NDCG_THRESHOLD = 0.9
SECTIONS = ("pre_training_bias_metrics", "post_training_bias_metrics")


def _number(value) -> float | None:
    if value is None:
        return None
    if isinstance(value, str):
        return {"Infinity": math.inf, "-Infinity": -math.inf}.get(value)
    return float(value)


def bias_violations(current: dict, baseline: dict) -> list[dict]:
    found = []
    for section in SECTIONS:
        base = {
            (facet, entry["value_or_threshold"], m["name"]): _number(m.get("value"))
            for facet, entries in ((baseline.get(section) or {}).get("facets") or {}).items()
            for entry in entries
            for m in entry["metrics"]
        }
        for facet, entries in ((current.get(section) or {}).get("facets") or {}).items():
            for entry in entries:
                for metric in entry["metrics"]:
                    value = _number(metric.get("value"))
                    limit = base.get((facet, entry["value_or_threshold"], metric["name"]))
                    if value is None or limit is None or not abs(value) > abs(limit):
                        continue
                    found.append(
                        {
                            "facet": facet,
                            "facet_value": entry["value_or_threshold"],
                            "metric_name": metric["name"],
                            "constraint_check_type": "bias_drift_check",
                            "description": f"Metric value {metric['value']} doesn't meet the baseline constraint "
                            f"requirement {_text(limit)}",
                        }
                    )
    return found


def _text(value: float) -> str:
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return repr(value)


def attribution_violations(current: dict, baseline: dict, threshold: float = NDCG_THRESHOLD) -> list[dict]:
    from sklearn.metrics import ndcg_score

    found = []
    now = (current.get("explanations") or {}).get("kernel_shap") or {}
    before = (baseline.get("explanations") or {}).get("kernel_shap") or {}
    for label, result in now.items():
        if label not in before:
            continue
        features = [f for f in before[label]["global_shap_values"] if f in result["global_shap_values"]]
        if len(features) < 2:
            continue
        relevance = [[abs(before[label]["global_shap_values"][f]) for f in features]]
        ranking = [[abs(result["global_shap_values"][f]) for f in features]]
        score = float(ndcg_score(relevance, ranking))
        if score < threshold:
            found.append(
                {
                    "label": label,
                    "metric_name": "shap",
                    "constraint_check_type": "feature_attribution_drift_check",
                    "description": f"Feature attribution drift {score} exceeds threshold {threshold}",
                }
            )
    return found


def check(analysis: dict, baseline_file: Path, output: Path) -> list[dict]:
    """``baseline_file``: the baseline's analysis.json, or the input folder holding it (as a pipeline's
    ClarifyCheck step and a monitoring schedule stage it)."""
    if baseline_file.is_dir():
        found = sorted(baseline_file.rglob("*.json"))
        if len(found) != 1:
            raise FileNotFoundError(
                f"the baseline constraints folder {baseline_file} should hold one JSON file, not {len(found)}"
            )
        baseline_file = found[0]
    baseline = json.loads(baseline_file.read_text())
    violations = bias_violations(analysis, baseline) + attribution_violations(analysis, baseline)
    if violations:
        (output / "constraint_violations.json").write_text(
            json.dumps({"version": "1.0", "violations": violations}, indent=2)
        )
    return violations
