"""SDK v3's ModelTrainer, unchanged, with another account's role (arn:aws:iam::111122223333:role/...)."""

from __future__ import annotations

import pytest

from v3_support import ROLE

pytestmark = [pytest.mark.slow, pytest.mark.sdk_flow("flow12", "SDK v3 ModelTrainer (own venv)")]


def test_source_code_trains_a_sklearn_script_and_the_model_deploys(run_v3):
    out, log = run_v3("train_sklearn.py")
    assert out["status"] == "Completed" and out["role"] == ROLE
    assert out["hyperparameters"]["C"] == "0.5"
    # the SDK's own driver scripts ran as the ContainerEntrypoint, from its sm_drivers channel
    assert out["entrypoint"][0] == "/bin/bash" and set(out["channels"]) >= {"code", "sm_drivers", "train"}
    assert "C=0.5 train accuracy:" in log  # train(logs=True) streamed the job's log
    # the drivers' `python` is the image tag's framework environment (scikit-learn 1.2-1 → 1.2.x)
    assert "trained on scikit-learn 1.2." in log and "framework environment scikit-learn 1.2" in log
    assert "Installing requirements" in log
    assert "model.npz" in out["members"]
    low, high = out["probabilities"]
    assert 0 <= low < 0.5 < high <= 1


def test_builtin_xgboost_with_s3_input_and_checkpoints(run_v3):
    out, log = run_v3("train_xgboost.py")
    assert out["status"] == "Completed" and out["role"] == ROLE
    assert out["image"].endswith("/sagemaker-xgboost:1.7-1")
    assert out["checkpoints"] == [f"xgboost-checkpoint.{i}" for i in range(4)]
    assert out["artifacts"].endswith("/output/model.tar.gz")
    assert "train-logloss" in log and "[3]" in log  # the algorithm's log, streamed by train(logs=True)
    assert out["metrics"] == ["validation:logloss"]  # the algorithm's metric definitions


def test_two_instances_with_the_torchrun_driver(run_v3):
    out, log = run_v3("train_torchrun.py")
    assert out == {"status": "Completed", "instances": 2}
    assert "Running Torchrun Driver" in log
    assert "rank 0 of 2 on algo-1: sum 3.0" in log and "rank 1 of 2 on algo-2: sum 3.0" in log


@pytest.mark.sdk_flow("flow06", "SDK v3 Pipeline (sagemaker.mlops.workflow) with a ModelTrainer step")
def test_v3_pipeline_with_a_model_trainer_step(run_v3):
    out, log = run_v3("pipeline_v3.py")
    assert out["5"]["status"] == "Succeeded", out
    assert out["5"]["steps"] == {"enough-rounds": "Succeeded", "train": "Succeeded"}
    assert out["1"]["status"] == "Failed"
    assert out["1"]["steps"] == {"enough-rounds": "Succeeded", "too-few": "Failed"}
    assert out["1"]["fail_messages"] == ["Rounds must be at least 3"]
