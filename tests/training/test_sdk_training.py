"""The unchanged SageMaker Python SDK v2 trains through sagestack (script mode)."""

from __future__ import annotations

import json
import textwrap

import pytest

from helpers import ROLE, read_tar_gz

TRAIN = textwrap.dedent('''
    import argparse, json, os
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    import joblib

    parser = argparse.ArgumentParser()
    parser.add_argument("--C", type=float, default=1.0)
    parser.add_argument("--model-dir", default=os.environ.get("SM_MODEL_DIR"))
    parser.add_argument("--train", default=os.environ.get("SM_CHANNEL_TRAIN"))
    args = parser.parse_args()
    data = np.loadtxt(os.path.join(args.train, "train.csv"), delimiter=",")
    X, y = data[:, 1:], data[:, 0]
    model = LogisticRegression(C=args.C, max_iter=500).fit(X, y)
    print(f"train-accuracy: {model.score(X, y):.4f}", flush=True)
    joblib.dump(model, os.path.join(args.model_dir, "model.joblib"))
''')


def test_sklearn_estimator_fit(server, sdk_env, tmp_path, capsys):
    import numpy as np
    import sagemaker
    from sagemaker.sklearn import SKLearn
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True)
    np.savetxt(tmp_path / "train.csv", np.column_stack([y, X]), delimiter=",", fmt="%.6g")
    src = tmp_path / "src"
    src.mkdir()
    (src / "train.py").write_text(TRAIN)
    session = sagemaker.Session()
    bucket = session.default_bucket()
    assert bucket == "sagemaker-us-east-1-000000000000"
    train_uri = session.upload_data(str(tmp_path / "train.csv"), key_prefix="sklearn-e2e/train")
    estimator = SKLearn(entry_point="train.py", source_dir=str(src), framework_version="1.2-1",
                        py_version="py3", instance_type="ml.m5.large", instance_count=1, role=ROLE,
                        hyperparameters={"C": 0.5},
                        metric_definitions=[{"Name": "train:accuracy", "Regex": "train-accuracy: ([0-9.]+)"}])
    estimator.fit({"train": train_uri}, wait=True, logs=True)
    out = capsys.readouterr().out
    assert "train-accuracy:" in out  # the job's log streamed through the SDK
    desc = estimator.latest_training_job.describe()
    assert desc["TrainingJobStatus"] == "Completed"
    metric = {m["MetricName"]: m["Value"] for m in desc["FinalMetricDataList"]}
    assert metric["train:accuracy"] > 0.9
    s3 = server.client("s3")
    key = estimator.model_data.split("/", 3)[3]
    files = read_tar_gz(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    assert "model.joblib" in files
