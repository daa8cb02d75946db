"""Monitoring mode of the Clarify job (ModelBias / ModelExplainability schedules).

What the schedule hands over is completed into an analysis config (:func:`complete_config`): SageMaker
sends the SDK's monitor config as is — a bias config has no ``methods`` (all pre- and post-training
metrics are computed), an explainability config may have no ``predictor`` (the monitored endpoint
answers) — and the model output is located by the ``EndpointInput`` attributes in the environment.

Drift checks of a monitoring execution against its baseline (the baseline job's analysis.json, given
as the ``baseline_constraints`` file or folder): ``constraint_violations.json`` with

* ``bias_drift_check`` — a bias metric farther from 0 than its baseline value (|current| > |baseline|);
* ``feature_attribution_drift_check`` — per label, the nDCG of the current global SHAP values ranked
  against the baseline's below 0.9.

Written only when there are violations (as Clarify monitors do)."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

from .errors import ClarifyError

NDCG_THRESHOLD = 0.9
#: How CloudWatch metrics carry ±∞ (Clarify bias-drift metrics).
INFINITY = 2.348543e108
BIAS_STAGES = {"pre_training_bias_metrics": "Pre-training", "post_training_bias_metrics": "Post-Training"}


def is_monitoring(environ: dict) -> bool:
    """A monitoring schedule's execution (the platform names the schedule)."""
    return bool(environ.get("sagemaker_monitoring_schedule_name"))


def complete_config(config: dict, environ: dict) -> dict:
    """The analysis config a monitoring execution runs: ``methods`` for a bias config without them (every
    pre- and post-training metric), the monitored endpoint as the ``predictor`` of an explainability
    config without one, the report (monitoring executions write it), and the model's score located by ``probability_attribute`` /
    ``inference_attribute`` (EndpointInput) when the predictor does not say."""
    config = dict(config)
    if not config.get("dataset_type"):  # batch transform monitors: the data set's format
        config["dataset_type"] = _dataset_type(environ.get("dataset_format"))
    if not config.get("methods") and (config.get("facet") or config.get("label_values_or_threshold")):
        config["methods"] = {
            "pre_training_bias": {"methods": "all"},
            "post_training_bias": {"methods": "all"},
        }
    methods = config.get("methods") or {}
    if methods and "report" not in methods:  # monitors write the report next to analysis.json
        config["methods"] = methods = {**methods, "report": {"name": "report"}}
    if ("shap" in methods or "pdp" in methods) and not config.get("predictor"):
        endpoint = environ.get("sagemaker_endpoint_name")
        if endpoint:
            config["predictor"] = {"endpoint_name": endpoint}
    predictor = config.get("predictor")
    if (
        isinstance(predictor, dict)
        and predictor.get("label") is None
        and predictor.get("probability") is None
    ):
        score = environ.get("probability_attribute") or environ.get("inference_attribute")
        if score:
            config["predictor"] = {**predictor, "probability": int(score) if score.isdigit() else score}
    return config


def _dataset_type(dataset_format: str | None) -> str | None:
    """The Clarify dataset_type of a batch-transform monitor's ``dataset_format`` (``{"csv": …}``,
    ``{"json": {"lines": …}}``, ``{"parquet": {}}``)."""
    try:
        fmt = json.loads(dataset_format or "{}")
    except json.JSONDecodeError:
        raise ClarifyError(f"dataset_format is not valid JSON: {dataset_format!r}") from None
    if not isinstance(fmt, dict):
        return None
    if "csv" in fmt:
        return "text/csv"
    if "json" in fmt:
        lines = (fmt["json"] or {}).get("lines", (fmt["json"] or {}).get("line", True))
        return "application/jsonlines" if lines else "application/json"
    if "parquet" in fmt:
        return "application/x-parquet"
    return None


def baseline_file(path: Path) -> Path:
    """``baseline_constraints`` as a file: the path itself, or the analysis.json (else the only JSON file)
    of the folder the platform staged it in."""
    if path.is_dir():
        found = (
            [path / "analysis.json"] if (path / "analysis.json").is_file() else sorted(path.glob("*.json"))
        )
        if not found:
            raise ClarifyError(f"baseline_constraints: no analysis.json in {path}")
        return found[0]
    if not path.is_file():
        raise ClarifyError(f"baseline_constraints: {path} does not exist")
    return path


def message(violations: int) -> str:
    """The job's exit message (the execution's status reads it)."""
    if violations:
        return f"CompletedWithViolations: Job completed successfully with {violations} violations."
    return "Completed: Job completed successfully with no violations."


def cloudwatch_metrics(analysis: dict, environ: dict, now: dt.datetime | None = None) -> list[dict]:
    """The metrics a Clarify monitor publishes, as PutMetricData-shaped objects: ``bias_metric_<Id>``
    (dimensions BiasStage, Label, LabelValue, Facet, FacetValue; ±∞ as ±2.348543e108; null values left
    out) and ``feature_<name>`` / ``ExpectedValue`` (ExplainabilityMethod KernelShap, Label, ValueType),
    each with Endpoint (endpoint monitors) and MonitoringSchedule."""
    stamp = (now or dt.datetime.now(dt.timezone.utc)).strftime("%Y-%m-%dT%H:%M:%SZ")
    base = []
    if environ.get("sagemaker_endpoint_name"):
        base.append({"Name": "Endpoint", "Value": environ["sagemaker_endpoint_name"]})
    base.append(
        {"Name": "MonitoringSchedule", "Value": environ.get("sagemaker_monitoring_schedule_name", "")}
    )
    items = []
    for section, stage in BIAS_STAGES.items():
        block = analysis.get(section) or {}
        for facet, entries in (block.get("facets") or {}).items():
            for entry in entries:
                for metric in entry.get("metrics") or []:
                    value = _number(metric.get("value"))
                    if value is None or math.isnan(value):
                        continue
                    if math.isinf(value):
                        value = INFINITY if value > 0 else -INFINITY
                    dims = base + [
                        {"Name": "BiasStage", "Value": stage},
                        {"Name": "Label", "Value": str(block.get("label", ""))},
                        {"Name": "LabelValue", "Value": str(block.get("label_value_or_threshold", ""))},
                        {"Name": "Facet", "Value": str(facet)},
                        {"Name": "FacetValue", "Value": str(entry.get("value_or_threshold", ""))},
                    ]
                    items.append(
                        {
                            "MetricName": f"bias_metric_{metric['name']}",
                            "Timestamp": stamp,
                            "Value": value,
                            "Dimensions": dims,
                        }
                    )
    for label, result in ((analysis.get("explanations") or {}).get("kernel_shap") or {}).items():
        dims = base + [
            {"Name": "ExplainabilityMethod", "Value": "KernelShap"},
            {"Name": "Label", "Value": label},
        ]
        for feature, value in (result.get("global_shap_values") or {}).items():
            items.append(
                {
                    "MetricName": f"feature_{feature}",
                    "Timestamp": stamp,
                    "Value": float(value),
                    "Dimensions": dims + [{"Name": "ValueType", "Value": "GlobalShapValues"}],
                }
            )
        if result.get("expected_value") is not None:
            items.append(
                {
                    "MetricName": "ExpectedValue",
                    "Timestamp": stamp,
                    "Value": float(result["expected_value"]),
                    "Dimensions": dims + [{"Name": "ValueType", "Value": "ExpectedValue"}],
                }
            )
    return items


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


def check(analysis: dict, baseline_path: Path, output: Path) -> list[dict]:
    try:
        baseline = json.loads(baseline_file(baseline_path).read_text())
    except json.JSONDecodeError as exc:
        raise ClarifyError(f"baseline_constraints is not valid JSON: {exc}") from None
    violations = bias_violations(analysis, baseline) + attribution_violations(analysis, baseline)
    if violations:
        (output / "constraint_violations.json").write_text(
            json.dumps({"version": "1.0", "violations": violations}, indent=2)
        )
    return violations
