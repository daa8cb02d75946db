"""The unchanged SageMaker Python SDK v2 trains through sagestack (script mode)."""

from __future__ import annotations

import json
import textwrap

import pytest

from helpers import ROLE, read_tar_gz

TRAIN = textwrap.dedent("""
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
""")


@pytest.mark.sdk_flow("flow03", "SKLearn(entry_point, source_dir).fit(logs=True)")
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
    estimator = SKLearn(
        entry_point="train.py",
        source_dir=str(src),
        framework_version="1.2-1",
        py_version="py3",
        instance_type="ml.m5.large",
        instance_count=1,
        role=ROLE,
        hyperparameters={"C": 0.5},
        metric_definitions=[{"Name": "train:accuracy", "Regex": "train-accuracy: ([0-9.]+)"}],
    )
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


@pytest.mark.sdk_flow("flow03", "SKLearn(..., enable_network_isolation=True).fit: the code as a channel")
def test_network_isolation_ships_the_code_as_a_channel(server, sdk_env, tmp_path):
    """With network isolation the SDK uploads the source as the input channel ``code`` and sets
    ``sagemaker_submit_directory=/opt/ml/input/data/code/sourcedir.tar.gz`` (the SDK's
    test_training_with_network_isolation)."""
    import numpy as np
    import sagemaker
    from sagemaker.sklearn import SKLearn
    from sklearn.datasets import load_breast_cancer

    from helpers import wait_training

    X, y = load_breast_cancer(return_X_y=True)
    np.savetxt(tmp_path / "train.csv", np.column_stack([y, X]), delimiter=",", fmt="%.6g")
    src = tmp_path / "src"
    src.mkdir()
    (src / "train.py").write_text(TRAIN)
    session = sagemaker.Session()
    train_uri = session.upload_data(str(tmp_path / "train.csv"), key_prefix="isolated/train")
    estimator = SKLearn(
        entry_point="train.py",
        source_dir=str(src),
        framework_version="1.2-1",
        py_version="py3",
        instance_type="ml.m5.large",
        instance_count=1,
        role=ROLE,
        enable_network_isolation=True,
    )
    estimator.fit({"train": train_uri}, wait=False)
    desc = wait_training(server.client("sagemaker"), estimator.latest_training_job.name, 240)
    assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")
    assert desc["EnableNetworkIsolation"] is True
    assert (
        json.loads(desc["HyperParameters"]["sagemaker_submit_directory"])
        == "/opt/ml/input/data/code/sourcedir.tar.gz"
    )
    assert "code" in {channel["ChannelName"] for channel in desc["InputDataConfig"]}
    key = estimator.model_data.split("/", 3)[3]
    files = read_tar_gz(
        server.client("s3").get_object(Bucket=session.default_bucket(), Key=key)["Body"].read()
    )
    assert "model.joblib" in files


TORCH_TRAIN = textwrap.dedent("""
    import argparse, os
    import numpy as np
    import torch

    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--lr", type=float, default=0.1)
    args = parser.parse_args()
    data = np.loadtxt(os.path.join(os.environ["SM_CHANNEL_TRAINING"], "train.csv"), delimiter=",")
    X = torch.tensor(data[:, 1:], dtype=torch.float32)
    y = torch.tensor(data[:, :1], dtype=torch.float32)
    torch.manual_seed(0)
    model = torch.nn.Linear(X.shape[1], 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr)
    for epoch in range(args.epochs):
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(model(X), y)
        loss.backward()
        optimizer.step()
    print(f"final-loss: {loss.item():.6f}", flush=True)
    torch.save(model.state_dict(), os.path.join(os.environ["SM_MODEL_DIR"], "model.pth"))
""")


@pytest.mark.sdk_flow("flow03", "PyTorch(entry_point).fit")
def test_pytorch_estimator_fit(server, sdk_env, tmp_path):
    import numpy as np
    import sagemaker
    from sagemaker.pytorch import PyTorch

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = X @ np.array([1.5, -2.0, 0.5]) + 0.3
    np.savetxt(tmp_path / "train.csv", np.column_stack([y, X]), delimiter=",")
    src = tmp_path / "src"
    src.mkdir()
    (src / "train.py").write_text(TORCH_TRAIN)
    session = sagemaker.Session()
    train_uri = session.upload_data(str(tmp_path / "train.csv"), key_prefix="torch-e2e/train")
    estimator = PyTorch(
        entry_point="train.py",
        source_dir=str(src),
        framework_version="2.1",
        py_version="py310",
        instance_type="ml.m5.large",
        instance_count=1,
        role=ROLE,
        hyperparameters={"epochs": 200, "lr": 0.1},
        metric_definitions=[{"Name": "train:loss", "Regex": "final-loss: ([0-9.]+)"}],
    )
    estimator.fit({"training": train_uri}, wait=False)
    sm = server.client("sagemaker")
    from helpers import wait_training

    desc = wait_training(sm, estimator.latest_training_job.name, 240)
    assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")
    loss = {m["MetricName"]: m["Value"] for m in desc["FinalMetricDataList"]}["train:loss"]
    assert loss < 0.01
    import io

    import torch

    key = estimator.model_data.split("/", 3)[3]
    files = read_tar_gz(
        server.client("s3").get_object(Bucket=session.default_bucket(), Key=key)["Body"].read()
    )
    state = torch.load(io.BytesIO(files["model.pth"]))
    np.testing.assert_allclose(state["weight"].numpy().ravel(), [1.5, -2.0, 0.5], atol=0.05)
