"""Benchmark models, the same everywhere (perf-anchors.md): XGBoost, 100 trees, depth 6, 20 features."""

from __future__ import annotations

import io
import tarfile
import tempfile
from pathlib import Path

import numpy as np

XGB_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
ROLE = "arn:aws:iam::000000000000:role/SageStackExecutionRole"


def train_anchor_booster(rows: int = 20_000, features: int = 20, seed: int = 0):
    import xgboost as xgb

    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, features)).astype(np.float32)
    y = (X[:, :5].sum(axis=1) + rng.normal(size=rows) > 0).astype(np.float32)
    return xgb.train(
        {"objective": "binary:logistic", "max_depth": 6, "tree_method": "hist", "seed": seed},
        xgb.DMatrix(X, label=y),
        num_boost_round=100,
    )


def model_tarball(booster) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "xgboost-model"
        booster.save_model(str(path) + ".json")
        Path(str(path) + ".json").rename(path)
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            tar.add(path, arcname="xgboost-model")
        return buffer.getvalue()


def create_xgb_model(server, booster, bucket: str, name: str) -> str:
    s3 = server.client("s3")
    s3.put_object(Bucket=bucket, Key=f"models/{name}/model.tar.gz", Body=model_tarball(booster))
    server.client("sagemaker").create_model(
        ModelName=name,
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": XGB_IMAGE, "ModelDataUrl": f"s3://{bucket}/models/{name}/model.tar.gz"},
    )
    return name
