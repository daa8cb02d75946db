"""The serverless warm pool (serving/warm_pool.py): which containers a pooled worker can serve, and the
handoff of an instance to a pooled worker (its listening socket, status pipe and lifeline)."""

from __future__ import annotations

import http.client
import os
import signal
import textwrap
from pathlib import Path

import pytest

from sagestack.serving.handlers import warm_imports
from sagestack.serving.instances import READY, Instance, WorkerSpec
from sagestack.serving.warm_pool import WarmPool
from sagestack.settings import Settings

SKLEARN = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
XGBOOST = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
PYTHON = "236514542706.dkr.ecr.us-east-1.amazonaws.com/sagemaker-base-python-310:1.0"
SCRIPT = {"SAGEMAKER_PROGRAM": "inference.py"}


def container(image: str, environment: dict | None = None, **extra) -> dict:
    return {
        "hostname": "primary",
        "image": image,
        "model_dir": "/nowhere",
        "environment": environment or {},
        **extra,
    }


def test_warm_imports_follow_what_the_worker_would_import():
    sklearn = warm_imports([container(SKLEARN, SCRIPT)])
    assert "sklearn.linear_model" in sklearn and "joblib" in sklearn
    assert warm_imports([container(SKLEARN)]) == sklearn  # the default model_fn: the same imports
    # built-in XGBoost serves boosters without scikit-learn (handlers.load_container): the pool's worker too
    builtin = warm_imports([container(XGBOOST)])
    assert builtin[0] == "-sklearn" and "algorithm:sagemaker-xgboost" in builtin
    assert "-sklearn" not in warm_imports([container(XGBOOST, SCRIPT)])  # a script may use scikit-learn
    assert warm_imports([container(PYTHON, SCRIPT)]) == ("numpy", "sagestack.serving.inference_toolkit")


def test_no_pooled_worker_where_it_would_differ_from_a_new_one():
    assert warm_imports([container(SKLEARN, {**SCRIPT, "OMP_NUM_THREADS": "1"})]) is None  # read at import
    assert warm_imports([container(SKLEARN, multi_model={"max_models": 2})]) is None
    assert warm_imports([container(SKLEARN, command=["/env/python", "tfserving.py"])]) is None
    assert warm_imports([container(SKLEARN, SCRIPT), container(SKLEARN, SCRIPT)]) is None  # pipelines
    pool = WarmPool(0, Path("/nowhere"))
    assert pool.key(WorkerSpec([container(SKLEARN, SCRIPT)])) is None  # SAGESTACK_SERVERLESS_WARM_POOL=0


def test_the_setting():
    assert Settings.from_env({}).serverless_warm_pool == 1
    assert Settings.from_env({"SAGESTACK_SERVERLESS_WARM_POOL": "0"}).serverless_warm_pool == 0


@pytest.fixture
def script_spec(tmp_path) -> WorkerSpec:
    model = tmp_path / "model"
    (model / "code").mkdir(parents=True)
    (model / "code" / "inference.py").write_text(
        textwrap.dedent(
            """
            import os

            def model_fn(model_dir):
                return "model"

            def transform_fn(model, body, content_type, accept):
                return f"{model}:{os.environ.get('GREETING')}:{body.decode()}", "text/plain"
            """
        )
    )
    spec = container(PYTHON, {**SCRIPT, "GREETING": "hi"}, model_dir=str(model))
    return WorkerSpec([spec], labels={"endpoint": "pool-unit", "variant": "AllTraffic"})


def invoke(instance: Instance, body: bytes) -> bytes:
    connection = http.client.HTTPConnection(instance.host, instance.port, timeout=30)
    connection.request("POST", "/invocations", body, {"Content-Type": "text/csv"})
    return connection.getresponse().read()


@pytest.mark.slow
def test_an_instance_is_handed_to_a_pooled_worker(tmp_path, script_spec):
    pool = WarmPool(1, tmp_path / "work")
    try:
        pool.want(script_spec)
        warm = pool.take(script_spec)
        assert warm is not None and pool.take(script_spec) is None  # one per runtime, refilled later
        instance = Instance(script_spec, tmp_path / "work").start(warm)
        try:
            assert instance.wait(60), instance.failure
            assert instance.warm_started and instance.process.pid == warm.process.pid
            assert invoke(instance, b"1,2") == b"model:hi:1,2"  # the container's environment applies
            # once handed over it shows as the instance's worker
            cmdline = Path(f"/proc/{warm.process.pid}/cmdline").read_bytes().split(b"\0")
            assert cmdline[cmdline.index(b"--instance") + 1] == instance.id.encode()
            assert cmdline[cmdline.index(b"--endpoint") + 1] == b"pool-unit"
        finally:
            instance.stop()
        assert warm.process.poll() is not None
        pool.refill_at.clear()
        pool.step({pool.key(script_spec)})  # topped up
        assert pool.describe()["runtimes"][0]["workers"] == 1
    finally:
        pool.shutdown()
    assert pool.describe()["runtimes"] == []


@pytest.mark.slow
def test_a_dead_pooled_worker_falls_back_to_a_new_process(tmp_path, script_spec):
    pool = WarmPool(1, tmp_path / "work")
    try:
        pool.want(script_spec)
        warm = pool.take(script_spec)
        os.kill(warm.process.pid, signal.SIGKILL)
        warm.process.wait()
        instance = Instance(script_spec, tmp_path / "work").start(warm)
        try:
            assert instance.wait(60), instance.failure
            assert instance.state == READY and not instance.warm_started
            assert invoke(instance, b"3") == b"model:hi:3"
        finally:
            instance.stop()
        pool.refill_at.clear()
        pool.step(set())  # just wanted: kept a moment (an endpoint's own pool is listed a moment later)
        assert pool.describe()["runtimes"][0]["workers"] == 1
        pool.wanted_at = dict.fromkeys(pool.wanted_at, 0.0)
        pool.step(set())  # no serverless endpoint of that runtime any more: the pool empties
        assert pool.describe()["runtimes"] == []
    finally:
        pool.shutdown()
