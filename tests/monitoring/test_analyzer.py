"""The Model Monitor analyzer on its own (no server): type inference, statistics against pandas, checks,
model-quality metrics against scikit-learn, the container contract (env in, files out), scripts, and the
schedule expressions and windows of domain/monitoring.py."""

from __future__ import annotations

import datetime as dt
import json
import textwrap

import numpy as np
import pandas as pd
import pytest

from sagestack.domain import monitoring
from sagestack.monitoring import analyzer, baseline, checks, model_quality, profile


def test_type_inference_follows_deequ():
    assert profile.classify("3.0") == "Fractional" and profile.classify("-.5") == "Fractional"
    assert profile.classify("+ 42") == "Integral" and profile.classify("7") == "Integral"
    assert profile.classify("true") == "Boolean" and profile.classify("True") == "String"
    assert profile.classify("1e5") == "String"
    assert profile.column_type({"Integral": 5, "Fractional": 1}) == "Fractional"
    assert profile.column_type({"Integral": 5, "Boolean": 1}) == "String"
    assert profile.column_type({}) == "Unknown"


def test_csv_types_from_the_text(tmp_path):
    (tmp_path / "d.csv").write_text("a,b,c,d\n1,3.0,x,true\n,4.0,y,false\n2,5.0,7,true\n")
    table = analyzer.read_csv([tmp_path / "d.csv"], header=True)
    features = {f.name: f for f in profile.profile_frame(table.frame, table.text)}
    assert features["a"].inferred_type == "Integral"  # 1, '', 2: pandas reads floats, the text is integral
    assert (features["a"].num_present, features["a"].num_missing) == (2, 1)
    assert features["b"].inferred_type == "Fractional"
    assert features["c"].inferred_type == "String"
    assert features["d"].inferred_type == "String"  # Boolean is reported as String


def test_numeric_statistics_equal_pandas_and_buckets_count_everything():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=500), "n": rng.integers(0, 9, 500)})
    stats = profile.statistics_json(profile.profile_frame(frame), len(frame))
    for feature in stats["features"]:
        column = frame[feature["name"]]
        numeric = feature["numerical_statistics"]
        assert numeric["mean"] == pytest.approx(column.mean())
        assert numeric["std_dev"] == pytest.approx(column.std(ddof=0))
        assert (numeric["min"], numeric["max"]) == (column.min(), column.max())
        buckets = numeric["distribution"]["kll"]["buckets"]
        assert buckets[0]["lower_bound"] == column.min() and buckets[-1]["upper_bound"] == column.max()
        assert sum(b["count"] for b in buckets) == len(frame)
        sketch = profile.Sketch.from_data(numeric["distribution"]["kll"]["sketch"]["data"])
        for q in (0.1, 0.5, 0.9):  # exact below k items: the sketch's CDF is the data's
            point = float(column.quantile(q, interpolation="lower"))
            assert sketch.cdf(np.array([point]))[0] == pytest.approx((column <= point).mean())


def test_large_columns_use_a_compacted_sketch():
    values = np.random.default_rng(1).uniform(size=50_000)
    feature = profile.profile_column("u", pd.Series(values))
    data = feature.to_json()["numerical_statistics"]["distribution"]["kll"]["sketch"]["data"]
    assert len(data) > 1 and sum(len(level) for level in data) < 10_000  # compactor levels, not the data
    rebuilt = profile.Sketch.from_data(data)
    assert rebuilt.n == pytest.approx(50_000, rel=0.01)
    assert rebuilt.cdf(np.array([0.5]))[0] == pytest.approx(0.5, abs=0.02)


def _profiles(frame: pd.DataFrame):
    features = profile.profile_frame(frame)
    return features, profile.statistics_json(features, len(frame)), baseline.suggest(features)


def test_checks_report_drift_types_completeness_columns_and_domains():
    rng = np.random.default_rng(2)
    base = pd.DataFrame(
        {
            "x": rng.normal(size=400),
            "y": rng.normal(size=400),
            "k": rng.integers(0, 5, 400),
            "c": rng.choice(["a", "b"], 400),
        }
    )
    _, stats, constraints = _profiles(base)
    assert checks.check(profile.profile_frame(base), constraints, stats).violations == []

    current = pd.DataFrame(
        {
            "x": rng.normal(3, 1, 300),  # drifted
            "y": [None if i % 4 == 0 else v for i, v in enumerate(rng.normal(size=300))],  # incomplete
            "k": ["oops" if i % 10 == 0 else str(v) for i, v in enumerate(rng.integers(0, 5, 300))],  # types
            "c": rng.choice(["a", "b", "zzz"], 300),  # values outside the domain
            "extra": rng.normal(size=300),
        },
        dtype=object,
    )
    result = checks.check(profile.profile_frame(current), constraints, stats)
    found = {(v["feature_name"], v["constraint_check_type"]) for v in result.violations}
    assert ("x", "baseline_drift_check") in found
    assert ("y", "completeness_check") in found and ("y", "baseline_drift_check") not in found
    assert ("k", "data_type_check") in found
    assert ("c", "categorical_values_check") in found
    assert ("extra", "extra_column_check") in found
    k = next(v for v in result.violations if v["constraint_check_type"] == "data_type_check")
    assert k["description"].startswith("Data type match requirement is not met. Expected data type: Integral")
    assert result.distances["x"] > 0.1 >= result.distances["y"]

    missing = checks.check(profile.profile_frame(base[["x", "y"]]), constraints, stats)
    assert {
        v["feature_name"] for v in missing.violations if v["constraint_check_type"] == "missing_column_check"
    } == {
        "k",
        "c",
    }
    constraints["monitoring_config"]["evaluate_constraints"] = "Disabled"
    assert checks.check(profile.profile_frame(current), constraints, stats).violations == []


def test_distances_simple_and_robust():
    a = profile.Sketch.of(np.arange(100, dtype=float))
    b = profile.Sketch.of(np.arange(50, 150, dtype=float))
    assert checks.numeric_distance(a, b, "Simple") == pytest.approx(0.5)
    assert checks.numeric_distance(a, b, "Robust") == pytest.approx(0.5 - 1.8 * np.sqrt(200 / 10000))
    assert checks.categorical_distance({"a": 50, "b": 50}, {"a": 90, "b": 10}, "Simple") == pytest.approx(0.4)
    assert 0 <= checks.chi_squared_p_value({"a": 500, "b": 500}, {"a": 900, "b": 100}) < 0.001


def test_regression_and_multiclass_metrics_equal_sklearn():
    from sklearn import metrics

    rng = np.random.default_rng(4)
    y = rng.normal(size=50)
    p = y + rng.normal(0, 0.3, 50)
    reg = model_quality.compute("Regression", y, p)["regression_metrics"]
    assert reg["mae"]["value"] == pytest.approx(metrics.mean_absolute_error(y, p))
    assert reg["mse"]["value"] == pytest.approx(metrics.mean_squared_error(y, p))
    assert reg["rmse"]["value"] == pytest.approx(np.sqrt(metrics.mean_squared_error(y, p)))
    assert reg["r2"]["value"] == pytest.approx(metrics.r2_score(y, p))
    assert reg["mae"]["standard_deviation"] == "NaN"

    yc = rng.choice(["cat", "dog", "eel"], 300)
    pc = np.where(rng.uniform(size=300) < 0.7, yc, rng.choice(["cat", "dog", "eel"], 300))
    multi = model_quality.compute("MulticlassClassification", yc, pc)["multiclass_classification_metrics"]
    assert multi["accuracy"]["value"] == pytest.approx(metrics.accuracy_score(yc, pc))
    for ours, beta in (("weighted_f0_5", 0.5), ("weighted_f1", 1.0), ("weighted_f2", 2.0)):
        assert multi[ours]["value"] == pytest.approx(
            metrics.fbeta_score(yc, pc, beta=beta, average="weighted")
        )
    assert multi["weighted_recall"]["value"] == pytest.approx(
        metrics.recall_score(yc, pc, average="weighted")
    )
    assert multi["weighted_precision"]["value"] == pytest.approx(
        metrics.precision_score(yc, pc, average="weighted")
    )
    majority = pd.Series(yc).mode()[0]
    assert multi["accuracy_best_constant_classifier"]["value"] == pytest.approx(np.mean(yc == majority))
    assert sum(sum(row.values()) for row in multi["confusion_matrix"].values()) == 300
    assert isinstance(multi["accuracy"]["standard_deviation"], float)


def test_binary_metrics_from_probabilities_and_threshold():
    from sklearn import metrics

    y = np.array([0, 0, 1, 1, 1, 0, 1, 0])
    scores = np.array([0.1, 0.6, 0.7, 0.4, 0.9, 0.2, 0.8, 0.3])
    out = model_quality.compute("BinaryClassification", y, None, scores, threshold=0.5)
    m = out["binary_classification_metrics"]
    p = (scores > 0.5).astype(int)
    assert m["accuracy"]["value"] == pytest.approx(metrics.accuracy_score(y, p))
    assert m["auc"]["value"] == pytest.approx(metrics.roc_auc_score(y, scores))
    assert m["recall_best_constant_classifier"]["value"] == 1.0
    assert m["precision_best_constant_classifier"]["value"] == pytest.approx(y.mean())
    with pytest.raises(model_quality.QualityError):
        model_quality.compute("Ranking", y, p)
    constraints = model_quality.suggest_constraints(out, "BinaryClassification")
    worse = model_quality.compute("BinaryClassification", y, 1 - p)
    found = {v["metric_name"] for v in model_quality.violations(worse, constraints)}
    assert {"accuracy", "f1", "false_positive_rate"} <= found


def _capture_line(features: str, output: str, event: str, when: str) -> str:
    return json.dumps(
        {
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
                    "data": output,
                    "encoding": "CSV",
                },
            },
            "eventMetadata": {"eventId": event, "inferenceTime": when},
            "eventVersion": "0",
        }
    )


def test_the_container_contract_end_to_end(tmp_path):
    """Env in, files out: a monitoring run over capture files (one outside the window) with a preprocessor
    that drops a record and a post-analytics script."""
    root = tmp_path / "opt_ml"
    base = root / "processing" / "baseline"
    base.mkdir(parents=True)
    frame = pd.DataFrame({"label": [0, 1] * 50, "x": np.linspace(0, 1, 100)})
    features = profile.profile_frame(frame)
    (base / "statistics.json").write_text(json.dumps(profile.statistics_json(features, 100)))
    (base / "constraints.json").write_text(json.dumps(baseline.suggest(features)))
    data = root / "processing" / "input" / "endpoint" / "ep" / "AllTraffic" / "2026" / "01" / "02" / "03"
    data.mkdir(parents=True)
    lines = [_capture_line(f"{5 + i / 10}", str(i % 2), f"e{i}", "2026-01-02T03:10:00Z") for i in range(60)]
    lines.append(_capture_line("drop-me", "1", "e-drop", "2026-01-02T03:11:00Z"))
    lines.append(_capture_line("0.5", "1", "late", "2026-01-02T04:30:00.123456"))  # after the window
    (data / "10-00-000-x.jsonl").write_text("\n".join(lines) + "\n")
    code = root / "processing" / "code"
    code.mkdir()
    (code / "pre.py").write_text(
        textwrap.dedent("""
        def preprocess_handler(inference_record, logger):
            features = inference_record.endpoint_input.data
            if features == "drop-me":
                return []
            return {"label": inference_record.endpoint_output.data, "x": features}
        """)
    )
    (code / "post.py").write_text(
        textwrap.dedent("""
        import os
        def postprocess_handler():
            open(os.path.join(os.path.dirname(__file__), "post-ran"), "w").write("yes")
        """)
    )
    env = {
        "dataset_format": json.dumps(
            {"sagemakerCaptureJson": {"captureIndexNames": ["endpointInput", "endpointOutput"]}}
        ),
        "dataset_source": "/opt/ml/processing/input/endpoint",
        "output_path": "/opt/ml/processing/output",
        "baseline_constraints": "/opt/ml/processing/baseline/constraints.json",
        "baseline_statistics": "/opt/ml/processing/baseline/statistics.json",
        "start_time": "2026-01-02T03:00:00Z",
        "end_time": "2026-01-02T04:00:00Z",
        "publish_cloudwatch_metrics": "Enabled",
        "sagemaker_endpoint_name": "ep",
        "sagemaker_monitoring_schedule_name": "sched",
        "record_preprocessor_script": "/opt/ml/processing/code/pre.py",
        "post_analytics_processor_script": "/opt/ml/processing/code/post.py",
    }
    violations = analyzer.run(analyzer.Context(str(root), env))
    out = root / "processing" / "output"
    stats = json.loads((out / "statistics.json").read_text())
    assert stats["dataset"]["item_count"] == 60  # dropped and late records left out
    found = json.loads((out / "constraint_violations.json").read_text())["violations"]
    assert violations == len(found) and ("x", "baseline_drift_check") in {
        (v["feature_name"], v["constraint_check_type"]) for v in found
    }
    assert (
        (root / "output" / "message")
        .read_text()
        .startswith("CompletedWithViolations: Job completed successfully")
    )
    metrics = [
        json.loads(line)
        for line in (root / "output/metrics/cloudwatch/cloudwatch_metrics.jsonl").read_text().splitlines()
    ]
    drift = next(m for m in metrics if m["MetricName"] == "feature_baseline_drift_x")
    assert drift["Dimensions"] == [
        {"Name": "Endpoint", "Value": "ep"},
        {"Name": "MonitoringSchedule", "Value": "sched"},
    ]
    assert drift["Timestamp"] == "2026-01-02T04:00:00Z"
    assert (code / "post-ran").read_text() == "yes"


def test_the_container_fails_with_a_client_error(tmp_path):
    root = tmp_path / "opt_ml"
    (root / "processing" / "input").mkdir(parents=True)
    env = {
        "dataset_format": json.dumps({"sagemakerCaptureJson": {}}),
        "dataset_source": "/opt/ml/processing/input",
        "output_path": "/opt/ml/processing/output",
        "start_time": "2026-01-02T03:00:00Z",
        "end_time": "2026-01-02T04:00:00Z",
    }
    import os

    old = dict(os.environ)
    os.environ.update(env)
    try:
        assert analyzer.main([str(root)]) == 2
    finally:
        os.environ.clear()
        os.environ.update(old)
    assert (root / "output" / "failure").read_text().startswith("ClientError: No captured data")


@pytest.mark.parametrize(
    "expression, hours",
    [
        ("cron(0 * ? * * *)", tuple(range(24))),
        ("cron(0 * * * ? *)", tuple(range(24))),
        ("cron(0 5 ? * * *)", (5,)),
        ("cron(0 0/6 ? * * *)", (0, 6, 12, 18)),
        ("cron(0 17/12 ? * * *)", (17,)),
    ],
)
def test_schedule_expressions(expression, hours):
    cadence = monitoring.parse_expression(expression)
    assert cadence.hours == hours and not cadence.once


@pytest.mark.parametrize(
    "bad", ["cron(5 * ? * * *)", "cron(0 * ? * MON *)", "cron(0 25 ? * * *)", "rate(1 hour)", "cron(0 *)"]
)
def test_bad_schedule_expressions(bad):
    with pytest.raises(monitoring.ScheduleError):
        monitoring.parse_expression(bad)


def test_windows_offsets_and_next_runs():
    at = dt.datetime(2020, 1, 9, 13, 0, tzinfo=dt.timezone.utc)
    start, end = monitoring.window(None, {"StartTimeOffset": "-P8D", "EndTimeOffset": "-P1D"}, at)
    assert (start, end) == (
        dt.datetime(2020, 1, 1, 13, tzinfo=dt.timezone.utc),
        dt.datetime(2020, 1, 8, 13, tzinfo=dt.timezone.utc),
    )
    hourly = {"ScheduleExpression": "cron(0 * ? * * *)"}
    assert monitoring.window(hourly, {}, at) == (at - dt.timedelta(hours=1), at)
    now = {"ScheduleExpression": "NOW", "DataAnalysisStartTime": "-PT2H", "DataAnalysisEndTime": "-PT0H"}
    assert monitoring.window(now, {}, at) == (at - dt.timedelta(hours=2), at)
    assert monitoring.hour_folders(at - dt.timedelta(minutes=90), at) == ["2020/01/09/11", "2020/01/09/12"]
    daily = monitoring.parse_expression("cron(0 5 ? * * *)")
    assert daily.next_after(at) == dt.datetime(2020, 1, 10, 5, tzinfo=dt.timezone.utc)
    assert monitoring.parse_expression("cron(0 * ? * * *)").next_after(at) == at + dt.timedelta(hours=1)
    assert monitoring.parse_offset("-PT1H30M", "x") == -dt.timedelta(hours=1, minutes=30)
    with pytest.raises(monitoring.ScheduleError):
        monitoring.parse_offset("1 hour", "x")


def test_json_and_base64_capture_payloads():
    import base64

    from sagestack.monitoring import capture

    record = {
        "captureData": {
            "endpointInput": {
                "observedContentType": "application/json",
                "mode": "INPUT",
                "data": json.dumps({"instances": [{"age": 30, "city": "Oslo"}, {"age": 41, "city": "Rome"}]}),
                "encoding": "JSON",
            },
            "endpointOutput": {
                "observedContentType": "text/csv",
                "mode": "OUTPUT",
                "data": base64.b64encode(b"0.25\n0.75").decode(),
                "encoding": "BASE64",
            },
        },
        "eventMetadata": {"eventId": "e1", "inferenceTime": "2026-01-02T03:04:05Z"},
    }
    rows = capture.record_rows(record)
    assert rows == [
        [(None, "0.25"), ("age", 30), ("city", "Oslo")],
        [(None, "0.75"), ("age", 41), ("city", "Rome")],
    ]
    frame = analyzer.rows_frame(rows, ["score", "age", "city"])
    assert list(frame.columns) == ["score", "age", "city"]
    features = {f.name: f for f in profile.profile_frame(frame)}
    assert features["age"].inferred_type == "Integral" and features["score"].inferred_type == "Fractional"
    assert features["city"].inferred_type == "String"
    merged = capture.merge([record], {"e1": {"data": "1", "encoding": "CSV"}})
    assert merged[0]["groundTruthData"] == {"data": "1", "encoding": "CSV"}
    assert capture.merge([record], {"other": {"data": "1"}}) == []


def test_the_ground_truth_merge_job(tmp_path):
    root = tmp_path / "opt_ml"
    data = root / "processing/input/endpoint/ep/AllTraffic/2026/01/02/03"
    data.mkdir(parents=True)
    lines = [_capture_line("1,2", "1", f"e{i}", "2026-01-02T03:10:00Z") for i in range(4)]
    (data / "a.jsonl").write_text("\n".join(lines) + "\n")
    truth = root / "processing/groundtruth/2026/01/02/05"
    truth.mkdir(parents=True)
    (truth / "gt.jsonl").write_text(
        "\n".join(
            json.dumps(
                {"groundTruthData": {"data": "0", "encoding": "CSV"}, "eventMetadata": {"eventId": f"e{i}"}}
            )
            for i in (1, 3)
        )
    )
    env = {
        "analysis_type": analyzer.MERGE,
        "dataset_source": "/opt/ml/processing/input/endpoint",
        "ground_truth_source": "/opt/ml/processing/groundtruth",
        "output_path": "/opt/ml/processing/output",
        "merge_tag": "abc",
        "start_time": "2026-01-02T03:00:00Z",
        "end_time": "2026-01-02T04:00:00Z",
    }
    analyzer.run(analyzer.Context(str(root), env))
    merged = root / "processing/output/ep/AllTraffic/2026/01/02/03/part-00000-abc.c000.jsonl"
    records = [json.loads(line) for line in merged.read_text().splitlines()]
    assert [r["eventMetadata"]["eventId"] for r in records] == ["e1", "e3"]
    assert all(r["groundTruthData"]["data"] == "0" and "captureData" in r for r in records)
    env["merge_tag"], env["ground_truth_source"] = (
        "none",
        "/opt/ml/processing/input/endpoint",
    )  # nothing matches
    with pytest.raises(analyzer.AnalyzerError, match="No ground truth matched"):
        analyzer.run(analyzer.Context(str(root), env))


def test_chi_squared_baseline_settings():
    frame = pd.DataFrame({"c": ["a", "b"] * 50})
    suggested = baseline.suggest(profile.profile_frame(frame), "ChiSquared")
    distribution = suggested["monitoring_config"]["distribution_constraints"]
    assert distribution["categorical_drift_method"] == "ChiSquared"
    assert distribution["categorical_comparison_threshold"] == 0.1
    stats = profile.statistics_json(profile.profile_frame(frame), 100)
    same = checks.check(profile.profile_frame(frame), suggested, stats)
    assert same.violations == [] and same.distances["c"] == pytest.approx(1.0)  # p-value of identical data
    moved = pd.DataFrame({"c": ["a"] * 90 + ["b"] * 10})
    result = checks.check(profile.profile_frame(moved), suggested, stats)
    assert [(v["feature_name"], v["constraint_check_type"]) for v in result.violations] == [
        ("c", "baseline_drift_check")
    ]
