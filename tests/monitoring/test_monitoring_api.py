"""Monitoring job definitions, schedules, executions and alerts through boto3 against a real server:
records, lists, state changes and the errors bad input gets (nothing stored)."""

from __future__ import annotations

import datetime as dt

import pytest
from botocore.exceptions import ClientError

from helpers import wait_for
from monitor_support import ANALYZER_IMAGE, ROLE

RESOURCES = {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 20}}


@pytest.fixture(scope="module")
def endpoint(monitor):
    return monitor.endpoint("mon-api-ep", wait=False)


def _output(monitor, name: str) -> dict:
    return {
        "MonitoringOutputs": [
            {
                "S3Output": {
                    "S3Uri": f"s3://{monitor.bucket}/reports/{name}",
                    "LocalPath": "/opt/ml/processing/output",
                }
            }
        ]
    }


def _endpoint_input(endpoint: str, **extra) -> dict:
    return {"EndpointName": endpoint, "LocalPath": "/opt/ml/processing/input/endpoint", **extra}


def create_data_quality(monitor, endpoint: str, name: str, **extra) -> str:
    return monitor.sm.create_data_quality_job_definition(
        JobDefinitionName=name,
        DataQualityAppSpecification={"ImageUri": ANALYZER_IMAGE},
        DataQualityJobInput={"EndpointInput": _endpoint_input(endpoint)},
        DataQualityJobOutputConfig=_output(monitor, name),
        JobResources=RESOURCES,
        RoleArn=ROLE,
        StoppingCondition={"MaxRuntimeInSeconds": 1800},
        **extra,
    )["JobDefinitionArn"]


def _code(excinfo) -> str:
    return excinfo.value.response["Error"]["Code"]


def test_four_definition_families_create_describe_list_delete(monitor, endpoint):
    sm = monitor.sm
    arn = create_data_quality(
        monitor,
        endpoint,
        "dq-def-1",
        DataQualityBaselineConfig={
            "ConstraintsResource": {"S3Uri": f"s3://{monitor.bucket}/b/constraints.json"}
        },
        Tags=[{"Key": "team", "Value": "ml"}],
    )
    assert arn == "arn:aws:sagemaker:us-east-1:000000000000:data-quality-job-definition/dq-def-1"
    desc = sm.describe_data_quality_job_definition(JobDefinitionName="dq-def-1")
    assert desc["JobDefinitionArn"] == arn and desc["JobDefinitionName"] == "dq-def-1"
    assert desc["DataQualityJobInput"]["EndpointInput"]["EndpointName"] == endpoint
    assert desc["DataQualityBaselineConfig"]["ConstraintsResource"]["S3Uri"].endswith("constraints.json")
    assert "Tags" not in desc and isinstance(desc["CreationTime"], dt.datetime)
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "ml"}]

    sm.create_model_quality_job_definition(
        JobDefinitionName="mq-def-1",
        ModelQualityAppSpecification={"ImageUri": ANALYZER_IMAGE, "ProblemType": "BinaryClassification"},
        ModelQualityJobInput={
            "EndpointInput": _endpoint_input(endpoint, InferenceAttribute="0"),
            "GroundTruthS3Input": {"S3Uri": f"s3://{monitor.bucket}/ground-truth"},
        },
        ModelQualityJobOutputConfig=_output(monitor, "mq"),
        JobResources=RESOURCES,
        RoleArn=ROLE,
    )
    clarify = "205585389593.dkr.ecr.us-east-1.amazonaws.com/sagemaker-clarify-processing:1.0"
    sm.create_model_bias_job_definition(
        JobDefinitionName="mb-def-1",
        ModelBiasAppSpecification={
            "ImageUri": clarify,
            "ConfigUri": f"s3://{monitor.bucket}/cfg/analysis_config.json",
        },
        ModelBiasJobInput={
            "EndpointInput": _endpoint_input(endpoint, ProbabilityAttribute="0"),
            "GroundTruthS3Input": {"S3Uri": f"s3://{monitor.bucket}/ground-truth"},
        },
        ModelBiasJobOutputConfig=_output(monitor, "mb"),
        JobResources=RESOURCES,
        RoleArn=ROLE,
    )
    sm.create_model_explainability_job_definition(
        JobDefinitionName="me-def-1",
        ModelExplainabilityAppSpecification={
            "ImageUri": clarify,
            "ConfigUri": f"s3://{monitor.bucket}/cfg/analysis_config.json",
        },
        ModelExplainabilityJobInput={"EndpointInput": _endpoint_input(endpoint)},
        ModelExplainabilityJobOutputConfig=_output(monitor, "me"),
        JobResources=RESOURCES,
        RoleArn=ROLE,
    )
    assert (
        sm.describe_model_quality_job_definition(JobDefinitionName="mq-def-1")[
            "ModelQualityAppSpecification"
        ]["ProblemType"]
        == "BinaryClassification"
    )
    assert sm.describe_model_bias_job_definition(JobDefinitionName="mb-def-1")["JobDefinitionArn"].endswith(
        ":model-bias-job-definition/mb-def-1"
    )
    assert sm.describe_model_explainability_job_definition(JobDefinitionName="me-def-1")[
        "JobDefinitionArn"
    ].endswith(":model-explainability-job-definition/me-def-1")
    listed = sm.list_data_quality_job_definitions(EndpointName=endpoint)["JobDefinitionSummaries"]
    assert [s["MonitoringJobDefinitionName"] for s in listed] == ["dq-def-1"]
    assert listed[0]["EndpointName"] == endpoint and listed[0]["MonitoringJobDefinitionArn"] == arn
    assert sm.list_data_quality_job_definitions(EndpointName="other")["JobDefinitionSummaries"] == []
    assert [
        s["MonitoringJobDefinitionName"]
        for s in sm.list_model_quality_job_definitions()["JobDefinitionSummaries"]
    ] == ["mq-def-1"]

    with pytest.raises(ClientError) as excinfo:
        create_data_quality(monitor, endpoint, "dq-def-1")
    assert _code(excinfo) == "ResourceInUse"
    for name, delete, describe in (
        ("mq-def-1", sm.delete_model_quality_job_definition, sm.describe_model_quality_job_definition),
        ("mb-def-1", sm.delete_model_bias_job_definition, sm.describe_model_bias_job_definition),
        (
            "me-def-1",
            sm.delete_model_explainability_job_definition,
            sm.describe_model_explainability_job_definition,
        ),
        ("dq-def-1", sm.delete_data_quality_job_definition, sm.describe_data_quality_job_definition),
    ):
        delete(JobDefinitionName=name)
        with pytest.raises(ClientError) as excinfo:
            describe(JobDefinitionName=name)
        assert _code(excinfo) == "ResourceNotFound"


def test_bad_definitions_are_refused_and_not_stored(monitor, endpoint):
    sm = monitor.sm
    with pytest.raises(ClientError) as excinfo:
        create_data_quality(monitor, "no-such-endpoint", "dq-bad-1")
    assert _code(excinfo) == "ValidationException" and "no-such-endpoint" in str(excinfo.value)
    with pytest.raises(ClientError) as excinfo:  # no InferenceAttribute / ProbabilityAttribute
        sm.create_model_quality_job_definition(
            JobDefinitionName="mq-bad-1",
            ModelQualityAppSpecification={"ImageUri": ANALYZER_IMAGE, "ProblemType": "Regression"},
            ModelQualityJobInput={
                "EndpointInput": _endpoint_input(endpoint),
                "GroundTruthS3Input": {"S3Uri": f"s3://{monitor.bucket}/gt"},
            },
            ModelQualityJobOutputConfig=_output(monitor, "x"),
            JobResources=RESOURCES,
            RoleArn=ROLE,
        )
    assert _code(excinfo) == "ValidationException" and "InferenceAttribute" in str(excinfo.value)
    with pytest.raises(ClientError) as excinfo:  # both inputs
        sm.create_data_quality_job_definition(
            JobDefinitionName="dq-bad-2",
            DataQualityAppSpecification={"ImageUri": ANALYZER_IMAGE},
            DataQualityJobInput={
                "EndpointInput": _endpoint_input(endpoint),
                "BatchTransformInput": {
                    "DataCapturedDestinationS3Uri": f"s3://{monitor.bucket}/bt",
                    "DatasetFormat": {"Csv": {"Header": False}},
                    "LocalPath": "/opt/ml/processing/input/batch",
                },
            },
            DataQualityJobOutputConfig=_output(monitor, "x"),
            JobResources=RESOURCES,
            RoleArn=ROLE,
        )
    assert _code(excinfo) == "ValidationException" and "Exactly one" in str(excinfo.value)
    names = [
        s["MonitoringJobDefinitionName"]
        for s in sm.list_data_quality_job_definitions()["JobDefinitionSummaries"]
    ]
    assert "dq-bad-1" not in names and "dq-bad-2" not in names
    assert sm.list_model_quality_job_definitions(NameContains="bad")["JobDefinitionSummaries"] == []


def test_schedule_lifecycle_alerts_and_definition_lock(monitor, endpoint):
    sm = monitor.sm
    create_data_quality(monitor, endpoint, "dq-sched-def")
    arn = sm.create_monitoring_schedule(
        MonitoringScheduleName="dq-schedule",
        MonitoringScheduleConfig={
            "ScheduleConfig": {"ScheduleExpression": "cron(0 * ? * * *)"},
            "MonitoringJobDefinitionName": "dq-sched-def",
            "MonitoringType": "DataQuality",
        },
    )["MonitoringScheduleArn"]
    assert arn == "arn:aws:sagemaker:us-east-1:000000000000:monitoring-schedule/dq-schedule"
    desc = wait_for(
        lambda: (
            (d := sm.describe_monitoring_schedule(MonitoringScheduleName="dq-schedule"))[
                "MonitoringScheduleStatus"
            ]
            != "Pending"
            and d
        ),
        timeout=30,
        message="the schedule to leave Pending",
    )
    assert desc["MonitoringScheduleStatus"] == "Scheduled"
    assert desc["MonitoringType"] == "DataQuality" and desc["EndpointName"] == endpoint
    assert desc["MonitoringScheduleConfig"]["MonitoringJobDefinitionName"] == "dq-sched-def"
    assert "LastMonitoringExecutionSummary" not in desc  # nothing ran yet (next run: the next hour)

    summaries = sm.list_monitoring_schedules(EndpointName=endpoint)["MonitoringScheduleSummaries"]
    assert [
        (s["MonitoringScheduleName"], s["MonitoringJobDefinitionName"], s["MonitoringType"])
        for s in summaries
    ] == [("dq-schedule", "dq-sched-def", "DataQuality")]
    assert (
        sm.list_monitoring_schedules(MonitoringTypeEquals="ModelQuality")["MonitoringScheduleSummaries"] == []
    )

    alerts = sm.list_monitoring_alerts(MonitoringScheduleName="dq-schedule")["MonitoringAlertSummaries"]
    assert len(alerts) == 1 and alerts[0]["AlertStatus"] == "OK"
    alert = alerts[0]["MonitoringAlertName"]
    updated = sm.update_monitoring_alert(
        MonitoringScheduleName="dq-schedule",
        MonitoringAlertName=alert,
        DatapointsToAlert=2,
        EvaluationPeriod=3,
    )
    assert updated == {
        "MonitoringScheduleArn": arn,
        "MonitoringAlertName": alert,
        "ResponseMetadata": updated["ResponseMetadata"],
    }
    again = sm.list_monitoring_alerts(MonitoringScheduleName="dq-schedule")["MonitoringAlertSummaries"][0]
    assert (again["DatapointsToAlert"], again["EvaluationPeriod"]) == (2, 3)
    with pytest.raises(ClientError) as excinfo:
        sm.update_monitoring_alert(
            MonitoringScheduleName="dq-schedule",
            MonitoringAlertName=alert,
            DatapointsToAlert=4,
            EvaluationPeriod=3,
        )
    assert _code(excinfo) == "ValidationException"
    with pytest.raises(ClientError) as excinfo:
        sm.update_monitoring_alert(
            MonitoringScheduleName="dq-schedule",
            MonitoringAlertName="nope",
            DatapointsToAlert=1,
            EvaluationPeriod=1,
        )
    assert _code(excinfo) == "ResourceNotFound"
    assert (
        sm.list_monitoring_alert_history(MonitoringScheduleName="dq-schedule")["MonitoringAlertHistory"] == []
    )

    sm.stop_monitoring_schedule(MonitoringScheduleName="dq-schedule")
    assert (
        sm.describe_monitoring_schedule(MonitoringScheduleName="dq-schedule")["MonitoringScheduleStatus"]
        == "Stopped"
    )
    sm.start_monitoring_schedule(MonitoringScheduleName="dq-schedule")
    wait_for(
        lambda: (
            sm.describe_monitoring_schedule(MonitoringScheduleName="dq-schedule")["MonitoringScheduleStatus"]
            == "Scheduled"
        ),
        timeout=30,
        message="the schedule to be Scheduled again",
    )
    create_data_quality(monitor, endpoint, "dq-sched-def-2")
    sm.update_monitoring_schedule(
        MonitoringScheduleName="dq-schedule",
        MonitoringScheduleConfig={
            "ScheduleConfig": {"ScheduleExpression": "cron(0 0/2 ? * * *)"},
            "MonitoringJobDefinitionName": "dq-sched-def-2",
            "MonitoringType": "DataQuality",
        },
    )
    desc = wait_for(
        lambda: (
            (d := sm.describe_monitoring_schedule(MonitoringScheduleName="dq-schedule"))[
                "MonitoringScheduleStatus"
            ]
            == "Scheduled"
            and d
        ),
        timeout=30,
        message="the updated schedule",
    )
    assert desc["MonitoringScheduleConfig"]["ScheduleConfig"]["ScheduleExpression"] == "cron(0 0/2 ? * * *)"
    sm.delete_data_quality_job_definition(JobDefinitionName="dq-sched-def")  # no longer referenced
    with pytest.raises(ClientError) as excinfo:
        sm.delete_data_quality_job_definition(JobDefinitionName="dq-sched-def-2")
    assert _code(excinfo) == "ResourceInUse" and "dq-schedule" in str(excinfo.value)
    sm.delete_monitoring_schedule(MonitoringScheduleName="dq-schedule")
    with pytest.raises(ClientError) as excinfo:
        sm.describe_monitoring_schedule(MonitoringScheduleName="dq-schedule")
    assert _code(excinfo) == "ResourceNotFound"
    sm.delete_data_quality_job_definition(JobDefinitionName="dq-sched-def-2")


@pytest.mark.parametrize(
    "schedule_config, words",
    [
        ({"ScheduleExpression": "cron(30 * ? * * *)"}, "minutes field must be 0"),
        ({"ScheduleExpression": "rate(1 hour)"}, "Invalid ScheduleExpression"),
        ({"ScheduleExpression": "cron(0 * ? * MON *)"}, "only hourly"),
        ({"ScheduleExpression": "NOW"}, "required when ScheduleExpression is NOW"),
        (
            {"ScheduleExpression": "NOW", "DataAnalysisStartTime": "-PT30H", "DataAnalysisEndTime": "-PT0H"},
            "longer than 24 hours",
        ),
        (
            {
                "ScheduleExpression": "NOW",
                "DataAnalysisStartTime": "-PT1H",
                "DataAnalysisEndTime": "yesterday",
            },
            "DataAnalysisEndTime",
        ),
    ],
)
def test_bad_schedule_expressions_are_refused(monitor, endpoint, schedule_config, words):
    sm = monitor.sm
    try:
        create_data_quality(monitor, endpoint, "dq-cron-def")
    except ClientError:
        pass  # made by an earlier case
    with pytest.raises(ClientError) as excinfo:
        sm.create_monitoring_schedule(
            MonitoringScheduleName="bad-cron",
            MonitoringScheduleConfig={
                "ScheduleConfig": schedule_config,
                "MonitoringJobDefinitionName": "dq-cron-def",
                "MonitoringType": "DataQuality",
            },
        )
    assert _code(excinfo) == "ValidationException" and words in str(excinfo.value)
    with pytest.raises(ClientError):
        sm.describe_monitoring_schedule(MonitoringScheduleName="bad-cron")


def test_schedule_names_definitions_and_types_are_checked(monitor, endpoint):
    sm = monitor.sm
    config = {"MonitoringJobDefinitionName": "missing-def", "MonitoringType": "DataQuality"}
    for name, cfg, code in (
        ("a" * 64, config, "ValidationException"),
        ("sched-missing-def", config, "ValidationException"),
        (
            "sched-bad-type",
            {"MonitoringJobDefinitionName": "x", "MonitoringType": "Drift"},
            "ValidationException",
        ),
    ):
        with pytest.raises(ClientError) as excinfo:
            sm.create_monitoring_schedule(MonitoringScheduleName=name, MonitoringScheduleConfig=cfg)
        assert _code(excinfo) == code
    assert all(
        s["MonitoringScheduleName"] != "sched-missing-def"
        for s in sm.list_monitoring_schedules()["MonitoringScheduleSummaries"]
    )
    for operation in (
        sm.start_monitoring_schedule,
        sm.stop_monitoring_schedule,
        sm.delete_monitoring_schedule,
    ):
        with pytest.raises(ClientError) as excinfo:
            operation(MonitoringScheduleName="never-made")
        assert _code(excinfo) == "ResourceNotFound"


def test_inline_definition_without_data_fails_the_execution_with_no_job(monitor, endpoint):
    """A NOW schedule over a window with no captured data: the execution fails with SageMaker's reason
    and has no processing job."""
    sm = monitor.sm
    sm.create_monitoring_schedule(
        MonitoringScheduleName="inline-now",
        MonitoringScheduleConfig={
            "ScheduleConfig": {
                "ScheduleExpression": "NOW",
                "DataAnalysisStartTime": "-PT1H",
                "DataAnalysisEndTime": "-PT0H",
            },
            "MonitoringJobDefinition": {
                "MonitoringInputs": [{"EndpointInput": _endpoint_input(endpoint)}],
                "MonitoringOutputConfig": _output(monitor, "inline"),
                "MonitoringResources": RESOURCES,
                "MonitoringAppSpecification": {"ImageUri": ANALYZER_IMAGE},
                "RoleArn": ROLE,
            },
        },
    )
    execution = monitor.wait_execution("inline-now", timeout=60)
    assert execution["MonitoringExecutionStatus"] == "Failed"
    assert execution["FailureReason"] == "Job inputs had no data"
    assert "ProcessingJobArn" not in execution and execution["MonitoringType"] == "DataQuality"
    desc = sm.describe_monitoring_schedule(MonitoringScheduleName="inline-now")
    assert desc["MonitoringType"] == "DataQuality"
    assert desc["LastMonitoringExecutionSummary"]["FailureReason"] == "Job inputs had no data"
    listed = sm.list_monitoring_executions(
        MonitoringScheduleName="inline-now", SortBy="ScheduledTime", SortOrder="Descending", MaxResults=100
    )["MonitoringExecutionSummaries"]
    assert len(listed) == 1
    assert (
        sm.list_monitoring_executions(StatusEquals="Completed", MonitoringScheduleName="inline-now")[
            "MonitoringExecutionSummaries"
        ]
        == []
    )
    sm.delete_monitoring_schedule(MonitoringScheduleName="inline-now")
    # the history stays after the schedule is gone
    assert sm.list_monitoring_executions(MonitoringScheduleName="inline-now")["MonitoringExecutionSummaries"]


@pytest.mark.slow
def test_a_failing_analysis_fails_the_execution_with_the_jobs_reason(monitor, endpoint):
    """Captured data but a baseline that is not valid JSON: the analyzer fails with a ClientError, which
    becomes the execution's FailureReason."""
    sm = monitor.sm
    monitor.write_capture(endpoint, [[1.0, 2.0]], dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=5))
    broken = monitor.put("broken/constraints.json", "{not json")
    create_data_quality(
        monitor,
        endpoint,
        "dq-broken-def",
        DataQualityBaselineConfig={"ConstraintsResource": {"S3Uri": broken}},
    )
    sm.create_monitoring_schedule(
        MonitoringScheduleName="broken-now",
        MonitoringScheduleConfig={
            "ScheduleConfig": {
                "ScheduleExpression": "NOW",
                "DataAnalysisStartTime": "-PT1H",
                "DataAnalysisEndTime": "-PT0H",
            },
            "MonitoringJobDefinitionName": "dq-broken-def",
            "MonitoringType": "DataQuality",
        },
    )
    execution = monitor.wait_execution("broken-now")
    assert execution["MonitoringExecutionStatus"] == "Failed"
    assert execution["FailureReason"].startswith("ClientError: baseline_constraints")
    assert "not valid JSON" in execution["FailureReason"]
    job = sm.describe_processing_job(ProcessingJobName=execution["ProcessingJobArn"].split("/", 1)[1])
    assert job["ProcessingJobStatus"] == "Failed" and job["FailureReason"] == execution["FailureReason"]
    sm.delete_monitoring_schedule(MonitoringScheduleName="broken-now")
