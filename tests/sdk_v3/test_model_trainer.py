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
    assert "Installing requirements" in log
    assert "model.pkl" in out["members"]
    low, high = out["probabilities"]
    assert 0 <= low < 0.5 < high <= 1
