"""NotebookJobStep compiles to a Training step running the SageMaker Distribution image's
amazon_sagemaker_scheduler entry point (papermill); sagestack cannot run that image, so the step fails
at once with that precise reason and no training job is created."""

from __future__ import annotations

import json
import uuid

import pytest

from helpers import ROLE, wait_for

pytest.importorskip("sagemaker")

IMAGE = "885854791233.dkr.ecr.us-east-1.amazonaws.com/sagemaker-distribution-prod:1-cpu"


def test_notebook_job_step_fails_naming_what_is_missing(server, sdk_env, tmp_path):
    from sagemaker.workflow.notebook_job_step import NotebookJobStep
    from sagemaker.workflow.pipeline import Pipeline
    from sagemaker.workflow.pipeline_context import PipelineSession

    sm = server.client("sagemaker")
    bucket = f"nb-{uuid.uuid4().hex[:8]}"
    server.client("s3").create_bucket(Bucket=bucket)
    notebook = tmp_path / "report.ipynb"
    notebook.write_text(
        json.dumps(
            {
                "cells": [{"cell_type": "code", "source": ["print(1)"], "metadata": {}, "outputs": []}],
                "metadata": {},
                "nbformat": 4,
                "nbformat_minor": 5,
            }
        )
    )
    session = PipelineSession(default_bucket=bucket)
    step = NotebookJobStep(
        name="Report",
        input_notebook=str(notebook),
        image_uri=IMAGE,
        kernel_name="python3",
        role=ROLE,
        s3_root_uri=f"s3://{bucket}/notebooks",
    )
    pipeline = Pipeline(name=f"nb-{uuid.uuid4().hex[:6]}", steps=[step], sagemaker_session=session)
    definition = json.loads(pipeline.definition())
    assert definition["Steps"][0]["Type"] == "Training"
    pipeline.upsert(role_arn=ROLE)
    arn = pipeline.start().arn

    def done():
        desc = sm.describe_pipeline_execution(PipelineExecutionArn=arn)
        return desc if desc["PipelineExecutionStatus"] != "Executing" else None

    assert wait_for(done, 30, 0.3, "the execution")["PipelineExecutionStatus"] == "Failed"
    steps = sm.list_pipeline_execution_steps(PipelineExecutionArn=arn)["PipelineExecutionSteps"]
    assert steps[0]["StepStatus"] == "Failed" and steps[0]["Metadata"] == {}
    reason = steps[0]["FailureReason"]
    assert reason.startswith("ClientError: NotebookJobStep is not supported by this sagestack")
    assert IMAGE in reason and "papermill" in reason
    jobs = sm.list_training_jobs(NameContains=arn.rsplit("/", 1)[-1])["TrainingJobSummaries"]
    assert jobs == []
