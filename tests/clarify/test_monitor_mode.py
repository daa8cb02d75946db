"""The Clarify job in a monitoring schedule's hands, without a server: the environment and the staged
files exactly as a ModelBias / ModelExplainability execution gives them (the SDK's monitor config
without ``methods``, ``sagemakerMergeJson``, the config under its own file name, the baseline in a
folder, the analysis window), the exit message the execution status reads, the CloudWatch metrics, and
the built-in container plumbing shared with the Model Monitor analyzer."""

from __future__ import annotations

import json
import math

import pytest

from sagestack.clarify import job, monitor
from sagestack.clarify.errors import ClarifyError
from sagestack.domain import images
from sagestack.domain import monitoring as domain

MERGE_FORMAT = json.dumps(
    {"sagemakerMergeJson": {"captureIndexNames": ["endpointInput", "endpointOutput", "groundTruthData"]}}
)


def _record(features: str, score: float, label: int | None, when: str) -> str:
    event = {
        "captureData": {
            "endpointInput": {
                "observedContentType": "text/csv",
                "mode": "INPUT",
                "data": features,
                "encoding": "CSV",
            },
            "endpointOutput": {
                "observedContentType": "text/csv",
                "mode": "OUTPUT",
                "data": str(score),
                "encoding": "CSV",
            },
        },
        "eventMetadata": {"eventId": "e", "inferenceId": "i", "inferenceTime": when},
        "eventVersion": "0",
    }
    if label is not None:
        event["groundTruthData"] = {"data": str(label), "encoding": "CSV"}
    return json.dumps(event)


def _bias_execution(tmp_path, rows, baseline: dict | None = None, config: dict | None = None):
    """A job root laid out as a bias execution stages it; returns (root, environ)."""
    root = tmp_path / "algo-1"
    config_dir = root / "processing" / "input" / "config"
    config_dir.mkdir(parents=True)
    sdk_config = config or {  # what ModelBiasMonitor uploads: BiasConfig + headers + label, no methods
        "label_values_or_threshold": [1],
        "facet": [{"name_or_index": "gender", "value_or_threshold": [1]}],
        "headers": ["label", "x0", "gender"],
        "label": "label",
    }
    (config_dir / "bias-config-3f2a.json").write_text(json.dumps(sdk_config))
    hour = root / "processing" / "input" / "endpoint" / "ep" / "AllTraffic" / "2026" / "12" / "07" / "09"
    hour.mkdir(parents=True)
    (hour / "part-00000-x.c000.jsonl").write_text("\n".join(_record(*r) for r in rows) + "\n")
    environ = {
        "analysis_config": "/opt/ml/processing/input/config",
        "dataset_format": MERGE_FORMAT,
        "dataset_source": "/opt/ml/processing/input/endpoint",
        "output_path": "/opt/ml/processing/output",
        "publish_cloudwatch_metrics": "Enabled",
        "sagemaker_endpoint_name": "ep",
        "sagemaker_monitoring_schedule_name": "bias-schedule",
        "start_time": "2026-12-07T09:00:00Z",
        "end_time": "2026-12-07T10:00:00Z",
        "probability_threshold_attribute": "0.5",
    }
    if baseline is not None:
        folder = root / "processing" / "baseline" / "constraints"
        folder.mkdir(parents=True)
        (folder / "analysis.json").write_text(json.dumps(baseline))
        environ["baseline_constraints"] = "/opt/ml/processing/baseline/constraints"
    return root, environ


def _fair_rows(n: int = 60):
    """Both groups alike: half the rows positive (label and prediction) in each."""
    return [
        (f"{i % 7}.5,{i % 2}", 0.9 if (i // 2) % 2 else 0.1, (i // 2) % 2, "2026-12-07T09:10:00Z")
        for i in range(n)
    ]


def _biased_rows(n: int = 60):
    """Group 1 always rejected, group 0 always accepted."""
    return [
        (f"{i % 7}.5,{i % 2}", 0.1 if i % 2 else 0.9, 0 if i % 2 else 1, "2026-12-07T09:20:00Z")
        for i in range(n)
    ]


def test_bias_execution_without_methods_computes_every_metric_and_reports_drift(tmp_path):
    root, environ = _bias_execution(tmp_path / "base", _fair_rows())
    baseline = job.run(root, environ)
    assert (
        root / "output" / "message"
    ).read_text() == "Completed: Job completed successfully with no violations."
    pre = {m["name"] for m in baseline["pre_training_bias_metrics"]["facets"]["gender"][0]["metrics"]}
    post = {m["name"] for m in baseline["post_training_bias_metrics"]["facets"]["gender"][0]["metrics"]}
    assert {"CI", "DPL", "KL", "JS", "LP", "TVD", "KS"} <= pre  # "all" (CDDL needs a group variable)
    assert {"DPPL", "DI", "DCA", "DCR", "RD", "DAR", "DRR", "AD", "TE", "FT", "GE"} <= post
    assert (root / "processing" / "output" / "report.html").is_file()

    late = [("9.5,1", 0.9, 1, "2026-12-07T10:30:00Z")] * 30  # outside the window: left out
    root, environ = _bias_execution(tmp_path / "now", _biased_rows() + late, baseline=baseline)
    analysis = job.run(root, environ)
    out = root / "processing" / "output"
    violations = json.loads((out / "constraint_violations.json").read_text())["violations"]
    names = {v["metric_name"] for v in violations}
    assert {"DPL", "DPPL"} <= names
    assert all(
        v["constraint_check_type"] == "bias_drift_check" and v["facet_value"] == "1" for v in violations
    )
    message = (root / "output" / "message").read_text()
    assert (
        message == f"CompletedWithViolations: Job completed successfully with {len(violations)} violations."
    )
    dpl = next(
        m
        for m in analysis["pre_training_bias_metrics"]["facets"]["gender"][0]["metrics"]
        if m["name"] == "DPL"
    )
    assert dpl["value"] == pytest.approx(1.0)  # the 30 late records would have changed it
    lines = (root / "output" / "metrics" / "cloudwatch" / "cloudwatch_metrics.jsonl").read_text().splitlines()
    metrics = [json.loads(line) for line in lines]
    published = {
        (m["MetricName"], {d["Name"]: d["Value"] for d in m["Dimensions"]}["BiasStage"]) for m in metrics
    }
    assert ("bias_metric_DPL", "Pre-training") in published and (
        "bias_metric_DPPL",
        "Post-Training",
    ) in published
    assert all(math.isfinite(m["Value"]) for m in metrics)


def test_a_bad_facet_fails_naming_it_and_a_missing_baseline_is_a_client_error(tmp_path):
    config = {
        "label_values_or_threshold": [1],
        "facet": [{"name_or_index": "gendr"}],
        "headers": ["label", "x0", "gender"],
        "label": "label",
    }
    root, environ = _bias_execution(tmp_path / "facet", _fair_rows(), config=config)
    with pytest.raises(ClarifyError, match="gendr"):
        job.run(root, environ)
    root, environ = _bias_execution(tmp_path / "baseline", _fair_rows())
    environ["baseline_constraints"] = "/opt/ml/processing/baseline/constraints"
    with pytest.raises(ClarifyError, match="baseline_constraints"):
        job.run(root, environ)
    assert not (root / "processing" / "output" / "constraint_violations.json").exists()


def test_explainability_config_completed_from_the_schedule():
    sdk = {"methods": {"shap": {"baseline": [[0, 0]], "num_samples": 6}}, "headers": ["a", "b"]}
    env = {
        "sagemaker_monitoring_schedule_name": "s",
        "sagemaker_endpoint_name": "live",
        "inference_attribute": "0",
    }
    config = monitor.complete_config(sdk, env)
    assert config["predictor"] == {
        "endpoint_name": "live",
        "probability": 0,
    }  # the monitored endpoint answers
    assert config["methods"]["report"] == {"name": "report"}
    given = {**sdk, "predictor": {"model_name": "m", "label": 1}}
    assert monitor.complete_config(given, env)["predictor"] == {"model_name": "m", "label": 1}
    assert "methods" not in monitor.complete_config({"headers": ["a"]}, {})  # nothing to infer from


def test_cloudwatch_metrics_of_an_explainability_execution_and_infinite_bias_values():
    analysis = {
        "explanations": {
            "kernel_shap": {"label0": {"global_shap_values": {"a": 0.5, "b": 0.1}, "expected_value": 0.3}}
        },
        "post_training_bias_metrics": {
            "label": "y",
            "label_value_or_threshold": "1",
            "facets": {
                "f": [
                    {
                        "value_or_threshold": "1",
                        "metrics": [
                            {"name": "DI", "value": "Infinity"},
                            {"name": "DCR", "value": None, "error": "x"},
                        ],
                    }
                ]
            },
        },
    }
    items = monitor.cloudwatch_metrics(analysis, {"sagemaker_monitoring_schedule_name": "s"})
    by_name = {i["MetricName"]: i for i in items}
    assert set(by_name) == {"feature_a", "feature_b", "ExpectedValue", "bias_metric_DI"}
    assert by_name["bias_metric_DI"]["Value"] == monitor.INFINITY
    dims = {d["Name"]: d["Value"] for d in by_name["ExpectedValue"]["Dimensions"]}
    assert dims == {
        "MonitoringSchedule": "s",
        "ExplainabilityMethod": "KernelShap",
        "Label": "label0",
        "ValueType": "ExpectedValue",
    }


def test_one_builtin_runner_serves_the_analyzer_and_clarify():
    analyzer = images.parse_image(
        "156813124566.dkr.ecr.us-east-1.amazonaws.com/sagemaker-model-monitor-analyzer"
    )
    clarify = images.parse_image(
        "205585389593.dkr.ecr.us-east-1.amazonaws.com/sagemaker-clarify-processing:1.0"
    )
    assert images.processing_runner(analyzer) == images.processing_runner(clarify) == "builtin"
    assert images.builtin_processing_module(analyzer) == "sagestack.monitoring.analyzer"
    assert images.builtin_processing_module(clarify) == "sagestack.clarify.job"
    # the analyzer's ContainerEntrypoint runs the user's command; Clarify ignores one
    assert images.processing_runner(analyzer, has_entrypoint=True) == "processing"
    assert images.processing_runner(clarify, has_entrypoint=True) == "builtin"
    import importlib

    for name in images.BUILTIN_PROCESSING_MODULES.values():
        module = importlib.import_module(name)
        assert callable(module.run_container) and isinstance(module.CLIENT_ERRORS, tuple)


def test_a_baselining_job_name_resolves_to_its_output_files():
    job_data = {
        "ProcessingJobName": "b",
        "ProcessingOutputConfig": {"Outputs": [{"S3Output": {"S3Uri": "s3://bk/base/"}}]},
    }
    bias = domain.with_baselining_output(
        {"type": "ModelBias", "baseline": {"BaseliningJobName": "b"}}, job_data
    )
    assert bias["baseline"]["ConstraintsResource"] == {"S3Uri": "s3://bk/base/analysis.json"}
    quality = domain.with_baselining_output(
        {"type": "DataQuality", "baseline": {"BaseliningJobName": "b"}}, job_data
    )
    assert quality["baseline"]["StatisticsResource"] == {"S3Uri": "s3://bk/base/statistics.json"}
    with pytest.raises(ValueError, match="no S3 output"):
        domain.with_baselining_output({"type": "ModelBias", "baseline": {}}, {"ProcessingJobName": "b"})
