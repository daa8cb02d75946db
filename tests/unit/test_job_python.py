"""A job's own Python environment (execution/job_python.py) and the images that run with it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from sagestack.domain import images
from sagestack.execution import job_python


@pytest.mark.parametrize(
    "uri",
    [
        "081325390199.dkr.ecr.us-east-1.amazonaws.com/sagemaker-base-python-310:1.0",
        "236514542706.dkr.ecr.us-west-2.amazonaws.com/sagemaker-base-python-38:1.0",
        "885854791233.dkr.ecr.us-east-1.amazonaws.com/sagemaker-distribution-prod:1-cpu",
        "public.ecr.aws/sagemaker/sagemaker-distribution:latest-cpu",
    ],
)
def test_base_python_and_distribution_images_are_a_python_runtime(uri):
    image = images.parse_image(uri)
    assert image.framework == "python"
    assert images.training_runner(image, {}, has_entrypoint=True) == "script"
    with pytest.raises(images.UnsupportedImage, match="needs a training script"):
        images.training_runner(image, {}, has_entrypoint=False)


def test_default_python_image_is_a_python_runtime():
    uri = images.default_python_image("eu-west-1")
    assert uri == "081325390199.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-base-python-310:1.0"
    assert images.parse_image(uri).framework == "python"
    assert (
        images.parse_image("123456789012.dkr.ecr.us-east-1.amazonaws.com/my-base-python:1").framework is None
    )


def _run(env, *args):
    return subprocess.run(list(args), env=env, capture_output=True, text=True, timeout=60)


def test_layered_venv_sees_the_servers_packages_and_owns_its_installs(tmp_path):
    directory = tmp_path / "venv"
    env = job_python.environment(directory, {"PATH": os.environ["PATH"], "PIP_TARGET": "/elsewhere"})
    assert env["PATH"].split(os.pathsep)[0] == str(directory / "bin")
    assert env["VIRTUAL_ENV"] == str(directory) and "PIP_TARGET" not in env
    probe = (
        "import sys, importlib.util, sysconfig; "
        "print(sys.prefix); print(sysconfig.get_path('purelib')); "
        "print(importlib.util.find_spec('pandas') is not None)"
    )
    prefix, purelib, found = _run(env, "python", "-c", probe).stdout.split()
    assert prefix == str(directory) and prefix != sys.prefix  # its own environment (pip installs go here)…
    assert purelib.startswith(str(directory))
    assert found == "True"  # …layered on the server's packages
    # `pip` is this venv's pip, whatever else is on PATH.
    pip = _run(env, "pip", "--version")
    assert pip.returncode == 0 and f"python {sys.version_info.major}.{sys.version_info.minor}" in pip.stdout
    # torchrun (the SDK's use_torchrun) starts its workers with this venv's Python.
    if (directory / "bin" / "torchrun").exists():
        assert _run(env, "sh", "-c", "command -v torchrun").stdout.strip() == str(
            directory / "bin" / "torchrun"
        )
    # The image contract's sudo: directory permissions are skipped, other commands run as this user.
    sudo = _run(env, "sudo", "chmod", "-R", "777", "/opt/ml/input", "/tmp")
    assert sudo.returncode == 0 and "skipped" in sudo.stdout
    assert _run(env, "sudo", "echo", "as-me").stdout.strip() == "as-me"
    assert _run(env, "sudo", "-E", "-u", "root", "echo", "with-options").stdout.strip() == "with-options"
    # conda is not available: a clear error instead of "command not found".
    conda = _run(env, "conda", "env", "create", "-n", "x", "--file", "environment.yml")
    assert conda.returncode == 1 and "conda is not available here" in conda.stderr
    # Creating it again (a retried job) keeps it working.
    job_python.create(directory)
    assert _run(env, "python", "-c", "import sys; print(sys.prefix)").stdout.strip() == str(directory)


def test_spark_image_as_a_training_job_is_refused_clearly():
    image = images.parse_image(
        "173754725891.dkr.ecr.us-east-1.amazonaws.com/sagemaker-spark-processing:3.3-cpu-py39-v1.0"
    )
    with pytest.raises(images.UnsupportedImage, match="spark_config, which sagestack does not run"):
        images.training_runner(image, {}, has_entrypoint=True)


def test_remote_function_jobs_need_their_own_opt_ml_and_no_conda(tmp_path):
    from sagestack.execution.entry import container_problem
    from sagestack.execution.layout import OPT_ML, HostLayout

    driver = ["/bin/bash", "/opt/ml/input/data/sagemaker_remote_function_bootstrap/job_driver.sh"]
    private = HostLayout(tmp_path, OPT_ML)
    shared = HostLayout(tmp_path, tmp_path)  # no private mount namespace: /opt/ml would be the host's
    assert container_problem(private, driver + ["--s3_base_uri", "s3://b/p"]) is None
    assert container_problem(shared, ["python3", "train.py"]) is None  # other entrypoints: not concerned
    problem = container_problem(shared, driver)
    assert (
        problem.startswith("ClientError: RuntimeEnvironmentError: ") and "private mount namespace" in problem
    )
    conda = container_problem(private, driver + ["--job_conda_env", "integ_env"])
    assert conda.startswith("ClientError: RuntimeEnvironmentError: job_conda_env 'integ_env' cannot be used")
