"""The unchanged SageMaker Python SDK v2 runs model-quality monitoring through sagestack:
ModelQualityMonitor.suggest_baseline (metrics equal scikit-learn's) and a NOW schedule that merges
captured predictions with ground truth (by inferenceId) and reports the metrics that dropped."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import numpy as np
import pandas as pd
import pytest

from monitor_support import ROLE


def _baseline(rows: int = 240) -> pd.DataFrame:
    rng = np.random.default_rng(11)
    label = rng.integers(0, 2, rows)
    probability = np.clip(label * 0.6 + rng.uniform(0, 0.5, rows), 0, 1).round(4)
    return pd.DataFrame(
        {"label": label, "probability": probability, "prediction": (probability > 0.5).astype(int)}
    )


@pytest.fixture(scope="module")
def quality(monitor, sdk_module_env, tmp_path_factory):
    from sagemaker.model_monitor import ModelQualityMonitor
    from sagemaker.model_monitor.dataset_format import DatasetFormat

    frame = _baseline()
    path = tmp_path_factory.mktemp("mq") / "validation.csv"
    frame.to_csv(path, index=False)
    mq = ModelQualityMonitor(
        role=ROLE,
        instance_count=1,
        instance_type="ml.m5.xlarge",
        volume_size_in_gb=20,
        max_runtime_in_seconds=1800,
    )
    job = mq.suggest_baseline(
        baseline_dataset=str(path),
        dataset_format=DatasetFormat.csv(header=True),
        problem_type="BinaryClassification",
        inference_attribute="prediction",
        probability_attribute="probability",
        ground_truth_attribute="label",
        output_s3_uri=f"s3://{monitor.bucket}/mq-baselining",
        wait=True,
        logs=False,
    )
    return mq, frame, job


@pytest.mark.slow
@pytest.mark.sdk_flow("flow08", "ModelQualityMonitor.suggest_baseline(BinaryClassification)")
def test_model_quality_baseline_metrics_equal_sklearn(quality):
    from sklearn import metrics

    mq, frame, job = quality
    assert job.describe()["ProcessingJobStatus"] == "Completed"
    stats = mq.baseline_statistics().body_dict
    assert stats["dataset"]["item_count"] == len(frame)
    m = stats["binary_classification_metrics"]
    y, p, s = frame["label"], frame["prediction"], frame["probability"]
    assert m["accuracy"]["value"] == pytest.approx(metrics.accuracy_score(y, p))
    assert m["precision"]["value"] == pytest.approx(metrics.precision_score(y, p))
    assert m["recall"]["value"] == pytest.approx(metrics.recall_score(y, p))
    assert m["f1"]["value"] == pytest.approx(metrics.f1_score(y, p))
    assert m["f0_5"]["value"] == pytest.approx(metrics.fbeta_score(y, p, beta=0.5))
    assert m["f2"]["value"] == pytest.approx(metrics.fbeta_score(y, p, beta=2))
    assert m["auc"]["value"] == pytest.approx(metrics.roc_auc_score(y, s))
    tn, fp, fn, tp = metrics.confusion_matrix(y, p).ravel()
    assert m["confusion_matrix"] == {"0": {"0": tn, "1": fp}, "1": {"0": fn, "1": tp}}
    assert m["false_positive_rate"]["value"] == pytest.approx(fp / (fp + tn))
    assert m["true_negative_rate"]["value"] == pytest.approx(tn / (tn + fp))
    assert isinstance(m["accuracy"]["standard_deviation"], float)  # 240 rows ≥ 200: five 80 % subsamples
    fpr, tpr, _ = metrics.roc_curve(y, s)
    assert m["receiver_operating_characteristic_curve"]["false_positive_rates"] == pytest.approx(fpr.tolist())
    assert m["receiver_operating_characteristic_curve"]["true_positive_rates"] == pytest.approx(tpr.tolist())
    constraints = mq.suggested_constraints().body_dict["binary_classification_constraints"]
    assert constraints["f2"] == {"threshold": m["f2"]["value"], "comparison_operator": "LessThanThreshold"}
    assert constraints["false_positive_rate"]["comparison_operator"] == "GreaterThanThreshold"


@pytest.mark.slow
@pytest.mark.sdk_flow("flow08", "ModelQualityMonitor NOW schedule merging ground truth")
def test_model_quality_schedule_merges_ground_truth_and_reports_violations(monitor, quality):
    from sagemaker.model_monitor import CronExpressionGenerator, EndpointInput

    mq, _, _ = quality
    endpoint = monitor.endpoint("mon-quality-ep", wait=False)
    rng = np.random.default_rng(5)
    count = 60
    ids = [f"inf-{uuid.uuid4().hex[:10]}" for _ in range(count)]
    predicted = rng.integers(0, 2, count)
    truth = np.where(rng.uniform(size=count) < 0.5, predicted, 1 - predicted)  # about half the answers wrong
    now = dt.datetime.now(dt.timezone.utc)
    monitor.write_capture(
        endpoint,
        [[float(i), 1.0] for i in range(count)],
        now - dt.timedelta(seconds=5),
        outputs=[str(v) for v in predicted],
        inference_ids=ids,
    )
    monitor.write_capture(
        endpoint, [[1.0, 1.0]], now - dt.timedelta(seconds=4), outputs=["1"]
    )  # no ground truth
    lines = [
        json.dumps(
            {
                "groundTruthData": {"data": str(t), "encoding": "CSV"},
                "eventMetadata": {"eventId": i},
                "eventVersion": "0",
            }
        )
        for i, t in zip(ids, truth)
    ]
    monitor.put(f"ground-truth/{now:%Y/%m/%d/%H}/labels.jsonl", "\n".join(lines) + "\n")
    mq.create_monitoring_schedule(
        endpoint_input=EndpointInput(
            endpoint_name=endpoint, destination="/opt/ml/processing/input/endpoint", inference_attribute="0"
        ),
        ground_truth_input=f"s3://{monitor.bucket}/ground-truth",
        problem_type="BinaryClassification",
        output_s3_uri=f"s3://{monitor.bucket}/mq-reports",
        constraints=mq.suggested_constraints(),
        monitor_schedule_name="quality-now",
        schedule_cron_expression=CronExpressionGenerator.now(),
        data_analysis_start_time="-PT1H",
        data_analysis_end_time="-PT0H",
    )
    execution = monitor.wait_execution("quality-now")
    assert execution["MonitoringExecutionStatus"] == "CompletedWithViolations", execution
    assert execution["MonitoringType"] == "ModelQuality"
    # two processing jobs: the ground-truth merge, then the analysis the execution summary points at
    assert execution["ProcessingJobArn"].split("/", 1)[1].startswith("model-monitoring-")
    merge = execution["ProcessingJobArn"].split("/", 1)[1].replace("model-monitoring-", "groundtruth-merge-")
    merged = monitor.sm.describe_processing_job(ProcessingJobName=merge)
    assert merged["ProcessingJobStatus"] == "Completed"
    assert (
        merged["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]
        == f"s3://{monitor.bucket}/mq-reports/merge"
    )
    stats = mq.latest_monitoring_statistics().body_dict
    assert stats["dataset"]["item_count"] == count  # the record without ground truth is left out
    m = stats["binary_classification_metrics"]
    assert m["accuracy"]["value"] == pytest.approx(float(np.mean(predicted == truth)))
    assert m["accuracy"]["standard_deviation"] == "NaN"  # fewer than 200 rows
    violations = mq.latest_monitoring_constraint_violations().body_dict["violations"]
    assert "accuracy" in {v["metric_name"] for v in violations}
    assert all(
        v["constraint_check_type"] in ("LessThanThreshold", "GreaterThanThreshold") for v in violations
    )
    names = {
        m["MetricName"]
        for m in monitor.cw.list_metrics(Namespace="aws/sagemaker/Endpoints/model-metrics")["Metrics"]
    }
    assert {"accuracy", "f2", "auc"} <= names
    mq.delete_monitoring_schedule()
