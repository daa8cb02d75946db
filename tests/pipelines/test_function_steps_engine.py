"""``@step`` function steps run by the pipeline engine: the SDK's definition (Training steps with the
remote-function runtime, ``Get``/``Std:Join`` in their arguments, data dependencies between functions and a
ConditionStep on a function's return value) is upserted, started and run unchanged, and the SDK reads each
step's result back with ``execution.result(step_name=...)``."""

from __future__ import annotations

import uuid

import pytest

from helpers import ROLE, wait_for

pytestmark = [pytest.mark.slow]


@pytest.mark.sdk_flow("remote-function", "@step functions in a pipeline run by the engine, results read back")
def test_function_steps_pass_values_through_the_engine(server, sdk_env):
    from sagemaker.workflow.condition_step import ConditionStep
    from sagemaker.workflow.conditions import ConditionGreaterThan
    from sagemaker.workflow.fail_step import FailStep
    from sagemaker.workflow.function_step import step
    from sagemaker.workflow.pipeline import Pipeline

    @step(name="generate", instance_type="ml.m5.large", role=ROLE, keep_alive_period_in_seconds=0)
    def generate():
        return [1, 2, 3]

    @step(name="combine", instance_type="ml.m5.large", role=ROLE)
    def combine(values, offset):
        return sum(values) + offset

    total = combine(generate(), 10)
    # A condition on a function's return value: JsonGet on the step's results.json.
    check = ConditionStep(
        name="big-enough",
        conditions=[ConditionGreaterThan(left=total, right=5)],
        if_steps=[],
        else_steps=[FailStep(name="too-small", error_message="the total is too small")],
    )
    name = f"fn-steps-{uuid.uuid4().hex[:6]}"
    pipeline = Pipeline(name=name, steps=[check])
    pipeline.upsert(role_arn=ROLE)
    execution = pipeline.start()
    sm = server.client("sagemaker")

    def done():
        desc = sm.describe_pipeline_execution(PipelineExecutionArn=execution.arn)
        return desc if desc["PipelineExecutionStatus"] in ("Succeeded", "Failed", "Stopped") else None

    desc = wait_for(done, 400, 0.5, f"pipeline execution {execution.arn}")
    steps = {
        s["StepName"]: s
        for s in sm.list_pipeline_execution_steps(PipelineExecutionArn=execution.arn)[
            "PipelineExecutionSteps"
        ]
    }
    assert desc["PipelineExecutionStatus"] == "Succeeded", (desc.get("FailureReason"), steps)
    assert steps["generate"]["StepStatus"] == steps["combine"]["StepStatus"] == "Succeeded"
    assert steps["big-enough"]["Metadata"]["Condition"]["Outcome"] == "True"
    assert "too-small" not in steps
    job = sm.describe_training_job(
        TrainingJobName=steps["combine"]["Metadata"]["TrainingJob"]["Arn"].split("/")[-1]
    )
    assert job["TrainingJobStatus"] == "Completed"
    assert execution.result(step_name="generate") == [1, 2, 3]
    assert execution.result(step_name="combine") == 16
