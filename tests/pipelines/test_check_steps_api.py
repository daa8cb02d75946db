"""QualityCheck / ClarifyCheck steps from a raw definition (boto3): a check with no previous baseline
fails before any job is made, an unknown CheckType fails clearly, a ClarifyCheck registering a new
baseline runs its processing job with the Clarify image (and takes that job's outcome), and the
registered DriftCheckBaselines of an approved package are what the check job gets."""

from __future__ import annotations

import json
import uuid

import pytest

from helpers import ROLE, wait_for

CLARIFY_IMAGE = "205585389593.dkr.ecr.us-east-1.amazonaws.com/sagemaker-clarify-processing:1.0"
XGB_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"


@pytest.fixture(scope="module")
def sm(server):
    return server.client("sagemaker")


def _job(bucket: str, image: str, output: str) -> dict:
    return {
        "ProcessingResources": {
            "ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 20}
        },
        "AppSpecification": {"ImageUri": image},
        "RoleArn": ROLE,
        "ProcessingInputs": [
            {
                "InputName": "dataset",
                "S3Input": {
                    "S3Uri": f"s3://{bucket}/data.csv",
                    "LocalPath": "/opt/ml/processing/input/data",
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                },
            }
        ],
        "ProcessingOutputConfig": {
            "Outputs": [
                {
                    "OutputName": output,
                    "S3Output": {
                        "S3Uri": f"s3://{bucket}/out",
                        "LocalPath": "/opt/ml/processing/output",
                        "S3UploadMode": "EndOfJob",
                    },
                }
            ]
        },
    }


def _run(sm, steps) -> tuple[dict, dict]:
    name = f"checks-{uuid.uuid4().hex[:8]}"
    sm.create_pipeline(
        PipelineName=name,
        RoleArn=ROLE,
        PipelineDefinition=json.dumps({"Version": "2020-12-01", "Steps": steps}),
    )
    arn = sm.start_pipeline_execution(PipelineName=name)["PipelineExecutionArn"]

    def done():
        desc = sm.describe_pipeline_execution(PipelineExecutionArn=arn)
        return desc if desc["PipelineExecutionStatus"] != "Executing" else None

    desc = wait_for(done, 60, 0.3, "the execution")
    listed = sm.list_pipeline_execution_steps(PipelineExecutionArn=arn)["PipelineExecutionSteps"]
    return desc, {s["StepName"]: s for s in listed}


def test_checks_without_a_previous_baseline_or_with_a_bad_type_fail_before_any_job(server, sm):
    bucket = f"chk-{uuid.uuid4().hex[:8]}"
    server.client("s3").create_bucket(Bucket=bucket)
    group = f"chk-{uuid.uuid4().hex[:6]}"
    sm.create_model_package_group(ModelPackageGroupName=group)
    steps = [
        {
            "Name": "Quality",
            "Type": "QualityCheck",
            "CheckType": "DATA_QUALITY",
            "SkipCheck": False,
            "RegisterNewBaseline": True,
            "FailOnViolation": True,
            "ModelPackageGroupName": group,
            "SuppliedBaselineStatistics": None,
            "SuppliedBaselineConstraints": None,
            "Arguments": _job(
                bucket,
                "156813124566.dkr.ecr.us-east-1.amazonaws.com/sagemaker-model-monitor-analyzer",
                "quality_check_output",
            ),
        },
        {
            "Name": "Bias",
            "Type": "ClarifyCheck",
            "CheckType": "MODEL_BIAS",
            "SkipCheck": True,
            "RegisterNewBaseline": False,
            "ModelPackageGroupName": None,
            "Arguments": _job(bucket, CLARIFY_IMAGE, "analysis_result"),
        },
        {
            "Name": "Odd",
            "Type": "QualityCheck",
            "CheckType": "DATA_BIAS",
            "SkipCheck": True,
            "RegisterNewBaseline": True,
            "Arguments": _job(bucket, CLARIFY_IMAGE, "quality_check_output"),
        },
    ]
    desc, by_name = _run(sm, steps)
    assert desc["PipelineExecutionStatus"] == "Failed"
    assert by_name["Quality"]["FailureReason"].startswith(
        "ClientError: SkipCheck is false, so the step needs a previous DATA_QUALITY baseline: none was "
        "supplied (SuppliedBaselineStatistics / SuppliedBaselineConstraints) and none was found in the "
        f"latest approved model package of group {group}."
    )
    assert by_name["Bias"]["FailureReason"].startswith(
        "ClientError: RegisterNewBaseline is false, so the step needs a previous MODEL_BIAS baseline: none "
        "was supplied (SuppliedBaselineConstraints) and none was found (no ModelPackageGroupName)."
    )
    assert by_name["Odd"]["FailureReason"] == (
        "ClientError: CheckType DATA_BIAS is not a QualityCheck type (DATA_QUALITY, MODEL_QUALITY)."
    )
    for step in by_name.values():
        assert step["Metadata"] == {}
    assert (
        sm.list_processing_jobs(NameContains=desc["PipelineExecutionArn"].rsplit("/", 1)[-1])[
            "ProcessingJobSummaries"
        ]
        == []
    )


def test_clarify_check_uses_the_registered_constraints_and_runs_the_clarify_job(server, sm):
    s3 = server.client("s3")
    bucket = f"chk-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="data.csv", Body=b"label,x\n1,2\n0,3\n")
    s3.put_object(Bucket=bucket, Key="baseline/analysis.json", Body=b'{"pre_training_bias_metrics": {}}')
    group = f"chk-{uuid.uuid4().hex[:6]}"
    sm.create_model_package_group(ModelPackageGroupName=group)
    baseline = f"s3://{bucket}/baseline/analysis.json"
    sm.create_model_package(
        ModelPackageGroupName=group,
        ModelApprovalStatus="Approved",
        InferenceSpecification={
            "Containers": [{"Image": XGB_IMAGE}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
        DriftCheckBaselines={
            "Bias": {"PreTrainingConstraints": {"ContentType": "application/json", "S3Uri": baseline}}
        },
    )
    steps = [
        {
            "Name": "DataBias",
            "Type": "ClarifyCheck",
            "CheckType": "DATA_BIAS",
            "SkipCheck": False,
            "RegisterNewBaseline": False,
            "FailOnViolation": True,
            "ModelPackageGroupName": group,
            "Arguments": _job(bucket, CLARIFY_IMAGE, "analysis_result"),
        }
    ]
    desc, by_name = _run(sm, steps)
    step = by_name["DataBias"]
    meta = step["Metadata"]["ClarifyCheck"]
    assert meta["CheckType"] == "DATA_BIAS" and meta["ModelPackageGroupName"] == group
    job = sm.describe_processing_job(ProcessingJobName=meta["CheckJobArn"].rsplit("/", 1)[-1])
    constraints = [i for i in job["ProcessingInputs"] if i["InputName"] == "constraints"]
    assert constraints and constraints[0]["S3Input"]["S3Uri"] == baseline
    assert job["Environment"]["baseline_constraints"] == "/opt/ml/processing/baseline/constraints"
    if job["ProcessingJobStatus"] == "Failed":  # no Clarify processor on this server: the job's reason
        assert desc["PipelineExecutionStatus"] == "Failed"
        assert step["FailureReason"] == f"ClientError: {job['FailureReason']}"
    else:
        assert step["StepStatus"] in ("Succeeded", "Failed")
        if step["StepStatus"] == "Succeeded":
            assert meta["BaselineUsedForDriftCheckConstraints"] == baseline
            assert meta["CalculatedBaselineConstraints"] == f"s3://{bucket}/out/analysis.json"
