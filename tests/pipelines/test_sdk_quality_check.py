"""A SageMaker SDK pipeline with a data-quality QualityCheckStep (the Model Monitor analyzer as a
processing job): a first execution registers a new baseline (SkipCheck), the baseline goes into an
approved model package's DriftCheckBaselines, then executions check new data against it — the same data
passes, drifted data fails the step with the violation report (FailOnViolation); a check with no
previous baseline fails clearly. The check's properties feed a ModelStep register's DriftCheckBaselines;
a MODEL_QUALITY check against supplied baselines fails on a worse model."""

from __future__ import annotations

import json
import uuid

import numpy as np
import pandas as pd
import pytest

from helpers import ROLE, wait_for

pytest.importorskip("sagemaker")

XGB_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"


def _frame(rows: int = 60, drifted: bool = False) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(
        {
            "label": rng.integers(0, 2, rows),
            "x1": rng.normal(0, 1, rows).round(5),
            "color": rng.choice(["red", "blue"], rows),
        }
    )
    if drifted:
        frame["x1"] = frame["x1"].astype(object)
        frame.loc[: rows // 2, "x1"] = "oops"  # a numeric column now holding text: a data type violation
    return frame


def _wait(sm, arn: str, timeout: float = 180) -> dict:
    def done():
        desc = sm.describe_pipeline_execution(PipelineExecutionArn=arn)
        return desc if desc["PipelineExecutionStatus"] in ("Succeeded", "Failed", "Stopped") else None

    return wait_for(done, timeout, 0.5, f"pipeline execution {arn}")


def _step(sm, arn: str, name: str = "DataQuality") -> dict:
    steps = sm.list_pipeline_execution_steps(PipelineExecutionArn=arn)["PipelineExecutionSteps"]
    return {s["StepName"]: s for s in steps}[name]


def _pipeline(name: str, bucket: str, group: str):
    from sagemaker.model_monitor.dataset_format import DatasetFormat
    from sagemaker.workflow.check_job_config import CheckJobConfig
    from sagemaker.workflow.execution_variables import ExecutionVariables
    from sagemaker.workflow.functions import Join
    from sagemaker.workflow.parameters import ParameterBoolean, ParameterString
    from sagemaker.workflow.pipeline import Pipeline
    from sagemaker.workflow.pipeline_context import PipelineSession
    from sagemaker.workflow.quality_check_step import DataQualityCheckConfig, QualityCheckStep

    session = PipelineSession(default_bucket=bucket)
    data = ParameterString(name="Data", default_value=f"s3://{bucket}/data/base.csv")
    skip = ParameterBoolean(name="SkipCheck", default_value=False)
    register = ParameterBoolean(name="RegisterNewBaseline", default_value=False)
    fail = ParameterBoolean(name="FailOnViolation", default_value=True)
    step = QualityCheckStep(
        name="DataQuality",
        quality_check_config=DataQualityCheckConfig(
            baseline_dataset=data,
            dataset_format=DatasetFormat.csv(header=True),
            # one folder per execution: a later run must not overwrite the registered baseline
            output_s3_uri=Join(
                on="/", values=[f"s3://{bucket}/quality", ExecutionVariables.PIPELINE_EXECUTION_ID]
            ),
        ),
        check_job_config=CheckJobConfig(
            role=ROLE, instance_count=1, instance_type="ml.m5.xlarge", sagemaker_session=session
        ),
        skip_check=skip,
        register_new_baseline=register,
        fail_on_violation=fail,
        model_package_group_name=group,
    )
    return Pipeline(
        name=name, parameters=[data, skip, register, fail], steps=[step], sagemaker_session=session
    )


@pytest.mark.slow
@pytest.mark.sdk_flow("flow06", "QualityCheckStep (DATA_QUALITY): register a baseline, then drift checks")
def test_quality_check_registers_a_baseline_then_checks_drift(server, sdk_env):
    sm = server.client("sagemaker")
    s3 = server.client("s3")
    bucket = f"qc-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="data/base.csv", Body=_frame().to_csv(index=False).encode())
    s3.put_object(
        Bucket=bucket, Key="data/drifted.csv", Body=_frame(drifted=True).to_csv(index=False).encode()
    )
    group = f"qc-group-{uuid.uuid4().hex[:6]}"
    sm.create_model_package_group(ModelPackageGroupName=group)
    pipeline = _pipeline(f"qc-{uuid.uuid4().hex[:6]}", bucket, group)
    definition = json.loads(pipeline.definition())
    assert definition["Steps"][0]["Type"] == "QualityCheck"
    pipeline.upsert(role_arn=ROLE)

    # no previous baseline and SkipCheck false: the step cannot check anything
    arn = pipeline.start().arn
    assert _wait(sm, arn)["PipelineExecutionStatus"] == "Failed"
    step = _step(sm, arn)
    assert "needs a previous DATA_QUALITY baseline" in step["FailureReason"]

    # first run: compute and register a new baseline, no check
    arn = pipeline.start(parameters={"SkipCheck": True, "RegisterNewBaseline": True}).arn
    desc = _wait(sm, arn)
    step = _step(sm, arn)
    assert desc["PipelineExecutionStatus"] == "Succeeded", step.get("FailureReason")
    meta = step["Metadata"]["QualityCheck"]
    job = sm.describe_processing_job(ProcessingJobName=meta["CheckJobArn"].rsplit("/", 1)[-1])
    assert job["ProcessingJobStatus"] == "Completed"
    assert "model-monitor-analyzer" in job["AppSpecification"]["ImageUri"]
    assert (
        meta["CheckType"] == "DATA_QUALITY"
        and meta["SkipCheck"] is True
        and meta["RegisterNewBaseline"] is True
    )
    assert meta["ModelPackageGroupName"] == group
    statistics, constraints = meta["CalculatedBaselineStatistics"], meta["CalculatedBaselineConstraints"]
    assert statistics == f"s3://{bucket}/quality/{arn.rsplit('/', 1)[-1]}/statistics.json"
    assert meta["BaselineUsedForDriftCheckStatistics"] == statistics
    assert meta["BaselineUsedForDriftCheckConstraints"] == constraints
    assert "ViolationReport" not in meta
    key = constraints.split("/", 3)[3]
    features = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())["features"]
    assert {f["name"]: f["inferred_type"] for f in features}["x1"] == "Fractional"

    # the baseline as a registered, approved package's drift-check baselines
    sm.create_model_package(
        ModelPackageGroupName=group,
        ModelApprovalStatus="Approved",
        InferenceSpecification={
            "Containers": [{"Image": XGB_IMAGE}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
        DriftCheckBaselines={
            "ModelDataQuality": {
                "Statistics": {"ContentType": "application/json", "S3Uri": statistics},
                "Constraints": {"ContentType": "application/json", "S3Uri": constraints},
            }
        },
    )

    # the same data checked against the registered baseline: no violation
    arn = pipeline.start().arn
    desc = _wait(sm, arn)
    step = _step(sm, arn)
    assert desc["PipelineExecutionStatus"] == "Succeeded", step.get("FailureReason")
    meta = step["Metadata"]["QualityCheck"]
    assert meta["SkipCheck"] is False and meta["RegisterNewBaseline"] is False
    assert meta["BaselineUsedForDriftCheckStatistics"] == statistics
    assert meta["BaselineUsedForDriftCheckConstraints"] == constraints
    assert meta["CalculatedBaselineConstraints"] != constraints  # this run's own output
    job = sm.describe_processing_job(ProcessingJobName=meta["CheckJobArn"].rsplit("/", 1)[-1])
    assert {i["InputName"] for i in job["ProcessingInputs"]} >= {
        "baseline_dataset_input",
        "constraints",
        "baseline",
    }

    # drifted data: the violations fail the step (FailOnViolation defaults to true)
    arn = pipeline.start(parameters={"Data": f"s3://{bucket}/data/drifted.csv"}).arn
    desc = _wait(sm, arn)
    assert desc["PipelineExecutionStatus"] == "Failed"
    step = _step(sm, arn)
    meta = step["Metadata"]["QualityCheck"]
    report = meta["ViolationReport"]
    assert step["FailureReason"].startswith(
        f"ClientError: Quality check failed. See violation report in {report}"
    )
    violations = json.loads(s3.get_object(Bucket=bucket, Key=report.split("/", 3)[3])["Body"].read())[
        "violations"
    ]
    assert any(
        v["feature_name"] == "x1" and v["constraint_check_type"] == "data_type_check" for v in violations
    )

    # FailOnViolation false: the step succeeds and still names the report
    arn = pipeline.start(parameters={"Data": f"s3://{bucket}/data/drifted.csv", "FailOnViolation": False}).arn
    desc = _wait(sm, arn)
    step = _step(sm, arn)
    assert desc["PipelineExecutionStatus"] == "Succeeded", step.get("FailureReason")
    meta = step["Metadata"]["QualityCheck"]
    assert meta["ViolationReport"].endswith(f"/{arn.rsplit('/', 1)[-1]}/constraint_violations.json")
    assert meta["BaselineUsedForDriftCheckConstraints"] == constraints


@pytest.mark.slow
@pytest.mark.sdk_flow("flow06", "QualityCheckStep properties feed a ModelStep register's DriftCheckBaselines")
def test_quality_check_properties_feed_the_registered_drift_check_baselines(server, sdk_env):
    from sagemaker.drift_check_baselines import DriftCheckBaselines
    from sagemaker.model import Model
    from sagemaker.model_metrics import MetricsSource
    from sagemaker.workflow.model_step import ModelStep

    sm = server.client("sagemaker")
    s3 = server.client("s3")
    bucket = f"qc-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="data/base.csv", Body=_frame().to_csv(index=False).encode())
    s3.put_object(Bucket=bucket, Key="model/model.tar.gz", Body=b"not really a model")
    group = f"qc-group-{uuid.uuid4().hex[:6]}"
    sm.create_model_package_group(ModelPackageGroupName=group)
    pipeline = _pipeline(f"qc-reg-{uuid.uuid4().hex[:6]}", bucket, group)
    check = pipeline.steps[0]
    props = check.properties
    model = Model(
        image_uri=XGB_IMAGE,
        model_data=f"s3://{bucket}/model/model.tar.gz",
        role=ROLE,
        sagemaker_session=pipeline.sagemaker_session,
    )
    register = ModelStep(
        name="Register",
        step_args=model.register(
            content_types=["text/csv"],
            response_types=["text/csv"],
            model_package_group_name=group,
            approval_status="Approved",
            drift_check_baselines=DriftCheckBaselines(
                model_data_statistics=MetricsSource(
                    s3_uri=props.BaselineUsedForDriftCheckStatistics, content_type="application/json"
                ),
                model_data_constraints=MetricsSource(
                    s3_uri=props.BaselineUsedForDriftCheckConstraints, content_type="application/json"
                ),
            ),
        ),
    )
    pipeline.steps.append(register)
    pipeline.upsert(role_arn=ROLE)

    arn = pipeline.start(parameters={"SkipCheck": True, "RegisterNewBaseline": True}).arn
    desc = _wait(sm, arn)
    steps = sm.list_pipeline_execution_steps(PipelineExecutionArn=arn)["PipelineExecutionSteps"]
    assert desc["PipelineExecutionStatus"] == "Succeeded", [
        (s["StepName"], s.get("FailureReason")) for s in steps
    ]
    meta = _step(sm, arn)["Metadata"]["QualityCheck"]
    package_arn = _step(sm, arn, "Register-RegisterModel")["Metadata"]["RegisterModel"]["Arn"]
    baselines = sm.describe_model_package(ModelPackageName=package_arn)["DriftCheckBaselines"]
    assert baselines["ModelDataQuality"]["Statistics"]["S3Uri"] == meta["CalculatedBaselineStatistics"]
    assert baselines["ModelDataQuality"]["Constraints"]["S3Uri"] == meta["CalculatedBaselineConstraints"]

    # the next execution checks against what the first one registered
    again = pipeline.start().arn
    desc = _wait(sm, again)
    assert desc["PipelineExecutionStatus"] == "Succeeded", desc.get("FailureReason")
    used = _step(sm, again)["Metadata"]["QualityCheck"]
    assert used["BaselineUsedForDriftCheckConstraints"] == meta["CalculatedBaselineConstraints"]
    assert "ViolationReport" not in used


@pytest.mark.slow
@pytest.mark.sdk_flow("flow06", "QualityCheckStep (MODEL_QUALITY) with supplied baselines")
def test_model_quality_check_with_supplied_baselines(server, sdk_env):
    from sagemaker.model_monitor.dataset_format import DatasetFormat
    from sagemaker.workflow.check_job_config import CheckJobConfig
    from sagemaker.workflow.execution_variables import ExecutionVariables
    from sagemaker.workflow.functions import Join
    from sagemaker.workflow.parameters import ParameterBoolean, ParameterString
    from sagemaker.workflow.pipeline import Pipeline
    from sagemaker.workflow.pipeline_context import PipelineSession
    from sagemaker.workflow.quality_check_step import ModelQualityCheckConfig, QualityCheckStep

    sm = server.client("sagemaker")
    s3 = server.client("s3")
    bucket = f"mq-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    rng = np.random.default_rng(5)
    label = rng.integers(0, 2, 80)
    good = pd.DataFrame({"label": label, "prediction": label})
    good.loc[:7, "prediction"] = 1 - good.loc[:7, "label"]  # 90 % right
    bad = pd.DataFrame({"label": label, "prediction": 1 - label})  # always wrong
    s3.put_object(Bucket=bucket, Key="good.csv", Body=good.to_csv(index=False).encode())
    s3.put_object(Bucket=bucket, Key="bad.csv", Body=bad.to_csv(index=False).encode())

    session = PipelineSession(default_bucket=bucket)
    data = ParameterString(name="Data", default_value=f"s3://{bucket}/good.csv")
    statistics = ParameterString(name="Statistics", default_value="")
    constraints = ParameterString(name="Constraints", default_value="")
    skip = ParameterBoolean(name="SkipCheck", default_value=False)
    step = QualityCheckStep(
        name="ModelQuality",
        quality_check_config=ModelQualityCheckConfig(
            baseline_dataset=data,
            dataset_format=DatasetFormat.csv(header=True),
            output_s3_uri=Join(
                on="/", values=[f"s3://{bucket}/mq", ExecutionVariables.PIPELINE_EXECUTION_ID]
            ),
            problem_type="BinaryClassification",
            inference_attribute="prediction",
            ground_truth_attribute="label",
        ),
        check_job_config=CheckJobConfig(
            role=ROLE, instance_count=1, instance_type="ml.m5.xlarge", sagemaker_session=session
        ),
        skip_check=skip,
        register_new_baseline=skip,
        supplied_baseline_statistics=statistics,
        supplied_baseline_constraints=constraints,
    )
    pipeline = Pipeline(
        name=f"mq-{uuid.uuid4().hex[:6]}",
        parameters=[data, statistics, constraints, skip],
        steps=[step],
        sagemaker_session=session,
    )
    pipeline.upsert(role_arn=ROLE)

    first = pipeline.start(parameters={"SkipCheck": True}).arn
    desc = _wait(sm, first)
    meta = _step(sm, first, "ModelQuality")["Metadata"]["QualityCheck"]
    assert desc["PipelineExecutionStatus"] == "Succeeded", desc.get("FailureReason")
    assert meta["CheckType"] == "MODEL_QUALITY"
    stats = json.loads(
        s3.get_object(Bucket=bucket, Key=meta["CalculatedBaselineStatistics"].split("/", 3)[3])["Body"].read()
    )
    assert stats["binary_classification_metrics"]["accuracy"]["value"] == pytest.approx(0.9)

    supplied = {
        "Statistics": meta["CalculatedBaselineStatistics"],
        "Constraints": meta["CalculatedBaselineConstraints"],
    }
    bad_run = pipeline.start(parameters={"Data": f"s3://{bucket}/bad.csv", **supplied}).arn
    assert _wait(sm, bad_run)["PipelineExecutionStatus"] == "Failed"
    step = _step(sm, bad_run, "ModelQuality")
    assert step["FailureReason"].startswith("ClientError: Quality check failed. See violation report in ")
    assert "accuracy" in step["FailureReason"]
    meta = step["Metadata"]["QualityCheck"]
    assert meta["BaselineUsedForDriftCheckStatistics"] == supplied["Statistics"]
    assert meta["BaselineUsedForDriftCheckConstraints"] == supplied["Constraints"]
