"""sagemaker-core (SDK v3's resource classes): every response parses under their strict pydantic shapes;
create/get/get_all/refresh/wait/invoke/delete on the resources sagestack serves."""

from __future__ import annotations

import json

import pytest

from sagestack.services.registry import load_tables
from v3_support import ROLE

pytestmark = [pytest.mark.slow, pytest.mark.sdk_flow("flow12", "sagemaker-core resources (SDK v3 venv)")]


def test_resource_classes_create_get_list_wait_invoke_delete(run_v3, tmp_path):
    operations = tmp_path / "operations.json"
    operations.write_text(json.dumps(sorted(load_tables()["sagemaker"])))
    out, _ = run_v3("core_resources.py", str(operations))
    suffix = out["suffix"]

    training = out["training"]
    assert training["status"] == "Completed" and training["role"] == ROLE and training["got"]
    assert training["listed"] == [f"core-train-{suffix}"] and training["tags"] == {"suite": "sdk-v3"}

    hosting = out["hosting"]
    assert hosting["model_role"] == ROLE and hosting["config_variants"] == ["AllTraffic"]
    assert hosting["endpoint_status"] == "InService"
    low, high = hosting["predictions"]
    assert 0 < low < high < 1
    assert hosting["listed"] == [
        [f"core-endpoint-{suffix}"],
        [f"core-config-{suffix}"],
        [f"core-model-{suffix}"],
    ]

    assert out["transform"] == {"status": "Completed", "rows": 2, "listed": [f"core-transform-{suffix}"]}
    processing = out["processing"]
    assert processing["status"] == "Completed" and processing["role"] == ROLE
    assert processing["output"] == "processed" and processing["listed"] == [f"core-processing-{suffix}"]
    tuning = out["tuning"]
    assert tuning["status"] == "Completed" and tuning["best"] and tuning["listed"] == [f"core-tune-{suffix}"]
    assert out["registry"] == {"package_status": "Approved", "packages": True, "group": "Completed"}

    get_all = out["get_all"]
    assert get_all["failures"] == {}
    for name in (
        "TrainingJob",
        "Model",
        "EndpointConfig",
        "Endpoint",
        "TransformJob",
        "ProcessingJob",
        "HyperParameterTuningJob",
        "ModelPackageGroup",
        "Experiment",
        "Trial",
        "TrialComponent",
    ):
        assert get_all["listed"].get(name, 0) >= 1, (name, get_all["listed"])
    assert out["deleted"] == [[], [], []]
