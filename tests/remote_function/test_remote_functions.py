"""The SageMaker SDK's remote functions (``@remote``, ``RemoteExecutor``) run as real training jobs: the SDK's
own bootstrap (job_driver.sh, bootstrap_runtime_environment.py, invoke_function) runs as a local process
with a virtual environment layered on the server's, and results and exceptions come back through S3."""

from __future__ import annotations

import base64
import hashlib
import os
import sys
import traceback
import zipfile
from pathlib import Path

import pytest

from helpers import ROLE

pytestmark = [
    pytest.mark.slow,
    pytest.mark.sdk_flow(
        "remote-function",
        "@remote and RemoteExecutor as training jobs: values, exceptions, map, dependencies, checkpoints, runs",
    ),
]

INSTANCE = "ml.m5.large"


def _sagemaker_client(env):
    import boto3

    return boto3.client("sagemaker", endpoint_url=env["AWS_ENDPOINT_URL"])


def _s3_client(env):
    import boto3

    return boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"])


def _jobs(env, prefix: str) -> list[str]:
    names = [
        j["TrainingJobName"]
        for j in _sagemaker_client(env).list_training_jobs(NameContains=prefix, MaxResults=100)[
            "TrainingJobSummaries"
        ]
    ]
    return sorted(names)


def test_remote_function_returns_a_value(fast_sdk_wait, capsys):
    from sagemaker.remote_function import remote

    # keep_alive_period_in_seconds (a warm pool) is accepted and recorded; nothing is kept warm here.
    @remote(
        instance_type=INSTANCE, role=ROLE, job_name_prefix="rf-describe", keep_alive_period_in_seconds=120
    )
    def describe_frame(n: int, scale: float):
        import numpy as np
        import pandas as pd

        frame = pd.DataFrame({"x": np.arange(n, dtype=float) * scale})
        print(f"remote side: {len(frame)} rows, pid {os.getpid()}", flush=True)
        return {"sum": float(frame["x"].sum()), "mean": float(frame["x"].mean()), "pid": os.getpid()}

    result = describe_frame(10, 2.0)
    assert result["sum"] == 90.0 and result["mean"] == 9.0
    assert result["pid"] != os.getpid()  # it really ran elsewhere
    out = capsys.readouterr().out
    assert "remote side: 10 rows" in out  # the job's log, streamed from CloudWatch Logs by the SDK

    (name,) = _jobs(fast_sdk_wait, "rf-describe")
    desc = _sagemaker_client(fast_sdk_wait).describe_training_job(TrainingJobName=name)
    assert desc["TrainingJobStatus"] == "Completed"
    assert desc["ResourceConfig"]["KeepAlivePeriodInSeconds"] == 120
    spec = desc["AlgorithmSpecification"]
    assert spec["TrainingImage"] == fast_sdk_wait["SAGEMAKER_INTERNAL_IMAGE_URI"]
    assert spec["ContainerEntrypoint"] == [
        "/bin/bash",
        "/opt/ml/input/data/sagemaker_remote_function_bootstrap/job_driver.sh",
    ]
    assert "--s3_base_uri" in spec["ContainerArguments"]
    channels = [c["ChannelName"] for c in desc["InputDataConfig"]]
    assert channels == ["sagemaker_remote_function_bootstrap", "sm_rf_user_ws"]
    # The SDK's layout under the job's S3 prefix: function, arguments, results (payload + metadata).
    base = desc["OutputDataConfig"]["S3OutputPath"]
    bucket, prefix = base[5:].split("/", 1)
    keys = {
        o["Key"] for o in _s3_client(fast_sdk_wait).list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]
    }
    for part in (
        "function/payload.pkl",
        "arguments/payload.pkl",
        "results/payload.pkl",
        "results/metadata.json",
    ):
        assert f"{prefix}/{part}" in keys, part
    assert f"{prefix}/{name}/output/model.tar.gz" in keys


def test_an_exception_is_raised_on_the_caller_side(fast_sdk_wait):
    from sagemaker.remote_function import remote

    @remote(
        image_uri=fast_sdk_wait["SAGEMAKER_INTERNAL_IMAGE_URI"],
        instance_type=INSTANCE,
        role=ROLE,
        job_name_prefix="rf-raises",
    )
    def divide(a, b):
        if b == 0:
            raise ValueError(f"cannot divide {a} by zero")
        return a / b

    with pytest.raises(ValueError, match="cannot divide 7 by zero") as info:
        divide(7, 0)
    # The remote traceback comes back with the exception (the SDK pickles it with tblib): the job's frames,
    # down to the function's own (its code was unpickled there, hence no source file).
    frames = "".join(traceback.format_exception(info.value))
    assert 'File "<dynamic-code>"' in frames and frames.rstrip().endswith(
        "ValueError: cannot divide 7 by zero"
    )
    assert [line for line in frames.splitlines() if "<dynamic-code>" in line][-1].endswith("in divide")

    (name,) = _jobs(fast_sdk_wait, "rf-raises")
    desc = _sagemaker_client(fast_sdk_wait).describe_training_job(TrainingJobName=name)
    assert desc["TrainingJobStatus"] == "Failed"
    assert "ValueError('cannot divide 7 by zero')" in desc["FailureReason"]


def test_remote_executor_maps_over_inputs(fast_sdk_wait):
    from sagemaker.remote_function import RemoteExecutor
    from sagemaker.remote_function.client import get_future, list_futures

    def square(x):
        return x * x

    with RemoteExecutor(
        max_parallel_jobs=2, instance_type=INSTANCE, role=ROLE, job_name_prefix="rf-map"
    ) as executor:
        results = list(executor.map(square, [1, 2, 3]))
    assert results == [1, 4, 9]
    names = _jobs(fast_sdk_wait, "rf-map")
    assert len(names) == 3  # one training job per input
    # Futures re-attached to finished jobs by name (a later session's view): results read back from S3.
    assert sorted(get_future(name).result() for name in names) == [1, 4, 9]
    assert sorted(f.result() for f in list_futures("rf-map")) == [1, 4, 9]


def _wheel(directory: Path, name: str, version: str, source: str) -> Path:
    """A pure-Python wheel built by hand (no network, no build backend)."""
    dist = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": source.encode(),
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{dist}/WHEEL": b"Wheel-Version: 1.0\nGenerator: sagestack-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{dist}/RECORD,,")
    files[f"{dist}/RECORD"] = ("\n".join(record) + "\n").encode()
    path = directory / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for member, data in files.items():
            archive.writestr(member, data)
    return path


def test_requirements_install_into_the_jobs_own_environment(
    fast_sdk_wait, tmp_path, monkeypatch, job_shared_dir
):
    """requirements.txt: an installed package is found in the server's environment; a new one (a local
    wheel) goes into the job's own venv, never into the server's. pre_execution_commands and the local
    working directory (include_local_workdir) reach the job too."""
    from sagemaker.remote_function import remote

    # A job has its own /tmp (job_sandbox.py): a local wheel it installs lives outside the host's.
    wheel = _wheel(job_shared_dir, "sagestack_rf_probe", "0.3", "ANSWER = 42\n")
    (tmp_path / "requirements.txt").write_text(f"pandas\n{wheel}\n")
    workdir = tmp_path / "project"
    workdir.mkdir()
    (workdir / "local_helpers.py").write_text("def triple(x):\n    return 3 * x\n")
    monkeypatch.chdir(workdir)

    @remote(
        instance_type=INSTANCE,
        role=ROLE,
        job_name_prefix="rf-deps",
        dependencies=str(tmp_path / "requirements.txt"),
        include_local_workdir=True,
        pre_execution_commands=["echo prepared > pre_exec_marker.txt"],
        environment_variables={"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": "", "STAGE": "test"},
    )
    def use_dependencies():
        import local_helpers
        import sagestack_rf_probe

        return {
            "answer": local_helpers.triple(sagestack_rf_probe.ANSWER),
            "probe": sagestack_rf_probe.__file__,
            "marker": open("pre_exec_marker.txt").read().strip(),
            "stage": os.environ["STAGE"],
            "prefix": sys.prefix,
        }

    result = use_dependencies()
    assert result["answer"] == 126
    assert result["marker"] == "prepared" and result["stage"] == "test"
    assert result["probe"].startswith(result["prefix"])  # installed in the job's venv…
    assert result["prefix"] != sys.prefix and ".sagestack/venv" in result["prefix"]
    with pytest.raises(ImportError):  # …and not in the environment the server (and this test) runs in
        __import__("sagestack_rf_probe")


def test_job_conda_env_fails_clearly(fast_sdk_wait):
    from sagemaker.remote_function import remote
    from sagemaker.remote_function.runtime_environment.runtime_environment_manager import (
        RuntimeEnvironmentError,
    )

    @remote(instance_type=INSTANCE, role=ROLE, job_name_prefix="rf-conda", job_conda_env="myenv")
    def nothing():
        return 1

    with pytest.raises(
        RuntimeEnvironmentError, match="job_conda_env 'myenv' cannot be used: conda environments"
    ):
        nothing()
    (name,) = _jobs(fast_sdk_wait, "rf-conda")
    desc = _sagemaker_client(fast_sdk_wait).describe_training_job(TrainingJobName=name)
    assert desc["TrainingJobStatus"] == "Failed"
    assert desc["FailureReason"].startswith("ClientError: RuntimeEnvironmentError: job_conda_env 'myenv'")


def test_bad_input_is_refused_and_nothing_runs(sdk_env):
    from botocore.exceptions import ClientError
    from sagemaker.remote_function import remote

    @remote(instance_type="ml.nonexistent.huge", role=ROLE, job_name_prefix="rf-badtype")
    def nothing():
        return 1

    with pytest.raises(ClientError) as info:
        nothing()
    error = info.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert "ml.nonexistent.huge" in error["Message"]
    assert _jobs(sdk_env, "rf-badtype") == []


def test_a_requirement_that_cannot_be_installed_fails_clearly(fast_sdk_wait, tmp_path):
    from sagemaker.remote_function import remote
    from sagemaker.remote_function.runtime_environment.runtime_environment_manager import (
        RuntimeEnvironmentError,
    )

    (tmp_path / "requirements.txt").write_text("sagestack-no-such-package==1.0\n")

    @remote(
        instance_type=INSTANCE,
        role=ROLE,
        job_name_prefix="rf-missing",
        dependencies=str(tmp_path / "requirements.txt"),
        environment_variables={"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": ""},
    )
    def nothing():
        return 1

    with pytest.raises(RuntimeEnvironmentError, match="sagestack-no-such-package"):
        nothing()
    (name,) = _jobs(fast_sdk_wait, "rf-missing")
    desc = _sagemaker_client(fast_sdk_wait).describe_training_job(TrainingJobName=name)
    assert desc["TrainingJobStatus"] == "Failed"
    assert "RuntimeEnvironmentError: Encountered error while running command" in desc["FailureReason"]


def test_cancelling_a_future_stops_its_job(fast_sdk_wait):
    from sagemaker.remote_function import RemoteExecutor

    from helpers import wait_for

    def sleepy():
        import time

        time.sleep(300)

    sm = _sagemaker_client(fast_sdk_wait)
    with RemoteExecutor(instance_type=INSTANCE, role=ROLE, job_name_prefix="rf-cancel") as executor:
        future = executor.submit(sleepy)
        wait_for(lambda: future.running(), 60, message="the job to start")
        (name,) = _jobs(fast_sdk_wait, "rf-cancel")
        assert future.cancel() and future.cancelled()
    desc = wait_for(
        lambda: (d := sm.describe_training_job(TrainingJobName=name))["TrainingJobStatus"] == "Stopped" and d,
        60,
        message="the job to stop",
    )
    assert desc["SecondaryStatus"] == "Stopped"


def test_a_remote_function_logs_to_the_callers_experiment_run(fast_sdk_wait):
    """Called inside ``with Run(...)``, the function gets the run back with ``load_run()`` and logs to it."""
    import uuid

    import sagemaker
    from sagemaker.experiments import Run
    from sagemaker.remote_function import remote

    @remote(instance_type=INSTANCE, role=ROLE, job_name_prefix="rf-run")
    def train(lr):
        from sagemaker.experiments import load_run

        with load_run() as run:
            run.log_parameter("lr", lr)
            for step, loss in enumerate([0.9, 0.5, 0.2]):
                run.log_metric(name="loss", value=loss, step=step)
        return "logged"

    suffix = uuid.uuid4().hex[:6]
    experiment, run_name = f"rf-exp-{suffix}", f"rf-run-{suffix}"
    with Run(experiment_name=experiment, run_name=run_name, sagemaker_session=sagemaker.Session()):
        assert train(0.05) == "logged"
    (name,) = _jobs(fast_sdk_wait, "rf-run")
    desc = _sagemaker_client(fast_sdk_wait).describe_training_job(TrainingJobName=name)
    assert "--run_in_context" in desc["AlgorithmSpecification"]["ContainerArguments"]
    component = _sagemaker_client(fast_sdk_wait).describe_trial_component(
        TrialComponentName=f"{experiment}-{run_name}"
    )
    assert component["Parameters"]["lr"] == {"NumberValue": 0.05}
    loss = {m["MetricName"]: m for m in component["Metrics"]}["loss"]
    assert loss["Count"] == 3 and loss["Min"] == 0.2 and loss["Last"] == 0.2


def test_checkpoint_location_saves_and_restores_checkpoints(fast_sdk_wait):
    """A ``CheckpointLocation`` argument becomes the job's CheckpointConfig: files written there reach S3,
    and the next job with the same location finds them."""
    import uuid

    from sagemaker.remote_function import CheckpointLocation, remote

    location = f"s3://sagemaker-us-east-1-000000000000/rf-checkpoints/{uuid.uuid4().hex[:8]}"

    @remote(instance_type=INSTANCE, role=ROLE, job_name_prefix="rf-ckpt-save")
    def save(checkpoint_dir):
        with open(os.path.join(checkpoint_dir, "state.json"), "w") as f:
            f.write('{"epoch": 3}')
        return os.fspath(checkpoint_dir)

    @remote(instance_type=INSTANCE, role=ROLE, job_name_prefix="rf-ckpt-load")
    def load(checkpoint_dir):
        with open(os.path.join(checkpoint_dir, "state.json")) as f:
            return f.read()

    assert save(CheckpointLocation(location)) == "/opt/ml/checkpoints/"
    bucket, prefix = location[5:].split("/", 1)
    keys = [
        o["Key"] for o in _s3_client(fast_sdk_wait).list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]
    ]
    assert keys == [f"{prefix}/state.json"]
    assert load(CheckpointLocation(location)) == '{"epoch": 3}'
    (name,) = _jobs(fast_sdk_wait, "rf-ckpt-load")
    config = _sagemaker_client(fast_sdk_wait).describe_training_job(TrainingJobName=name)["CheckpointConfig"]
    assert config == {"S3Uri": location, "LocalPath": "/opt/ml/checkpoints/"}


def test_a_warm_pool_keeps_a_persistent_cache_between_jobs(fast_sdk_wait):
    """keep_alive_period_in_seconds > 0: the jobs of one pool (instance type and count) share SageMaker's
    persistent cache directory, where the SDK's runtime keeps its pip cache."""
    import uuid

    from sagemaker.remote_function import remote

    token = uuid.uuid4().hex

    @remote(
        instance_type="ml.t3.medium", role=ROLE, job_name_prefix="rf-pool", keep_alive_period_in_seconds=60
    )
    def leave(token):
        cache = os.environ["SAGEMAKER_MANAGED_WARMPOOL_CACHE_DIRECTORY"]
        with open(os.path.join(cache, "token.txt"), "w") as f:
            f.write(token)
        return cache, os.environ["PIP_CACHE_DIR"]

    @remote(
        instance_type="ml.t3.medium", role=ROLE, job_name_prefix="rf-pool", keep_alive_period_in_seconds=60
    )
    def find():
        with open(os.path.join(os.environ["SAGEMAKER_MANAGED_WARMPOOL_CACHE_DIRECTORY"], "token.txt")) as f:
            return f.read()

    cache, pip_cache = leave(token)
    assert pip_cache.startswith(cache + "/")  # job_driver.sh keeps pip's cache in the pool's directory
    assert find() == token


def test_torchrun_runs_the_function_in_several_processes(fast_sdk_wait):
    """use_torchrun on one instance: torchrun (the job environment's) starts nproc_per_node workers that
    form a process group on the job's own algo-1."""
    from sagemaker.remote_function import remote

    @remote(
        instance_type=INSTANCE, role=ROLE, job_name_prefix="rf-torchrun", use_torchrun=True, nproc_per_node=2
    )
    def world():
        import torch.distributed as dist

        dist.init_process_group("gloo")
        try:
            return dist.get_world_size(), sys.executable
        finally:
            dist.destroy_process_group()

    size, executable = world()
    assert size == 2
    assert ".sagestack/venv" in executable  # the workers run in the job's environment
