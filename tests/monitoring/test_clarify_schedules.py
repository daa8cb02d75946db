"""Model bias / explainability schedules: an execution merges the window's captured data with the ground
truth (a merge job), then runs the Clarify image its definition names with the merged data and the
analysis config staged and the monitor's attributes in its environment (what runs inside the Clarify
image is tested with Clarify)."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from monitor_support import ROLE

CLARIFY = "205585389593.dkr.ecr.us-east-1.amazonaws.com/sagemaker-clarify-processing:1.0"
RESOURCES = {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 20}}


@pytest.mark.slow
def test_bias_schedule_stages_capture_ground_truth_and_config_for_clarify(monitor):
    sm = monitor.sm
    endpoint = monitor.endpoint("mon-bias-ep", wait=False)
    now = dt.datetime.now(dt.timezone.utc)
    monitor.write_capture(
        endpoint, [[1.0, 2.0], [3.0, -4.0]], now - dt.timedelta(seconds=5), inference_ids=["a", "b"]
    )
    monitor.write_capture(endpoint, [[9.0, 9.0]], now - dt.timedelta(hours=3))  # outside the window
    truth = "\n".join(
        json.dumps(
            {
                "groundTruthData": {"data": v, "encoding": "CSV"},
                "eventMetadata": {"eventId": i},
                "eventVersion": "0",
            }
        )
        for i, v in (("a", "1"), ("b", "0"))
    )
    monitor.put(f"bias-gt/{now:%Y/%m/%d/%H}/gt.jsonl", truth + "\n")
    config = monitor.put(
        "bias/analysis_config.json",
        json.dumps(
            {"label_values_or_threshold": [1], "facet": [{"name_or_index": "0"}], "headers": ["f0", "f1"]}
        ),
    )
    sm.create_model_bias_job_definition(
        JobDefinitionName="bias-def",
        ModelBiasAppSpecification={"ImageUri": CLARIFY, "ConfigUri": config},
        ModelBiasJobInput={
            "EndpointInput": {
                "EndpointName": endpoint,
                "LocalPath": "/opt/ml/processing/input/endpoint",
                "ProbabilityAttribute": "0",
                "ProbabilityThresholdAttribute": 0.5,
            },
            "GroundTruthS3Input": {"S3Uri": f"s3://{monitor.bucket}/bias-gt"},
        },
        ModelBiasJobOutputConfig={
            "MonitoringOutputs": [
                {
                    "S3Output": {
                        "S3Uri": f"s3://{monitor.bucket}/bias-reports",
                        "LocalPath": "/opt/ml/processing/output",
                    }
                }
            ]
        },
        JobResources=RESOURCES,
        RoleArn=ROLE,
    )
    sm.create_monitoring_schedule(
        MonitoringScheduleName="bias-now",
        MonitoringScheduleConfig={
            "ScheduleConfig": {
                "ScheduleExpression": "NOW",
                "DataAnalysisStartTime": "-PT1H",
                "DataAnalysisEndTime": "-PT0H",
            },
            "MonitoringJobDefinitionName": "bias-def",
            "MonitoringType": "ModelBias",
        },
    )
    execution = monitor.wait_execution("bias-now")
    assert (
        execution["MonitoringType"] == "ModelBias" and execution["MonitoringJobDefinitionName"] == "bias-def"
    )
    job = sm.describe_processing_job(ProcessingJobName=execution["ProcessingJobArn"].split("/", 1)[1])
    assert job["AppSpecification"] == {"ImageUri": CLARIFY}
    assert job["MonitoringScheduleArn"].endswith(":monitoring-schedule/bias-now")
    inputs = {i["InputName"]: i["S3Input"] for i in job["ProcessingInputs"]}
    assert inputs["analysis_config"]["S3Uri"] == config
    assert inputs["analysis_config"]["LocalPath"] == "/opt/ml/processing/input/config"
    # A ground-truth merge job ran first; the analysis job reads what it merged (the window's records only).
    merges = sm.list_processing_jobs(NameContains="groundtruth-merge")["ProcessingJobSummaries"]
    merge = sm.describe_processing_job(ProcessingJobName=merges[0]["ProcessingJobName"])
    assert (
        merge["ProcessingJobStatus"] == "Completed"
        and merge["MonitoringScheduleArn"] == job["MonitoringScheduleArn"]
    )
    merge_inputs = {i["InputName"]: i["S3Input"] for i in merge["ProcessingInputs"]}
    assert merge_inputs["groundtruth_input"]["S3Uri"] == f"s3://{monitor.bucket}/bias-gt"
    captured = [v for k, v in merge_inputs.items() if k.startswith("endpoint-")]
    assert len(captured) == 1  # only the hour folder inside the window
    assert captured[0]["S3Uri"] == f"s3://{monitor.bucket}/capture/{endpoint}/AllTraffic/{now:%Y/%m/%d/%H}/"
    merged = [v for k, v in inputs.items() if k.startswith("merged-")]
    assert len(merged) == 1 and "groundtruth_input" not in inputs
    assert (
        merged[0]["LocalPath"] == f"/opt/ml/processing/input/endpoint/{endpoint}/AllTraffic/{now:%Y/%m/%d/%H}"
    )
    assert merged[0]["S3Uri"].startswith(f"s3://{monitor.bucket}/bias-reports/merge/{endpoint}/AllTraffic/")
    bucket, key = merged[0]["S3Uri"][5:].split("/", 1)
    records = [
        json.loads(line) for line in monitor.s3.get_object(Bucket=bucket, Key=key)["Body"].read().splitlines()
    ]
    assert sorted((r["eventMetadata"]["inferenceId"], r["groundTruthData"]["data"]) for r in records) == [
        ("a", "1"),
        ("b", "0"),
    ]
    env = job["Environment"]
    assert json.loads(env["dataset_format"]) == {
        "sagemakerMergeJson": {"captureIndexNames": ["endpointInput", "endpointOutput", "groundTruthData"]}
    }
    assert env["probability_attribute"] == "0" and env["probability_threshold_attribute"] == "0.5"
    assert env["analysis_config"] == "/opt/ml/processing/input/config"
    assert "ground_truth_source" not in env
    assert (
        env["sagemaker_endpoint_name"] == endpoint and env["sagemaker_monitoring_schedule_name"] == "bias-now"
    )
    start = dt.datetime.fromisoformat(env["start_time"].replace("Z", "+00:00"))
    end = dt.datetime.fromisoformat(env["end_time"].replace("Z", "+00:00"))
    assert end - start == dt.timedelta(hours=1)
    assert job["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"].startswith(
        f"s3://{monitor.bucket}/bias-reports/{endpoint}/bias-now/"
    )
    sm.delete_monitoring_schedule(MonitoringScheduleName="bias-now")
    sm.delete_model_bias_job_definition(JobDefinitionName="bias-def")


@pytest.mark.slow
def test_explainability_schedule_runs_clarify_on_the_capture(monitor):
    sm = monitor.sm
    endpoint = monitor.endpoint("mon-explain-ep", wait=False)
    now = dt.datetime.now(dt.timezone.utc)
    monitor.write_capture(endpoint, [[1.0, 2.0]], now - dt.timedelta(seconds=5))
    config = monitor.put(
        "explain/analysis_config.json", json.dumps({"methods": {"shap": {"baseline": [[0, 0]]}}})
    )
    sm.create_model_explainability_job_definition(
        JobDefinitionName="explain-def",
        ModelExplainabilityAppSpecification={"ImageUri": CLARIFY, "ConfigUri": config},
        ModelExplainabilityJobInput={
            "EndpointInput": {
                "EndpointName": endpoint,
                "LocalPath": "/opt/ml/processing/input/endpoint",
                "FeaturesAttribute": "features",
            }
        },
        ModelExplainabilityJobOutputConfig={
            "MonitoringOutputs": [
                {
                    "S3Output": {
                        "S3Uri": f"s3://{monitor.bucket}/explain-reports",
                        "LocalPath": "/opt/ml/processing/output",
                    }
                }
            ]
        },
        JobResources=RESOURCES,
        RoleArn=ROLE,
        StoppingCondition={"MaxRuntimeInSeconds": 1200},
    )
    sm.create_monitoring_schedule(
        MonitoringScheduleName="explain-now",
        MonitoringScheduleConfig={
            "ScheduleConfig": {
                "ScheduleExpression": "NOW",
                "DataAnalysisStartTime": "-PT1H",
                "DataAnalysisEndTime": "-PT0H",
            },
            "MonitoringJobDefinitionName": "explain-def",
            "MonitoringType": "ModelExplainability",
        },
    )
    execution = monitor.wait_execution("explain-now")
    job = sm.describe_processing_job(ProcessingJobName=execution["ProcessingJobArn"].split("/", 1)[1])
    assert job["AppSpecification"] == {"ImageUri": CLARIFY}
    assert job["StoppingCondition"] == {"MaxRuntimeInSeconds": 1200}  # one job: the whole runtime
    inputs = {i["InputName"]: i["S3Input"] for i in job["ProcessingInputs"]}
    assert set(inputs) == {"endpoint-1", "analysis_config"}
    env = job["Environment"]
    assert json.loads(env["dataset_format"]) == {
        "sagemakerCaptureJson": {"captureIndexNames": ["endpointInput", "endpointOutput"]}
    }
    assert env["features_attribute"] == "features" and "ground_truth_source" not in env
    assert not sm.list_processing_jobs(
        NameContains="groundtruth-merge-" + job["ProcessingJobName"][len("model-monitoring-") :]
    )["ProcessingJobSummaries"]
    sm.delete_monitoring_schedule(MonitoringScheduleName="explain-now")


@pytest.mark.slow
def test_a_missing_baselining_job_fails_the_execution_without_a_job(monitor):
    """The SDK names the baselining job when no constraints are given; one that does not exist fails the
    execution (ClientError naming it) and runs nothing."""
    sm = monitor.sm
    endpoint = monitor.endpoint("mon-explain-nobase-ep", wait=False)
    monitor.write_capture(endpoint, [[1.0, 2.0]], dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=5))
    config = monitor.put(
        "nobase/analysis_config.json", json.dumps({"methods": {"shap": {"baseline": [[0, 0]]}}})
    )
    sm.create_model_explainability_job_definition(
        JobDefinitionName="explain-nobase",
        ModelExplainabilityBaselineConfig={"BaseliningJobName": "no-such-baselining-job"},
        ModelExplainabilityAppSpecification={"ImageUri": CLARIFY, "ConfigUri": config},
        ModelExplainabilityJobInput={
            "EndpointInput": {"EndpointName": endpoint, "LocalPath": "/opt/ml/processing/input/endpoint"}
        },
        ModelExplainabilityJobOutputConfig={
            "MonitoringOutputs": [
                {
                    "S3Output": {
                        "S3Uri": f"s3://{monitor.bucket}/nobase",
                        "LocalPath": "/opt/ml/processing/output",
                    }
                }
            ]
        },
        JobResources=RESOURCES,
        RoleArn=ROLE,
    )
    sm.create_monitoring_schedule(
        MonitoringScheduleName="explain-nobase",
        MonitoringScheduleConfig={
            "ScheduleConfig": {
                "ScheduleExpression": "NOW",
                "DataAnalysisStartTime": "-PT1H",
                "DataAnalysisEndTime": "-PT0H",
            },
            "MonitoringJobDefinitionName": "explain-nobase",
            "MonitoringType": "ModelExplainability",
        },
    )
    execution = monitor.wait_execution("explain-nobase")
    assert execution["MonitoringExecutionStatus"] == "Failed"
    assert (
        execution["FailureReason"] == "ClientError: The baselining job no-such-baselining-job does not exist."
    )
    assert "ProcessingJobArn" not in execution
    sm.delete_monitoring_schedule(MonitoringScheduleName="explain-nobase")
