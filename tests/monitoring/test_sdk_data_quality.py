"""The unchanged SageMaker Python SDK v2 runs data-quality monitoring through sagestack:
DefaultModelMonitor.suggest_baseline (statistics equal pandas' on the same data) and a NOW schedule over
captured traffic whose first feature drifted (the execution reports that feature)."""

from __future__ import annotations

import datetime as dt
import json
import time

import numpy as np
import pandas as pd
import pytest

from monitor_support import ROLE

COLUMNS = ["label", "x1", "x2", "color"]


def _baseline_frame(rows: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    x1 = rng.normal(0, 1, rows)
    x2 = rng.normal(0, 1, rows)
    return pd.DataFrame(
        {
            "label": (x1 + x2 > 0).astype(int),
            "x1": x1.round(6),
            "x2": x2.round(6),
            "color": rng.choice(["red", "green", "blue"], rows),
        }
    )


@pytest.fixture(scope="module")
def baselined(monitor, sdk_module_env, tmp_path_factory):
    """One suggest_baseline run shared by the tests below: (monitor object, the frame, the job)."""
    from sagemaker.model_monitor import DefaultModelMonitor
    from sagemaker.model_monitor.dataset_format import DatasetFormat

    frame = _baseline_frame()
    path = tmp_path_factory.mktemp("baseline") / "train.csv"
    frame.to_csv(path, index=False)
    dq = DefaultModelMonitor(
        role=ROLE,
        instance_count=1,
        instance_type="ml.m5.xlarge",
        volume_size_in_gb=20,
        max_runtime_in_seconds=1800,
    )
    job = dq.suggest_baseline(
        baseline_dataset=str(path),
        dataset_format=DatasetFormat.csv(header=True),
        output_s3_uri=f"s3://{monitor.bucket}/baselining",
        wait=True,
        logs=False,
    )
    return dq, frame, job


@pytest.mark.slow
@pytest.mark.sdk_flow(
    "flow08", "DefaultModelMonitor.suggest_baseline(csv with header) runs the analyzer image"
)
def test_suggest_baseline_statistics_equal_pandas(baselined):
    dq, frame, job = baselined
    desc = job.describe()
    assert desc["ProcessingJobStatus"] == "Completed"
    assert desc["AppSpecification"]["ImageUri"].endswith("/sagemaker-model-monitor-analyzer")
    stats = dq.baseline_statistics().body_dict
    assert stats["dataset"]["item_count"] == len(frame)
    features = {f["name"]: f for f in stats["features"]}
    assert [f["name"] for f in stats["features"]] == COLUMNS
    assert features["label"]["inferred_type"] == "Integral"
    assert features["x1"]["inferred_type"] == "Fractional"
    assert features["color"]["inferred_type"] == "String"
    for name in ("label", "x1", "x2"):
        numeric = features[name]["numerical_statistics"]
        column = frame[name]
        assert numeric["common"] == {"num_present": len(frame), "num_missing": 0}
        assert numeric["mean"] == pytest.approx(column.mean(), rel=1e-12)
        assert numeric["sum"] == pytest.approx(column.sum(), rel=1e-12)
        assert numeric["std_dev"] == pytest.approx(column.std(ddof=0), rel=1e-12)  # population std
        assert numeric["min"] == column.min() and numeric["max"] == column.max()
        kll = numeric["distribution"]["kll"]
        assert kll["sketch"]["parameters"] == {"c": 0.64, "k": 2048.0}
        assert sorted(v for level in kll["sketch"]["data"] for v in level) == sorted(column.tolist())
        assert len(kll["buckets"]) == 10 and sum(b["count"] for b in kll["buckets"]) == len(frame)
        edges = np.linspace(column.min(), column.max(), 11)
        expected, _ = np.histogram(column, bins=edges)
        assert [b["count"] for b in kll["buckets"]] == pytest.approx(expected.tolist(), abs=1)
    strings = features["color"]["string_statistics"]
    assert strings["distinct_count"] == 3.0
    counts = frame["color"].value_counts()
    assert {
        b["value"]: b["count"] for b in strings["distribution"]["categorical"]["buckets"]
    } == counts.to_dict()
    constraints = dq.suggested_constraints().body_dict
    by_name = {f["name"]: f for f in constraints["features"]}
    assert by_name["label"]["num_constraints"] == {"is_non_negative": True}
    assert by_name["x1"]["num_constraints"] == {"is_non_negative": False}
    assert by_name["color"]["string_constraints"]["domains"] == ["blue", "green", "red"]
    assert by_name["x1"]["completeness"] == 1.0
    assert constraints["monitoring_config"] == {
        "evaluate_constraints": "Enabled",
        "emit_metrics": "Enabled",
        "datatype_check_threshold": 1.0,
        "domain_content_threshold": 1.0,
        "distribution_constraints": {
            "perform_comparison": "Enabled",
            "comparison_threshold": 0.1,
            "comparison_method": "Robust",
        },
    }


@pytest.mark.slow
@pytest.mark.sdk_flow("flow08", "DefaultModelMonitor NOW schedule over drifted captured traffic")
def test_now_schedule_over_drifted_traffic_reports_the_drifted_feature(monitor, baselined):
    from sagemaker.model_monitor import CronExpressionGenerator

    dq, frame, _ = baselined
    endpoint = monitor.endpoint("mon-drift-ep")
    # Real traffic through the endpoint (its data capture writes the records) ...
    for _ in range(5):
        monitor.rt.invoke_endpoint(EndpointName=endpoint, Body="0.1,-0.2,green", ContentType="text/csv")
    deadline = time.time() + 30
    while time.time() < deadline:
        listing = monitor.s3.list_objects_v2(Bucket=monitor.bucket, Prefix=f"capture/{endpoint}/")
        if listing.get("KeyCount"):
            break
        time.sleep(0.5)
    assert listing.get("KeyCount"), "the endpoint's data capture wrote nothing"
    # ... and drifted traffic in the same capture layout: x1 moved from N(0, 1) to N(4, 1).
    rng = np.random.default_rng(3)
    rows = [
        [float(a), float(b), c]
        for a, b, c in zip(
            rng.normal(4, 1, 150), rng.normal(0, 1, 150), rng.choice(["red", "green", "blue"], 150)
        )
    ]
    now = dt.datetime.now(dt.timezone.utc)
    monitor.write_capture(endpoint, rows, now - dt.timedelta(seconds=5))
    dq.create_monitoring_schedule(
        endpoint_input=endpoint,
        output_s3_uri=f"s3://{monitor.bucket}/reports",
        statistics=dq.baseline_statistics(),
        constraints=dq.suggested_constraints(),
        monitor_schedule_name="drift-now",
        schedule_cron_expression=CronExpressionGenerator.now(),
        data_analysis_start_time="-PT1H",
        data_analysis_end_time="-PT0H",
        enable_cloudwatch_metrics=True,
    )
    execution = monitor.wait_execution("drift-now")
    assert execution["MonitoringExecutionStatus"] == "CompletedWithViolations", execution
    executions = dq.list_executions()
    assert len(executions) == 1
    job = executions[-1].describe()
    assert job["ExitMessage"].startswith("CompletedWithViolations: Job completed successfully with")
    assert job["MonitoringScheduleArn"].endswith(":monitoring-schedule/drift-now")
    out = job["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]
    scheduled = execution["ScheduledTime"]
    assert out == f"s3://{monitor.bucket}/reports/{endpoint}/drift-now/{scheduled:%Y/%m/%d/%H}"
    violations = dq.latest_monitoring_constraint_violations().body_dict["violations"]
    drifted = {v["feature_name"] for v in violations if v["constraint_check_type"] == "baseline_drift_check"}
    assert "x1" in drifted and "x2" not in drifted and "color" not in drifted
    assert all("distance" in v["description"] for v in violations if v["feature_name"] == "x1")
    stats = dq.latest_monitoring_statistics().body_dict
    x1 = next(f for f in stats["features"] if f["name"] == "x1")["numerical_statistics"]
    assert x1["mean"] > 2  # the five real invocations plus 150 drifted rows
    desc = dq.describe_schedule()
    assert desc["LastMonitoringExecutionSummary"]["MonitoringExecutionStatus"] == "CompletedWithViolations"
    metrics = monitor.cw.list_metrics(Namespace="aws/sagemaker/Endpoints/data-metrics")["Metrics"]
    names = {m["MetricName"] for m in metrics}
    assert {"feature_baseline_drift_x1", "feature_non_null_x1", "feature_data_x1"} <= names
    assert {d["Name"] for m in metrics for d in m["Dimensions"]} == {"Endpoint", "MonitoringSchedule"}
    alerts = monitor.sm.list_monitoring_alerts(MonitoringScheduleName="drift-now")["MonitoringAlertSummaries"]
    assert alerts[0]["AlertStatus"] == "InAlert"
    history = monitor.sm.list_monitoring_alert_history(MonitoringScheduleName="drift-now")[
        "MonitoringAlertHistory"
    ]
    assert [h["AlertStatus"] for h in history] == ["InAlert"]
    dq.delete_monitoring_schedule()
    monitor.sm.delete_endpoint(EndpointName=endpoint)


@pytest.mark.slow
def test_batch_transform_capture_schedule(monitor, baselined):
    """A data-quality schedule over batch-transform captures: the window's input manifests list the data
    files the analyzer reads (CSV with a header)."""
    dq, frame, _ = baselined
    sm = monitor.sm
    now = dt.datetime.now(dt.timezone.utc)
    drifted = frame.copy()
    drifted["x2"] = drifted["x2"] + 5
    monitor.put("bt-data/part-1.csv", drifted.to_csv(index=False))
    manifest = json.dumps([{"prefix": f"s3://{monitor.bucket}/bt-data/"}, "part-1.csv"])
    monitor.put(f"bt-capture/input/{now:%Y/%m/%d/%H}/manifest-1.json", manifest)
    stats = dq.baseline_statistics().file_s3_uri
    constraints = dq.suggested_constraints().file_s3_uri
    sm.create_data_quality_job_definition(
        JobDefinitionName="bt-def",
        DataQualityBaselineConfig={
            "ConstraintsResource": {"S3Uri": constraints},
            "StatisticsResource": {"S3Uri": stats},
        },
        DataQualityAppSpecification={"ImageUri": dq.image_uri},
        DataQualityJobInput={
            "BatchTransformInput": {
                "DataCapturedDestinationS3Uri": f"s3://{monitor.bucket}/bt-capture",
                "DatasetFormat": {"Csv": {"Header": True}},
                "LocalPath": "/opt/ml/processing/input/batch",
            }
        },
        DataQualityJobOutputConfig={
            "MonitoringOutputs": [
                {
                    "S3Output": {
                        "S3Uri": f"s3://{monitor.bucket}/bt-reports",
                        "LocalPath": "/opt/ml/processing/output",
                    }
                }
            ]
        },
        JobResources={
            "ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 20}
        },
        RoleArn=ROLE,
    )
    sm.create_monitoring_schedule(
        MonitoringScheduleName="bt-now",
        MonitoringScheduleConfig={
            "ScheduleConfig": {
                "ScheduleExpression": "NOW",
                "DataAnalysisStartTime": "-PT1H",
                "DataAnalysisEndTime": "-PT0H",
            },
            "MonitoringJobDefinitionName": "bt-def",
            "MonitoringType": "DataQuality",
        },
    )
    execution = monitor.wait_execution("bt-now")
    assert execution["MonitoringExecutionStatus"] == "CompletedWithViolations", execution
    assert "EndpointName" not in execution
    job = sm.describe_processing_job(ProcessingJobName=execution["ProcessingJobArn"].split("/", 1)[1])
    out = job["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]
    assert out.startswith(f"s3://{monitor.bucket}/bt-reports/batch-transform/bt-now/")
    violations = monitor.get_json(f"{out}/constraint_violations.json")["violations"]
    drifted_features = {
        v["feature_name"] for v in violations if v["constraint_check_type"] == "baseline_drift_check"
    }
    assert drifted_features == {"x2"}
    names = {
        m["MetricName"]
        for m in monitor.cw.list_metrics(Namespace="aws/sagemaker/ModelMonitoring/data-metrics")["Metrics"]
    }
    assert "feature_baseline_drift_x2" in names
    sm.delete_monitoring_schedule(MonitoringScheduleName="bt-now")


PREPROCESSOR = """
import json

def preprocess_handler(inference_record, logger):
    features = inference_record.endpoint_input.data.split(",")
    if features[2] == "blue":
        return []  # custom sampling: blue rows are not analysed
    label = inference_record.endpoint_output.data
    return {"label": label, "x1": features[0], "x2": features[1], "color": features[2]}
"""


@pytest.mark.slow
@pytest.mark.sdk_flow(
    "flow08", "DefaultModelMonitor schedule with record preprocessor, attach, update, stop/start"
)
def test_schedule_with_preprocessor_then_attach_update_stop_start_delete(monitor, baselined, tmp_path):
    from sagemaker.model_monitor import CronExpressionGenerator, DefaultModelMonitor

    dq, frame, _ = baselined
    endpoint = monitor.endpoint("mon-pre-ep", wait=False)
    rows = frame[["x1", "x2", "color"]].values.tolist()
    monitor.write_capture(endpoint, rows, dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=5))
    script = tmp_path / "preprocessor.py"
    script.write_text(PREPROCESSOR)
    dq.create_monitoring_schedule(
        endpoint_input=endpoint,
        record_preprocessor_script=str(script),
        output_s3_uri=f"s3://{monitor.bucket}/pre-reports",
        statistics=dq.baseline_statistics(),
        constraints=dq.suggested_constraints(),
        monitor_schedule_name="pre-now",
        schedule_cron_expression=CronExpressionGenerator.now(),
        data_analysis_start_time="-PT1H",
        data_analysis_end_time="-PT0H",
    )
    execution = monitor.wait_execution("pre-now")
    # The baseline's own rows, less the blue ones: only the colour distribution moved.
    assert execution["MonitoringExecutionStatus"] == "CompletedWithViolations", execution
    stats = dq.latest_monitoring_statistics().body_dict
    assert stats["dataset"]["item_count"] == int((frame["color"] != "blue").sum())
    violations = dq.latest_monitoring_constraint_violations().body_dict["violations"]
    assert {(v["feature_name"], v["constraint_check_type"]) for v in violations} == {
        ("color", "baseline_drift_check")
    }
    job = dq.list_executions()[-1].describe()
    assert job["ExitMessage"] == "CompletedWithViolations: Job completed successfully with 1 violations."
    dq.delete_monitoring_schedule()

    dq.create_monitoring_schedule(
        endpoint_input=endpoint,
        output_s3_uri=f"s3://{monitor.bucket}/hourly-reports",
        statistics=dq.baseline_statistics(),
        constraints=dq.suggested_constraints(),
        monitor_schedule_name="hourly-dq",
        schedule_cron_expression=CronExpressionGenerator.hourly(),
    )
    attached = DefaultModelMonitor.attach("hourly-dq")
    assert attached.describe_schedule()["MonitoringScheduleStatus"] == "Scheduled"
    assert attached.image_uri == dq.image_uri and attached.role == ROLE
    old_definition = attached.describe_schedule()["MonitoringScheduleConfig"]["MonitoringJobDefinitionName"]
    attached.update_monitoring_schedule(schedule_cron_expression=CronExpressionGenerator.daily(hour=4))
    desc = attached.describe_schedule()
    assert desc["MonitoringScheduleStatus"] == "Scheduled"
    assert desc["MonitoringScheduleConfig"]["ScheduleConfig"]["ScheduleExpression"] == "cron(0 4 ? * * *)"
    assert desc["MonitoringScheduleConfig"]["MonitoringJobDefinitionName"] == old_definition  # cron only
    attached.stop_monitoring_schedule()
    assert attached.describe_schedule()["MonitoringScheduleStatus"] == "Stopped"
    attached.start_monitoring_schedule()
    assert attached.describe_schedule()["MonitoringScheduleStatus"] == "Scheduled"
    attached.delete_monitoring_schedule()
    assert "hourly-dq" not in {
        s["MonitoringScheduleName"]
        for s in monitor.sm.list_monitoring_schedules()["MonitoringScheduleSummaries"]
    }
