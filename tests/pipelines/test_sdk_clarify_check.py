"""A SageMaker SDK pipeline with a ClarifyCheckStep (DATA_BIAS): the Clarify image computes the
pre-training bias metrics as a processing job; a first execution registers its analysis as the baseline
(SkipCheck, RegisterNewBaseline), a second checks more biased data against the supplied baseline and
fails the step with Clarify's violation report (FailOnViolation)."""

from __future__ import annotations

import json
import uuid

import numpy as np
import pandas as pd
import pytest

from helpers import ROLE, pipeline_steps, wait_pipeline_execution

pytest.importorskip("sagemaker")


def _frame(bias: float, rows: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    gender = rng.integers(0, 2, rows)
    x = rng.normal(0, 1, rows).round(4)
    # positive outcomes favour gender 1 by `bias`
    label = (rng.random(rows) < 0.5 + bias * (gender - 0.5)).astype(int)
    return pd.DataFrame({"label": label, "gender": gender, "x": x})


def _step(sm, arn: str) -> dict:
    return pipeline_steps(sm, arn)["DataBias"]


@pytest.mark.slow
@pytest.mark.sdk_flow("flow06", "ClarifyCheckStep (DATA_BIAS): register a baseline, then a bias drift check")
def test_clarify_check_registers_a_baseline_then_flags_more_bias(server, sdk_env):
    from sagemaker.clarify import BiasConfig, DataConfig
    from sagemaker.workflow.check_job_config import CheckJobConfig
    from sagemaker.workflow.clarify_check_step import ClarifyCheckStep, DataBiasCheckConfig
    from sagemaker.workflow.execution_variables import ExecutionVariables
    from sagemaker.workflow.functions import Join
    from sagemaker.workflow.parameters import ParameterBoolean, ParameterString
    from sagemaker.workflow.pipeline import Pipeline
    from sagemaker.workflow.pipeline_context import PipelineSession

    sm, s3 = server.client("sagemaker"), server.client("s3")
    bucket = f"cc-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="data/base.csv", Body=_frame(0.1).to_csv(index=False).encode())
    s3.put_object(Bucket=bucket, Key="data/biased.csv", Body=_frame(0.9).to_csv(index=False).encode())

    session = PipelineSession(default_bucket=bucket)
    data = ParameterString(name="Data", default_value=f"s3://{bucket}/data/base.csv")
    baseline = ParameterString(name="Baseline", default_value="")
    skip = ParameterBoolean(name="SkipCheck", default_value=False)
    register = ParameterBoolean(name="RegisterNewBaseline", default_value=False)
    output = Join(on="/", values=[f"s3://{bucket}/bias", ExecutionVariables.PIPELINE_EXECUTION_ID])
    step = ClarifyCheckStep(
        name="DataBias",
        clarify_check_config=DataBiasCheckConfig(
            data_config=DataConfig(
                s3_data_input_path=data,
                s3_output_path=output,
                s3_analysis_config_output_path=f"s3://{bucket}/analysis-config",
                label="label",
                headers=["label", "gender", "x"],
                dataset_type="text/csv",
            ),
            data_bias_config=BiasConfig(
                label_values_or_threshold=[1], facet_name="gender", facet_values_or_threshold=[0]
            ),
            methods=["CI", "DPL"],
        ),
        check_job_config=CheckJobConfig(
            role=ROLE, instance_count=1, instance_type="ml.m5.xlarge", sagemaker_session=session
        ),
        skip_check=skip,
        register_new_baseline=register,
        supplied_baseline_constraints=baseline,
    )
    pipeline = Pipeline(
        name=f"cc-{uuid.uuid4().hex[:6]}",
        parameters=[data, baseline, skip, register],
        steps=[step],
        sagemaker_session=session,
    )
    assert json.loads(pipeline.definition())["Steps"][0]["Type"] == "ClarifyCheck"
    pipeline.upsert(role_arn=ROLE)

    # first run: Clarify computes the bias metrics, registered as the new baseline
    arn = pipeline.start(parameters={"SkipCheck": True, "RegisterNewBaseline": True}).arn
    desc = wait_pipeline_execution(sm, arn)
    step_record = _step(sm, arn)
    assert desc["PipelineExecutionStatus"] == "Succeeded", step_record.get("FailureReason")
    meta = step_record["Metadata"]["ClarifyCheck"]
    job = sm.describe_processing_job(ProcessingJobName=meta["CheckJobArn"].rsplit("/", 1)[-1])
    assert job["ProcessingJobStatus"] == "Completed"
    assert "clarify" in job["AppSpecification"]["ImageUri"]
    constraints = meta["CalculatedBaselineConstraints"]
    assert (
        constraints.endswith("/analysis.json") and meta["BaselineUsedForDriftCheckConstraints"] == constraints
    )
    analysis = json.loads(s3.get_object(Bucket=bucket, Key=constraints.split("/", 3)[3])["Body"].read())
    metrics = {
        m["name"]: m["value"] for m in analysis["pre_training_bias_metrics"]["facets"]["gender"][0]["metrics"]
    }
    assert set(metrics) == {"CI", "DPL"}

    # more biased data checked against that baseline: the larger |DPL| is a violation that fails the step
    arn = pipeline.start(parameters={"Data": f"s3://{bucket}/data/biased.csv", "Baseline": constraints}).arn
    desc = wait_pipeline_execution(sm, arn)
    step_record = _step(sm, arn)
    assert desc["PipelineExecutionStatus"] == "Failed"
    meta = step_record["Metadata"]["ClarifyCheck"]
    assert "ViolationReport" in meta, step_record
    assert meta["BaselineUsedForDriftCheckConstraints"] == constraints
    report = meta["ViolationReport"]
    assert step_record["FailureReason"].startswith(
        f"ClientError: Clarify check failed. See violation report in {report}"
    )
    violations = json.loads(s3.get_object(Bucket=bucket, Key=report.split("/", 3)[3])["Body"].read())[
        "violations"
    ]
    assert any(v["metric_name"] == "DPL" for v in violations), violations
