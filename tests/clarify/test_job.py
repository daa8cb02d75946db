"""The Clarify job's entry (sagestack.clarify.job.run) on a job root, without a server: monitoring mode
(captured endpoint records merged with ground truth, a baseline to check drift against) and config
errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from sagestack.clarify import job
from sagestack.clarify.errors import ClarifyError


def _capture_files(folder, frame: pd.DataFrame, scores: np.ndarray) -> None:
    folder.mkdir(parents=True)
    lines = []
    for (_, row), score in zip(frame.iterrows(), scores, strict=True):
        lines.append(
            json.dumps(
                {
                    "captureData": {
                        "endpointInput": {
                            "observedContentType": "text/csv",
                            "mode": "INPUT",
                            "data": f"{row.Age},{row.Gender}",
                            "encoding": "CSV",
                        },
                        "endpointOutput": {
                            "observedContentType": "text/csv; charset=utf-8",
                            "mode": "OUTPUT",
                            "data": f"{score}",
                            "encoding": "CSV",
                        },
                    },
                    "groundTruthData": {"data": str(int(row.Label)), "encoding": "CSV"},
                    "eventMetadata": {"eventId": "x", "inferenceTime": "2026-12-07T09:00:00Z"},
                    "eventVersion": "0",
                }
            )
        )
    (folder / "part-00000.jsonl").write_text("\n".join(lines) + "\n")


def _frame(rows: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"Age": rng.integers(20, 60, rows), "Gender": rng.integers(0, 2, rows)})
    frame["Label"] = rng.integers(0, 2, rows)
    scores = np.round(rng.random(rows) * (0.6 + 0.4 * frame.Gender), 4)
    return frame, scores


def _run(tmp_path, frame, scores, baseline=None):
    root = tmp_path / "root"
    config = {
        "label": "Label",
        "headers": ["Label", "Age", "Gender"],
        "label_values_or_threshold": [1],
        "facet": [{"name_or_index": "Gender", "value_or_threshold": [1]}],
        "methods": {"pre_training_bias": {"methods": "all"}, "post_training_bias": {"methods": "all"}},
    }
    (tmp_path / "config").mkdir(parents=True, exist_ok=True)
    (tmp_path / "config" / "analysis_config.json").write_text(json.dumps(config))
    data = tmp_path / f"data-{len(frame)}"
    _capture_files(data / "endpoint" / "ep" / "AllTraffic" / "2026" / "12" / "07" / "09", frame, scores)
    out = tmp_path / f"out-{len(frame)}"
    environ = {
        "analysis_config": str(tmp_path / "config"),
        "dataset_source": str(data),
        "output_path": str(out),
        "dataset_format": json.dumps(
            {"sagemakerCaptureJson": {"captureIndexNames": ["endpointInput", "endpointOutput"]}}
        ),
        "probability_threshold_attribute": "0.5",
    }
    if baseline:
        environ["baseline_constraints"] = str(baseline)
    root.mkdir(exist_ok=True)
    return job.run(root, environ), out


def test_monitoring_mode_reads_merged_captures(tmp_path):
    frame, scores = _frame(120, 1)
    analysis, out = _run(tmp_path, frame, scores)
    d, y, p = frame.Gender == 1, frame.Label == 1, pd.Series(scores > 0.5)
    pre = {
        m["name"]: m["value"] for m in analysis["pre_training_bias_metrics"]["facets"]["Gender"][0]["metrics"]
    }
    post = {
        m["name"]: m["value"]
        for m in analysis["post_training_bias_metrics"]["facets"]["Gender"][0]["metrics"]
    }
    assert pre["CI"] == pytest.approx((len(frame) - 2 * d.sum()) / len(frame))
    assert pre["DPL"] == pytest.approx(y[~d].mean() - y[d].mean())
    assert post["DPPL"] == pytest.approx(p[~d].mean() - p[d].mean())
    assert analysis["post_training_bias_metrics"]["label"] == "Label"
    assert json.loads((out / "analysis.json").read_text()) == analysis
    assert not (out / "constraint_violations.json").exists()


def test_drift_against_the_baseline_is_a_violation(tmp_path):
    frame, scores = _frame(120, 1)
    _, baseline_out = _run(tmp_path / "base", frame, np.full(len(frame), 0.7))  # parity: DPPL 0
    (tmp_path / "base").mkdir(exist_ok=True)
    drifted, _ = _run(tmp_path, frame, scores, baseline=baseline_out / "analysis.json")
    violations = json.loads((tmp_path / "out-120" / "constraint_violations.json").read_text())["violations"]
    names = {v["metric_name"] for v in violations}
    assert "DPPL" in names
    (dppl,) = [v for v in violations if v["metric_name"] == "DPPL"]
    assert dppl["facet"] == "Gender" and dppl["facet_value"] == "1"
    assert dppl["constraint_check_type"] == "bias_drift_check"
    assert dppl["description"].startswith("Metric value ")
    # pre-training metrics do not depend on the model: no violations there
    assert not names & {"CI", "DPL", "KL", "JS", "LP", "TVD", "KS"}


def test_config_errors(tmp_path):
    root = tmp_path / "root"
    (root / "processing" / "input" / "config").mkdir(parents=True)
    config_file = root / "processing" / "input" / "config" / "analysis_config.json"
    with pytest.raises(ClarifyError, match="analysis_config.json was not found"):
        job.run(root, {})
    config_file.write_text("{not json")
    with pytest.raises(ClarifyError, match="not valid JSON"):
        job.run(root, {})
    config_file.write_text(json.dumps({"dataset_type": "text/csv", "methods": {"magic": {}}}))
    with pytest.raises(ClarifyError, match="magic"):
        job.run(root, {})
    config_file.write_text(json.dumps({"dataset_type": "text/csv", "methods": {"pre_training_bias": {}}}))
    with pytest.raises(ClarifyError, match="empty"):
        job.run(root, {})
    data = root / "processing" / "input" / "data"
    data.mkdir(parents=True)
    (data / "d.csv").write_text("y,g\n1,0\n0,1\n")
    config_file.write_text(
        json.dumps({"dataset_type": "text/csv", "label": "y", "methods": {"pre_training_bias": {}}})
    )
    with pytest.raises(ClarifyError, match="label_values_or_threshold"):
        job.run(root, {})


def test_unsupported_analyses_are_named(tmp_path):
    root = tmp_path / "root"
    folder = root / "processing" / "input" / "config"
    folder.mkdir(parents=True)
    for config, words in (
        ({"dataset_type": "text/csv", "methods": {"shap": {"text_config": {"granularity": "token"}}}}, "NLP"),
        ({"dataset_type": "text/csv", "methods": {"asymmetric_shapley_value": {}}}, "time-series"),
        ({"dataset_type": "application/x-image", "methods": {"shap": {}}}, "application/x-image"),
    ):
        (folder / "analysis_config.json").write_text(json.dumps(config))
        data = root / "processing" / "input" / "data"
        data.mkdir(parents=True, exist_ok=True)
        (data / "d.csv").write_text("1,2\n")
        with pytest.raises(ClarifyError, match=words):
            job.run(root, {})
