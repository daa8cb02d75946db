"""The analysis (sagestack.clarify.job.analyze) against an in-process model instead of an endpoint:
multi-class outputs, label headers, use_logit, aggregation methods, features_to_explain, PDP of a
categorical feature, report files, and the model-output parsing rules."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from sagestack.clarify import dataset, job, predictor
from sagestack.clarify.errors import ClarifyError

FEATURES = ["a", "b", "c"]


def softmax_scores(rows: np.ndarray) -> np.ndarray:
    logits = np.stack([rows[:, 0], rows[:, 1] - rows[:, 2], 0.5 * rows[:, 2]], axis=1)
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


class LocalEndpoint:
    """What ShadowEndpoint offers, answering from a function: CSV in, CSV rows of three scores out."""

    def __init__(self, model):
        self.model = model
        self.opened = self.closed = False
        self.calls = 0

    def open(self):
        self.opened = True

    def invoke(self, body: bytes, content_type: str, accept: str) -> bytes:
        self.calls += 1
        rows = np.array([[float(v) for v in line.split(",")] for line in body.decode().splitlines()])
        return "".join(",".join(repr(float(v)) for v in row) + "\n" for row in self.model(rows)).encode()

    def close(self):
        self.closed = True


def _data(rows: int = 100) -> dataset.Dataset:
    rng = np.random.default_rng(5)
    frame = pd.DataFrame(rng.normal(size=(rows, 3)).round(3), columns=FEATURES)
    frame["c"] = rng.integers(0, 3, rows)
    return dataset.Dataset(frame, FEATURES)


def _analyze(tmp_path, methods: dict, predictor_config: dict | None = None):
    endpoint = LocalEndpoint(softmax_scores)
    config = {
        "dataset_type": "text/csv",
        "methods": methods,
        "predictor": {"model_name": "m", **(predictor_config or {})},
    }
    analysis = job.analyze(config, _data(), tmp_path, lambda settings: endpoint, tmp_path)
    return analysis, endpoint


def test_multiclass_shap_with_label_headers(tmp_path):
    data = _data()
    baseline = data.frame.mean().to_frame().T
    methods = {
        "shap": {
            "baseline": baseline.values.tolist(),
            "num_samples": 6,
            "agg_method": "mean_sq",
            "save_local_shap_values": True,
        },
        "report": {"name": "myreport", "title": "My title"},
    }
    analysis, endpoint = _analyze(tmp_path, methods, {"label_headers": ["x", "y", "z"]})
    assert endpoint.opened and endpoint.closed and endpoint.calls > 0
    shap_section = analysis["explanations"]["kernel_shap"]
    assert list(shap_section) == ["x", "y", "z"]
    local = pd.read_csv(tmp_path / "explanations_shap" / "out.csv")
    assert list(local.columns) == [f"{label}_{f}" for label in "xyz" for f in FEATURES]
    expected = softmax_scores(baseline.to_numpy())[0]
    predictions = softmax_scores(data.frame.to_numpy())
    for j, label in enumerate("xyz"):
        assert shap_section[label]["expected_value"] == pytest.approx(expected[j])
        row_sums = local[[f"{label}_{f}" for f in FEATURES]].sum(axis=1)
        assert row_sums.to_numpy() + expected[j] == pytest.approx(predictions[:, j], abs=1e-6)
        mean_sq = (local[[f"{label}_{f}" for f in FEATURES]] ** 2).mean().tolist()
        assert [shap_section[label]["global_shap_values"][f] for f in FEATURES] == pytest.approx(mean_sq)
    assert "My title" in (tmp_path / "myreport.html").read_text()
    notebook = json.loads((tmp_path / "myreport.ipynb").read_text())
    assert notebook["cells"][0]["source"] == ["# My title\n"]


def test_use_logit_features_to_explain_and_categorical_pdp(tmp_path):
    methods = {
        "shap": {"num_samples": 6, "use_logit": True, "features_to_explain": ["a", "c"], "seed": 3},
        "pdp": {"features": ["c"], "grid_resolution": 4},
    }
    analysis, _ = _analyze(tmp_path, methods, {"probability": 0})
    result = analysis["explanations"]["kernel_shap"]["label0"]
    assert list(result["global_shap_values"]) == ["a", "c"]
    data = _data()
    mean = data.frame.mean().to_frame().T.to_numpy()
    p = softmax_scores(mean)[0, 0]
    assert result["expected_value"] == pytest.approx(np.log(p / (1 - p)))  # log-odds
    (pdp,) = analysis["pdp"]
    assert pdp["data_type"] == "categorical"
    assert sorted(pdp["feature_values"]) == sorted(data.frame.c.unique().tolist())
    for value, prediction in zip(pdp["feature_values"], pdp["model_predictions"][0], strict=True):
        varied = data.frame.copy()
        varied["c"] = value
        assert prediction == pytest.approx(softmax_scores(varied.to_numpy())[:, 0].mean())


def test_pdp_without_features_or_shap_is_an_error(tmp_path):
    with pytest.raises(ClarifyError, match="pdp needs 'features'"):
        _analyze(tmp_path, {"pdp": {"grid_resolution": 3}})


def test_agg_method_is_checked(tmp_path):
    with pytest.raises(ClarifyError, match="agg_method 'max'"):
        _analyze(tmp_path, {"shap": {"agg_method": "max"}})


def test_model_output_parsing():
    csv_model = predictor.ModelFormat({"label": 0, "probability": 1}, "text/csv")
    out = csv_model.parse(csv_model.records(b'cat,"[0.1, 0.9]"\ndog,"[0.8, 0.2]"\n'))
    assert out.labels == ["cat", "dog"]
    assert out.scores.tolist() == [[0.1, 0.9], [0.8, 0.2]]
    whole = predictor.ModelFormat({}, "text/csv")
    out = whole.parse(whole.records(b"0.7\n0.2\n"))
    assert predictor.predicted_labels(out, 0.5, None, False).tolist() == [1, 0]
    assert predictor.predicted_labels(out, 0.75, None, True).tolist() == [0, 0]
    multi = whole.parse(whole.records(b"0.1,0.7,0.2\n0.6,0.3,0.1\n"))
    assert predictor.predicted_labels(multi, 0.5, ["a", "b", "c"], False).tolist() == ["b", "a"]
    jsonl = predictor.ModelFormat(
        {"content_template": '{"x":$features}', "label": "predicted_label", "probability": "score"},
        "application/jsonlines",
    )
    assert jsonl.serialize(np.array([[1.0, 2.0]])) == b'{"x":[1.0, 2.0]}\n'
    out = jsonl.parse(
        jsonl.records(b'{"predicted_label": 1, "score": 0.8}\n{"predicted_label": 0, "score": 0.3}\n')
    )
    assert out.labels == [1, 0] and out.scores.ravel().tolist() == [0.8, 0.3]
    # a label that is a score, with a probability_threshold set: thresholded (the SDK's label="score")
    scored = predictor.Output(None, [0.9, 0.4])
    assert predictor.predicted_labels(scored, 0.5, None, True).tolist() == [1, 0]
    assert predictor.predicted_labels(scored, 0.5, None, False).tolist() == [0.9, 0.4]
    with pytest.raises(ClarifyError, match="content_template"):
        predictor.ModelFormat({}, "application/jsonlines")
    with pytest.raises(ClarifyError, match="accept_type"):
        predictor.ModelFormat({"accept_type": "image/png"}, "text/csv")


def test_batches_respect_the_payload_limit(monkeypatch):
    monkeypatch.setattr(predictor, "MAX_PAYLOAD", 1000)
    fmt = predictor.ModelFormat({}, "text/csv")
    rows = np.arange(600, dtype=float).reshape(300, 2) + 0.123456
    chunks = predictor.batches(rows, fmt)
    assert sum(len(c) for c in chunks) == 300 and len(chunks) > 1
    assert all(len(fmt.serialize(c)) <= 1000 for c in chunks)


def test_network_isolation_with_a_model_is_a_client_error(tmp_path):
    config = {"dataset_type": "text/csv", "methods": {"shap": {}}, "predictor": {"model_name": "m"}}
    with pytest.raises(ClarifyError, match="EnableNetworkIsolation"):
        job.analyze(
            config,
            _data(),
            tmp_path,
            lambda settings: LocalEndpoint(softmax_scores),
            tmp_path,
            {"sagestack_network_isolation": "1"},
        )
    assert not (tmp_path / "analysis.json").exists()
