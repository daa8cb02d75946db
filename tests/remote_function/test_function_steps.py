"""``@step`` function steps compile to Training steps that run the same remote-function runtime: here each
step's CreateTrainingJob arguments come from the SDK's own pipeline definition, with its expressions
resolved the way the pipeline engine resolves them, and the second step reads the first one's result."""

from __future__ import annotations

import json

import pytest

from helpers import ROLE, wait_training

pytestmark = [pytest.mark.slow]


def _resolve(value, context: dict):
    """The definition's expressions used by function steps: ``Get`` and ``Std:Join``."""
    if isinstance(value, dict):
        if set(value) == {"Get"}:
            return context[value["Get"]]
        if set(value) == {"Std:Join"}:
            join = value["Std:Join"]
            return join["On"].join(str(_resolve(v, context)) for v in join["Values"])
        return {k: _resolve(v, context) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, context) for v in value]
    return value


@pytest.mark.sdk_flow("remote-function", "@step functions from Pipeline.definition() run as training jobs")
def test_function_steps_run_and_pass_values(sdk_env):
    import boto3
    import sagemaker
    from sagemaker.remote_function.core import serialization
    from sagemaker.workflow.function_step import step
    from sagemaker.workflow.pipeline import Pipeline

    @step(name="generate", instance_type="ml.m5.large", role=ROLE)
    def generate():
        return [1, 2, 3]

    @step(name="combine", instance_type="ml.m5.large", role=ROLE)
    def combine(values, offset):
        return sum(values) + offset

    pipeline = Pipeline(name="rf-steps", steps=[combine(generate(), 10)])
    definition = json.loads(pipeline.definition())
    steps = {s["Name"]: s for s in definition["Steps"]}
    assert {s["Type"] for s in steps.values()} == {"Training"}
    assert steps["combine"]["DependsOn"] == ["generate"]

    sm = boto3.client("sagemaker", endpoint_url=sdk_env["AWS_ENDPOINT_URL"])
    context = {"Execution.PipelineExecutionId": "exec0001", "Execution.PipelineName": "rf-steps"}
    for name in ("generate", "combine"):
        arguments = _resolve(steps[name]["Arguments"], context)
        job = f"rf-step-{name}"
        sm.create_training_job(TrainingJobName=job, **arguments)
        desc = wait_training(sm, job, timeout=180)
        assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")
        context[f"Steps.{name}.OutputDataConfig.S3OutputPath"] = desc["OutputDataConfig"]["S3OutputPath"]
        context[f"Steps.{name}.TrainingJobName"] = job

    results = context["Steps.combine.OutputDataConfig.S3OutputPath"]
    assert results == "s3://sagemaker-us-east-1-000000000000/rf-steps/exec0001/combine/results"
    value = serialization.deserialize_obj_from_s3(sagemaker_session=sagemaker.Session(), s3_uri=results)
    assert value == 16
