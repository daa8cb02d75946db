"""ModelTrainer runs the built-in XGBoost algorithm image on an S3 InputData channel, with checkpoints to
S3 and train(wait=True, logs=True), under another account's role."""

import uuid
from pathlib import Path

import boto3
from sagemaker.core.helper.session_helper import Session
from sagemaker.core.resources import TrainingJob
from sagemaker.train import ModelTrainer
from sagemaker.train.configs import CheckpointConfig, Compute, InputData, StoppingCondition

from common import ROLE, XGBOOST_IMAGE, result, show_logs, write_csv

show_logs()
bucket = Session().default_bucket()
prefix = f"v3-xgb-{uuid.uuid4().hex[:8]}"
s3 = boto3.client("s3")
s3.upload_file(str(write_csv(Path("train.csv"))), bucket, f"{prefix}/train/train.csv")
s3.upload_file(str(write_csv(Path("validation.csv"), rows=20, seed=1)), bucket, f"{prefix}/validation/v.csv")

trainer = ModelTrainer(
    training_image=XGBOOST_IMAGE,
    role=ROLE,
    compute=Compute(instance_type="ml.m5.large", instance_count=1, volume_size_in_gb=1),
    hyperparameters={"objective": "binary:logistic", "num_round": 4, "max_depth": 2},
    base_job_name="v3-xgboost",
    checkpoint_config=CheckpointConfig(s3_uri=f"s3://{bucket}/{prefix}/checkpoints"),
    stopping_condition=StoppingCondition(max_runtime_in_seconds=600),
)
trainer.train(
    input_data_config=[
        InputData(
            channel_name=channel, data_source=f"s3://{bucket}/{prefix}/{channel}/", content_type="text/csv"
        )
        for channel in ("train", "validation")
    ],
    wait=True,
    logs=True,
)
job = TrainingJob.get(trainer._latest_training_job.training_job_name)
listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/checkpoints/").get("Contents", [])
result(
    status=job.training_job_status,
    role=job.role_arn,
    image=job.algorithm_specification.training_image,
    checkpoint_uri=job.checkpoint_config.s3_uri,
    checkpoints=sorted(o["Key"].rsplit("/", 1)[1] for o in listed),
    artifacts=job.model_artifacts.s3_model_artifacts,
    metrics=[m.metric_name for m in (job.final_metric_data_list or [])],
)
