"""The unchanged SageMaker Python SDK v2 runs Clarify-based monitoring end to end through sagestack:
ModelBiasMonitor and ModelExplainabilityMonitor baselines (Clarify jobs with a shadow endpoint), then a
one-time ``NOW`` schedule over an endpoint whose data capture recorded real traffic. The execution runs
the Clarify image on the captured (and, for bias, ground-truth merged) records, writes analysis.json and
constraint_violations.json, ends CompletedWithViolations when the traffic is biased / its attributions
drifted, and publishes the bias / explainability CloudWatch metrics."""

from __future__ import annotations

import datetime as dt
import io
import json
import textwrap
import time
import uuid

import numpy as np
import pandas as pd
import pytest

from helpers import tar_gz
from monitor_support import ROLE, SKLEARN_IMAGE

pytestmark = [pytest.mark.slow]

FEATURES = ["x0", "x1", "gender"]
HEADERS = ["label", *FEATURES]
WEIGHTS = [2.0, 0.3, 0.0]

#: score = sigmoid(w·x): CSV rows in, one score per line out.
MODEL = f"""
import numpy as np

def model_fn(model_dir):
    return np.array({WEIGHTS!r})

def input_fn(body, content_type):
    text = body.decode() if isinstance(body, (bytes, bytearray)) else body
    return np.array([[float(v) for v in line.split(",")] for line in text.splitlines() if line.strip()])

def predict_fn(rows, w):
    return 1.0 / (1.0 + np.exp(-(rows @ w)))

def output_fn(scores, accept):
    return "".join(repr(float(s)) + "\\n" for s in scores), "text/csv"
"""


def _baseline_frame(rows: int = 160) -> pd.DataFrame:
    """Labels follow the model's score; gender is independent of everything (little bias)."""
    rng = np.random.default_rng(21)
    frame = pd.DataFrame(
        {
            "x0": np.round(rng.normal(0, 1, rows), 3),
            "x1": np.round(rng.normal(0, 1, rows), 3),
            "gender": rng.integers(0, 2, rows),
        }
    )
    logits = frame[FEATURES].to_numpy(dtype=float) @ np.array(WEIGHTS) + rng.normal(0, 0.3, rows)
    frame.insert(0, "label", (logits > 0).astype(int))
    return frame


@pytest.fixture(scope="module")
def served(monitor, sdk_module_env):
    """The model and the baseline data set (label first, no header row) in S3."""
    sm = monitor.sm
    name = f"clarify-mon-{uuid.uuid4().hex[:6]}"
    url = monitor.put(
        f"models/{name}/model.tar.gz", tar_gz({"code/inference.py": textwrap.dedent(MODEL).encode()})
    )
    sm.create_model(
        ModelName=name,
        ExecutionRoleArn=ROLE,
        PrimaryContainer={
            "Image": SKLEARN_IMAGE,
            "ModelDataUrl": url,
            "Environment": {
                "SAGEMAKER_PROGRAM": "inference.py",
                "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
            },
        },
    )
    frame = _baseline_frame()
    body = io.StringIO()
    frame.to_csv(body, index=False, header=False)
    data = monitor.put("clarify-monitor/baseline/data.csv", body.getvalue())
    return {"model": name, "frame": frame, "data": data}


def _endpoint(monitor, model: str, name: str) -> str:
    """An endpoint serving ``model`` with data capture on (each test its own: its own captured traffic)."""
    sm = monitor.sm
    sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": model,
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
        DataCaptureConfig={
            "EnableCapture": True,
            "InitialSamplingPercentage": 100,
            "DestinationS3Uri": monitor.capture_uri(),
            "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
            "CaptureContentTypeHeader": {"CsvContentTypes": ["text/csv"]},
        },
    )
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    deadline = time.time() + 180
    while sm.describe_endpoint(EndpointName=name)["EndpointStatus"] == "Creating":
        assert time.time() < deadline, "endpoint did not come up"
        time.sleep(0.5)
    assert sm.describe_endpoint(EndpointName=name)["EndpointStatus"] == "InService"
    return name


def _invoke(monitor, endpoint: str, rows: list[list[float]]) -> list[tuple[str, float]]:
    """Real traffic, one record per invocation with an InferenceId; (inference id, score) per row."""
    answers = []
    for row in rows:
        inference_id = f"inf-{uuid.uuid4().hex[:12]}"
        response = monitor.rt.invoke_endpoint(
            EndpointName=endpoint,
            Body=",".join(str(v) if isinstance(v, int) else repr(float(v)) for v in row),
            ContentType="text/csv",
            InferenceId=inference_id,
        )
        answers.append((inference_id, float(response["Body"].read().decode().split()[0])))
    return answers


def _wait_captured(monitor, endpoint: str, count: int) -> None:
    """Until data capture has written ``count`` records, and the clock is past the last one's
    inferenceTime (the schedule's window ends when it fires; this machine's clock may step back)."""
    deadline = time.time() + 60
    stamps: list[str] = []
    while time.time() < deadline:
        stamps = []
        for page in monitor.s3.get_paginator("list_objects_v2").paginate(
            Bucket=monitor.bucket, Prefix=f"capture/{endpoint}/"
        ):
            for item in page.get("Contents") or []:
                body = monitor.s3.get_object(Bucket=monitor.bucket, Key=item["Key"])["Body"].read()
                stamps += [
                    json.loads(line)["eventMetadata"]["inferenceTime"]
                    for line in body.splitlines()
                    if line.strip()
                ]
        if len(stamps) >= count:
            break
        time.sleep(0.5)
    assert len(stamps) >= count, f"data capture wrote {len(stamps)} of {count} records"
    last = dt.datetime.fromisoformat(max(stamps).replace("Z", "+00:00"))
    while dt.datetime.now(dt.timezone.utc) < last + dt.timedelta(seconds=2):
        assert time.time() < deadline + 30, "the clock does not pass the captured records' time"
        time.sleep(0.2)


def _why(monitor, execution: dict) -> str:
    """An execution's failure reason, its job's inputs and the tail of its log (for assertion messages)."""
    text = str(execution.get("FailureReason"))
    arn = execution.get("ProcessingJobArn")
    if arn:
        name = arn.split("/", 1)[1]
        job = monitor.sm.describe_processing_job(ProcessingJobName=name)
        text += f"\ninputs: {[(i['InputName'], i['S3Input']['S3Uri']) for i in job['ProcessingInputs']]}"
        text += f"\nenvironment: {job.get('Environment')}"
        logs = monitor.server.client("logs")
        for stream in logs.describe_log_streams(
            logGroupName="/aws/sagemaker/ProcessingJobs", logStreamNamePrefix=name
        )["logStreams"]:
            events = logs.get_log_events(
                logGroupName="/aws/sagemaker/ProcessingJobs", logStreamName=stream["logStreamName"]
            )["events"]
            text += "\n" + "\n".join(e["message"] for e in events[-30:])
    return text


def _job_output(monitor, execution: dict) -> tuple[dict, str]:
    job = monitor.sm.describe_processing_job(ProcessingJobName=execution["ProcessingJobArn"].split("/", 1)[1])
    return job, job["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]


def _keys(monitor, uri: str) -> set[str]:
    bucket, prefix = uri[5:].split("/", 1)
    listing = monitor.s3.list_objects_v2(Bucket=bucket, Prefix=prefix + "/")
    return {item["Key"][len(prefix) + 1 :] for item in listing.get("Contents") or []}


@pytest.mark.sdk_flow("flow08", "ModelBiasMonitor suggest_baseline + NOW schedule over biased traffic")
def test_model_bias_monitor_reports_bias_drift(monitor, served):
    from sagemaker.clarify import BiasConfig, DataConfig, ModelConfig, ModelPredictedLabelConfig
    from sagemaker.model_monitor import CronExpressionGenerator, EndpointInput, ModelBiasMonitor

    bias = ModelBiasMonitor(
        role=ROLE, instance_count=1, instance_type="ml.m5.xlarge", max_runtime_in_seconds=1800
    )
    job = bias.suggest_baseline(
        data_config=DataConfig(
            s3_data_input_path=served["data"],
            s3_output_path=f"s3://{monitor.bucket}/clarify-monitor/bias-baseline",
            label="label",
            headers=HEADERS,
            dataset_type="text/csv",
        ),
        bias_config=BiasConfig(
            label_values_or_threshold=[1], facet_name="gender", facet_values_or_threshold=[1]
        ),
        model_config=ModelConfig(
            model_name=served["model"], instance_type="ml.m5.large", instance_count=1, accept_type="text/csv"
        ),
        model_predicted_label_config=ModelPredictedLabelConfig(probability_threshold=0.5),
        wait=True,
        logs=False,
    )
    assert job.describe()["ProcessingJobStatus"] == "Completed"
    baseline = bias.suggested_constraints().body_dict
    assert {"pre_training_bias_metrics", "post_training_bias_metrics"} <= set(baseline)

    # Biased traffic: gender 1 gets low x0 (rejected, and so is its ground truth), gender 0 high x0.
    rng = np.random.default_rng(4)
    rows = [[float(rng.normal(-1.5, 0.3)), float(rng.normal(0, 1)), 1] for _ in range(30)]
    rows += [[float(rng.normal(1.5, 0.3)), float(rng.normal(0, 1)), 0] for _ in range(30)]
    endpoint = _endpoint(monitor, served["model"], "clarify-bias-ep")
    answers = _invoke(monitor, endpoint, rows)
    expected = [1.0 / (1.0 + np.exp(-(np.array(r) @ np.array(WEIGHTS)))) for r in rows]
    assert [s for _, s in answers] == pytest.approx(expected)
    _wait_captured(monitor, endpoint, len(rows))
    now = dt.datetime.now(dt.timezone.utc)
    truth = [
        {
            "groundTruthData": {"data": str(int(s > 0.5)), "encoding": "CSV"},
            "eventMetadata": {"eventId": i},
            "eventVersion": "0",
        }
        for i, s in answers
    ]
    monitor.put(
        f"clarify-monitor/ground-truth/{now:%Y/%m/%d/%H}/gt.jsonl",
        "".join(json.dumps(t) + "\n" for t in truth),
    )

    bias.create_monitoring_schedule(
        endpoint_input=EndpointInput(endpoint_name=endpoint, destination="/opt/ml/processing/input/endpoint"),
        ground_truth_input=f"s3://{monitor.bucket}/clarify-monitor/ground-truth",
        output_s3_uri=f"s3://{monitor.bucket}/clarify-monitor/bias-reports",
        monitor_schedule_name="bias-sdk-now",
        schedule_cron_expression=CronExpressionGenerator.now(),
        data_analysis_start_time="-PT1H",
        data_analysis_end_time="-PT0H",
    )
    definition = monitor.sm.describe_model_bias_job_definition(JobDefinitionName=bias.job_definition_name)
    assert definition["ModelBiasBaselineConfig"] == {"BaseliningJobName": job.job_name}
    execution = monitor.wait_execution("bias-sdk-now", timeout=300)
    assert execution["MonitoringExecutionStatus"] == "CompletedWithViolations", _why(monitor, execution)
    assert execution["MonitoringType"] == "ModelBias"
    analysis_job, out = _job_output(monitor, execution)
    assert analysis_job["ExitMessage"].startswith("CompletedWithViolations: Job completed successfully with")
    assert {"analysis.json", "constraint_violations.json", "report.html", "report.ipynb"} <= _keys(
        monitor, out
    )
    analysis = monitor.get_json(f"{out}/analysis.json")
    pre = analysis["pre_training_bias_metrics"]
    assert pre["label"] == "label" and list(pre["facets"]) == ["gender"]
    metrics = {m["name"]: m["value"] for m in pre["facets"]["gender"][0]["metrics"]}
    assert metrics["CI"] == pytest.approx(0.0)  # 30 rows of each group
    assert metrics["DPL"] == pytest.approx(1.0)  # every gender-0 row positive, every gender-1 row negative
    post = {
        m["name"]: m["value"]
        for m in analysis["post_training_bias_metrics"]["facets"]["gender"][0]["metrics"]
    }
    assert post["DPPL"] == pytest.approx(1.0)
    violations = bias.latest_monitoring_constraint_violations().body_dict["violations"]
    assert violations and all(v["constraint_check_type"] == "bias_drift_check" for v in violations)
    assert {"DPL", "DPPL"} <= {v["metric_name"] for v in violations}
    assert all(v["facet"] == "gender" and v["facet_value"] == "1" for v in violations)
    cw = monitor.cw.list_metrics(Namespace="aws/sagemaker/Endpoints/bias-metrics")["Metrics"]
    names = {m["MetricName"] for m in cw}
    assert {"bias_metric_DPL", "bias_metric_DPPL", "bias_metric_CI"} <= names
    dims = {
        d["Name"]: d["Value"] for m in cw if m["MetricName"] == "bias_metric_DPPL" for d in m["Dimensions"]
    }
    assert dims == {
        "Endpoint": endpoint,
        "MonitoringSchedule": "bias-sdk-now",
        "BiasStage": "Post-Training",
        "Label": "label",
        "LabelValue": "1",
        "Facet": "gender",
        "FacetValue": "1",
    }
    bias.delete_monitoring_schedule()
    monitor.sm.delete_endpoint(EndpointName=endpoint)


@pytest.mark.sdk_flow(
    "flow08", "ModelExplainabilityMonitor suggest_baseline + NOW schedule over drifted traffic"
)
def test_model_explainability_monitor_reports_attribution_drift(monitor, served):
    from sagemaker.clarify import DataConfig, ModelConfig, SHAPConfig
    from sagemaker.model_monitor import CronExpressionGenerator, ModelExplainabilityMonitor

    explain = ModelExplainabilityMonitor(
        role=ROLE, instance_count=1, instance_type="ml.m5.xlarge", max_runtime_in_seconds=1800
    )
    shap = SHAPConfig(baseline=[[0.0, 0.0, 0]], num_samples=6, agg_method="mean_abs")
    job = explain.suggest_baseline(
        data_config=DataConfig(
            s3_data_input_path=served["data"],
            s3_output_path=f"s3://{monitor.bucket}/clarify-monitor/explain-baseline",
            label="label",
            headers=HEADERS,
            dataset_type="text/csv",
        ),
        explainability_config=shap,
        model_config=ModelConfig(
            model_name=served["model"], instance_type="ml.m5.large", instance_count=1, accept_type="text/csv"
        ),
        wait=True,
        logs=False,
    )
    assert job.describe()["ProcessingJobStatus"] == "Completed"
    before = explain.suggested_constraints().body_dict["explanations"]["kernel_shap"]["label0"][
        "global_shap_values"
    ]
    assert max(before, key=before.get) == "x0"  # x0 carries the most weight in the baseline data

    # Drifted traffic: x0 sits at its SHAP baseline value, x1 varies widely — x1 now ranks first.
    rng = np.random.default_rng(8)
    rows = [[0.0, float(rng.normal(0, 4)), int(rng.integers(0, 2))] for _ in range(20)]
    endpoint = _endpoint(monitor, served["model"], "clarify-explain-ep")
    _invoke(monitor, endpoint, rows)
    _wait_captured(monitor, endpoint, len(rows))
    explain.create_monitoring_schedule(
        endpoint_input=endpoint,
        output_s3_uri=f"s3://{monitor.bucket}/clarify-monitor/explain-reports",
        constraints=explain.suggested_constraints(),
        monitor_schedule_name="explain-sdk-now",
        schedule_cron_expression=CronExpressionGenerator.now(),
        data_analysis_start_time="-PT1H",
        data_analysis_end_time="-PT0H",
    )
    execution = monitor.wait_execution("explain-sdk-now", timeout=300)
    assert execution["MonitoringExecutionStatus"] == "CompletedWithViolations", _why(monitor, execution)
    assert execution["MonitoringType"] == "ModelExplainability"
    _, out = _job_output(monitor, execution)
    assert {"analysis.json", "constraint_violations.json"} <= _keys(monitor, out)
    now_values = monitor.get_json(f"{out}/analysis.json")["explanations"]["kernel_shap"]["label0"]
    assert max(now_values["global_shap_values"], key=now_values["global_shap_values"].get) == "x1"
    violations = explain.latest_monitoring_constraint_violations().body_dict["violations"]
    assert [(v["label"], v["metric_name"], v["constraint_check_type"]) for v in violations] == [
        ("label0", "shap", "feature_attribution_drift_check")
    ]
    assert "exceeds threshold 0.9" in violations[0]["description"]
    cw = monitor.cw.list_metrics(Namespace="aws/sagemaker/Endpoints/explainability-metrics")["Metrics"]
    names = {m["MetricName"] for m in cw}
    assert {"feature_x0", "feature_x1", "feature_gender", "ExpectedValue"} <= names
    dims = {d["Name"] for m in cw for d in m["Dimensions"]}
    assert dims == {"Endpoint", "MonitoringSchedule", "ExplainabilityMethod", "Label", "ValueType"}
    explain.delete_monitoring_schedule()
    monitor.sm.delete_endpoint(EndpointName=endpoint)


@pytest.mark.sdk_flow("flow08", "ModelExplainabilityMonitor over a batch transform's data capture")
def test_model_explainability_monitor_over_a_batch_transform(monitor, served):
    from sagemaker.clarify import DataConfig, ModelConfig, SHAPConfig
    from sagemaker.model_monitor import (
        BatchTransformInput,
        CronExpressionGenerator,
        ModelExplainabilityMonitor,
    )
    from sagemaker.model_monitor.dataset_format import MonitoringDatasetFormat

    sm, bucket = monitor.sm, monitor.bucket
    explain = ModelExplainabilityMonitor(
        role=ROLE, instance_count=1, instance_type="ml.m5.xlarge", max_runtime_in_seconds=1800
    )
    explain.suggest_baseline(
        data_config=DataConfig(
            s3_data_input_path=served["data"],
            s3_output_path=f"s3://{bucket}/clarify-monitor/batch-explain-baseline",
            label="label",
            headers=HEADERS,
            dataset_type="text/csv",
        ),
        explainability_config=SHAPConfig(baseline=[[0.0, 0.0, 0]], num_samples=6, agg_method="mean_abs"),
        model_config=ModelConfig(
            model_name=served["model"], instance_type="ml.m5.large", instance_count=1, accept_type="text/csv"
        ),
        wait=True,
        logs=False,
    )
    # A batch transform over drifted data (x0 at its SHAP baseline value), capturing what it read.
    rng = np.random.default_rng(12)
    rows = [f"0.0,{rng.normal(0, 4):.3f},{rng.integers(0, 2)}" for _ in range(20)]
    monitor.put("clarify-monitor/tx-in/drifted.csv", "\n".join(rows) + "\n")
    sm.create_transform_job(
        TransformJobName="clarify-monitor-tx",
        ModelName=served["model"],
        TransformInput={
            "DataSource": {
                "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/clarify-monitor/tx-in/"}
            },
            "ContentType": "text/csv",
            "SplitType": "Line",
        },
        TransformOutput={"S3OutputPath": f"s3://{bucket}/clarify-monitor/tx-out", "AssembleWith": "Line"},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
        DataCaptureConfig={"DestinationS3Uri": f"s3://{bucket}/clarify-monitor/tx-capture"},
    )
    deadline = time.time() + 180
    while (
        sm.describe_transform_job(TransformJobName="clarify-monitor-tx")["TransformJobStatus"] == "InProgress"
    ):
        assert time.time() < deadline, "transform did not finish"
        time.sleep(0.5)
    assert (
        sm.describe_transform_job(TransformJobName="clarify-monitor-tx")["TransformJobStatus"] == "Completed"
    )
    explain.create_monitoring_schedule(
        batch_transform_input=BatchTransformInput(
            data_captured_destination_s3_uri=f"s3://{bucket}/clarify-monitor/tx-capture",
            destination="/opt/ml/processing/input/batch",
            dataset_format=MonitoringDatasetFormat.csv(header=False),
        ),
        output_s3_uri=f"s3://{bucket}/clarify-monitor/batch-explain-reports",
        constraints=explain.suggested_constraints(),
        monitor_schedule_name="explain-batch-now",
        schedule_cron_expression=CronExpressionGenerator.now(),
        data_analysis_start_time="-PT1H",
        data_analysis_end_time="-PT0H",
    )
    execution = monitor.wait_execution("explain-batch-now", timeout=300)
    assert execution["MonitoringExecutionStatus"] == "CompletedWithViolations", _why(monitor, execution)
    _, out = _job_output(monitor, execution)
    assert out.startswith(
        f"s3://{bucket}/clarify-monitor/batch-explain-reports/batch-transform/explain-batch-now/"
    )
    values = monitor.get_json(f"{out}/analysis.json")["explanations"]["kernel_shap"]["label0"][
        "global_shap_values"
    ]
    assert max(values, key=values.get) == "x1" and values["x0"] == pytest.approx(0.0, abs=1e-9)
    violations = explain.latest_monitoring_constraint_violations().body_dict["violations"]
    assert [v["constraint_check_type"] for v in violations] == ["feature_attribution_drift_check"]
    cw = monitor.cw.list_metrics(Namespace="aws/sagemaker/ModelMonitoring/explainability-metrics")["Metrics"]
    assert "feature_x1" in {m["MetricName"] for m in cw}
    assert "Endpoint" not in {d["Name"] for m in cw for d in m["Dimensions"]}
    explain.delete_monitoring_schedule()
