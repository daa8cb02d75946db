"""SDK v3's pipelines (sagemaker.mlops.workflow), unchanged: a ModelTrainer TrainingStep (built-in XGBoost,
step_args from a PipelineSession), a ConditionStep on a pipeline parameter and a FailStep; upsert, start
with the parameter overridden, wait, list the steps."""

import uuid
from pathlib import Path

import boto3
from sagemaker.core.helper.session_helper import Session
from sagemaker.core.workflow.conditions import ConditionGreaterThanOrEqualTo
from sagemaker.core.workflow.parameters import ParameterInteger
from sagemaker.core.workflow.pipeline_context import PipelineSession
from sagemaker.mlops.workflow.condition_step import ConditionStep
from sagemaker.mlops.workflow.fail_step import FailStep
from sagemaker.mlops.workflow.pipeline import Pipeline
from sagemaker.mlops.workflow.steps import TrainingStep
from sagemaker.train import ModelTrainer
from sagemaker.train.configs import Compute, InputData

from common import ROLE, XGBOOST_IMAGE, result, show_logs, write_csv

show_logs()
bucket = Session().default_bucket()
prefix = f"v3-pipe-{uuid.uuid4().hex[:8]}"
boto3.client("s3").upload_file(str(write_csv(Path("train.csv"))), bucket, f"{prefix}/train/train.csv")

session = PipelineSession()
rounds = ParameterInteger(name="Rounds", default_value=2)
trainer = ModelTrainer(
    training_image=XGBOOST_IMAGE,
    role=ROLE,
    compute=Compute(instance_type="ml.m5.large", instance_count=1, volume_size_in_gb=1),
    hyperparameters={"objective": "binary:logistic", "num_round": 3, "max_depth": 2},
    base_job_name="v3-pipe",
    sagemaker_session=session,
)
train = TrainingStep(
    name="train",
    step_args=trainer.train(
        input_data_config=[
            InputData(
                channel_name="train", data_source=f"s3://{bucket}/{prefix}/train/", content_type="text/csv"
            )
        ]
    ),
)
check = ConditionStep(
    name="enough-rounds",
    conditions=[ConditionGreaterThanOrEqualTo(left=rounds, right=3)],
    if_steps=[train],
    else_steps=[FailStep(name="too-few", error_message="Rounds must be at least 3")],
)
pipeline = Pipeline(name=prefix, parameters=[rounds], steps=[check], sagemaker_session=session)
pipeline.upsert(role_arn=ROLE)

outcomes = {}
for value in (5, 1):
    execution = pipeline.start(parameters={"Rounds": value})
    try:
        execution.wait(delay=1, max_attempts=300)
    except Exception as exc:  # the failing branch: the waiter raises on Failed
        outcomes.setdefault("errors", []).append(type(exc).__name__)
    desc = execution.describe()
    listed = execution.list_steps()
    steps = {s["StepName"]: s["StepStatus"] for s in listed}
    messages = [s["Metadata"]["Fail"]["ErrorMessage"] for s in listed if "Fail" in s.get("Metadata", {})]
    outcomes[str(value)] = {
        "status": desc["PipelineExecutionStatus"],
        "steps": steps,
        "reason": desc.get("FailureReason", ""),
        "fail_messages": messages,
    }
result(**outcomes)
