"""A trained built-in XGBoost model shared by the batch transform tests."""

from __future__ import annotations

import io
import uuid

import numpy as np
import pytest

from helpers import ROLE, wait_training

XGB_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"


@pytest.fixture(scope="session")
def xgb_model(server):
    """(bucket, model name, local xgboost Booster, feature count) for a small binary classifier."""
    import xgboost
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=600, n_features=20, random_state=0)
    s3 = server.client("s3")
    sm = server.client("sagemaker")
    bucket = f"transform-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    buffer = io.StringIO()
    np.savetxt(buffer, np.column_stack([y, X]), delimiter=",", fmt="%.6f")
    s3.put_object(Bucket=bucket, Key="train/train.csv", Body=buffer.getvalue().encode())
    job = f"xgb-{uuid.uuid4().hex[:8]}"
    sm.create_training_job(
        TrainingJobName=job,
        RoleArn=ROLE,
        AlgorithmSpecification={"TrainingImage": XGB_IMAGE, "TrainingInputMode": "File"},
        InputDataConfig=[
            {
                "ChannelName": "train",
                "ContentType": "text/csv",
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/train/"}},
            }
        ],
        OutputDataConfig={"S3OutputPath": f"s3://{bucket}/output"},
        ResourceConfig={"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 10},
        StoppingCondition={"MaxRuntimeInSeconds": 600},
        HyperParameters={"objective": "binary:logistic", "num_round": "20", "max_depth": "3"},
    )
    desc = wait_training(sm, job, 180)
    assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")
    model_name = f"m-{job}"
    sm.create_model(
        ModelName=model_name,
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": XGB_IMAGE, "ModelDataUrl": desc["ModelArtifacts"]["S3ModelArtifacts"]},
    )
    import tarfile

    blob = s3.get_object(Bucket=bucket, Key=f"output/{job}/output/model.tar.gz")["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
        raw = tar.extractfile("xgboost-model").read()
    booster = xgboost.Booster()
    booster.load_model(bytearray(raw))
    return bucket, model_name, booster, X.shape[1]
