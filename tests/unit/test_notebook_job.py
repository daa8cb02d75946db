"""The notebook-job entry point (execution/notebook_job.py, the job venv's ``amazon_sagemaker_scheduler``)
against a job directory laid out as /opt/ml: the executed notebook in output/data, failures in
output/failure, the kernel registered inside the job's directory and never in the user's home."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import psutil
import pytest

from sagestack.execution import job_python, notebook_job


def make_job(
    tmp_path, cells: list[str], init: str | None = None, hyperparameters: dict | None = None
) -> dict:
    ml = tmp_path / "ml"
    channel = ml / "input" / "data" / notebook_job.CHANNEL
    channel.mkdir(parents=True)
    (ml / "input" / "config").mkdir(parents=True)
    (ml / "input" / "config" / "hyperparameters.json").write_text(json.dumps(hyperparameters or {}))
    notebook = {
        "cells": [
            {"cell_type": "code", "source": c, "metadata": {}, "outputs": [], "execution_count": None}
            for c in cells
        ],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (channel / "in.ipynb").write_text(json.dumps(notebook))
    env = {
        "SM_INPUT_DIR": str(ml / "input"),
        "SM_EXECUTION_INPUT_PATH": f"/opt/ml/input/data/{notebook_job.CHANNEL}",
        "SM_INPUT_NOTEBOOK_NAME": "in.ipynb",
        "SM_OUTPUT_NOTEBOOK_NAME": "in-2026-12-07T10:00:00.ipynb",
        "SM_KERNEL_NAME": "my-kernel",
        "SM_JOB_DEF_VERSION": "1.0",
    }
    if init is not None:
        (channel / "init.sh").write_text(init)
        env["SM_INIT_SCRIPT"] = "init.sh"
    return env


def test_output_notebook_name_is_fixed_as_the_real_scheduler_does():
    assert notebook_job.output_notebook_name("report.ipynb") == "report.ipynb"
    assert (
        notebook_job.output_notebook_name("in-2026-12-07T10:00:00.123.ipynb")
        == "in-2026-12-07T10-00-00-123.ipynb"
    )


def test_opt_ml_paths_map_onto_the_jobs_directory(tmp_path):
    assert notebook_job.local("/opt/ml/input/data/x", tmp_path) == tmp_path / "input" / "data" / "x"
    assert str(notebook_job.local("/data/x", tmp_path)) == "/data/x"


def test_kernel_is_registered_in_the_jobs_own_jupyter_path(tmp_path):
    env = notebook_job.jupyter_environment(tmp_path / "jupyter", "conda-env-custom-py")
    spec = json.loads(
        (tmp_path / "jupyter" / "data" / "kernels" / "conda-env-custom-py" / "kernel.json").read_text()
    )
    assert spec["argv"][:3] == [sys.executable, "-m", "ipykernel_launcher"] and spec["language"] == "python"
    assert all(value.startswith(str(tmp_path)) for value in env.values())
    assert set(env) >= {
        "JUPYTER_PATH",
        "JUPYTER_DATA_DIR",
        "JUPYTER_RUNTIME_DIR",
        "JUPYTER_CONFIG_DIR",
        "IPYTHONDIR",
    }


def _main_with(monkeypatch, env: dict) -> int:
    monkeypatch.delenv("SM_INIT_SCRIPT", raising=False)
    for key in (
        "JUPYTER_PATH",
        "JUPYTER_DATA_DIR",
        "JUPYTER_RUNTIME_DIR",
        "JUPYTER_CONFIG_DIR",
        "IPYTHONDIR",
    ):
        monkeypatch.setenv(key, "")  # whatever main() sets is undone after the test
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return notebook_job.execute()


def test_without_papermill_the_job_fails_naming_the_extra(tmp_path, monkeypatch):
    env = make_job(tmp_path, ["print(1)"])
    monkeypatch.setattr(notebook_job, "missing_packages", lambda: ["papermill"])
    assert _main_with(monkeypatch, env) == 2
    failure = (tmp_path / "ml" / "output" / "failure").read_text()
    assert failure.startswith("ClientError: the notebook job cannot run: papermill is not installed")
    assert "pip install 'sagestack[notebooks]'" in failure


def test_a_missing_input_notebook_fails_the_job(tmp_path, monkeypatch):
    env = make_job(tmp_path, ["print(1)"])
    env["SM_INPUT_NOTEBOOK_NAME"] = "absent.ipynb"
    assert _main_with(monkeypatch, env) == 1
    failure = (tmp_path / "ml" / "output" / "failure").read_text()
    assert failure == "Error with preparing the input notebook\nCannot find input notebook: absent.ipynb"


def test_a_failing_init_script_fails_the_job_before_the_notebook_runs(tmp_path, monkeypatch):
    pytest.importorskip("papermill")
    env = make_job(tmp_path, ["print(1)"], init="echo preparing\nfalse\n")
    monkeypatch.setenv("VIRTUAL_ENV", str(tmp_path / "job" / "venv"))
    assert _main_with(monkeypatch, env) == 1
    failure = (tmp_path / "ml" / "output" / "failure").read_text()
    assert failure == "Error with running init script\nThe init script init.sh exited with code 1"
    assert not (tmp_path / "ml" / "output" / "data" / "in-2026-12-07T10-00-00.ipynb").exists()


def test_scheduler_command_runs_the_notebook_and_leaves_home_alone(tmp_path):
    pytest.importorskip("papermill")
    env = make_job(tmp_path, ["x = 1", "print('value', x * 2, os_value)"], init="export NB_VALUE=seven\n")
    env["SM_KERNEL_NAME"] = "python3"
    (tmp_path / "ml" / "input" / "config" / "hyperparameters.json").write_text(json.dumps({"x": "5"}))
    nb_path = tmp_path / "ml" / "input" / "data" / notebook_job.CHANNEL / "in.ipynb"
    notebook = json.loads(nb_path.read_text())
    notebook["cells"][0]["metadata"]["tags"] = ["parameters"]
    notebook["cells"].insert(
        1, {**notebook["cells"][1], "source": "import os\nos_value = os.environ['NB_VALUE']"}
    )
    nb_path.write_text(json.dumps(notebook))
    home = tmp_path / "home"
    home.mkdir()
    venv_env = job_python.environment(tmp_path / "job" / "venv", {**os.environ, "HOME": str(home), **env})
    for key in (
        "JUPYTER_PATH",
        "JUPYTER_DATA_DIR",
        "JUPYTER_RUNTIME_DIR",
        "JUPYTER_CONFIG_DIR",
        "IPYTHONDIR",
    ):
        venv_env.pop(key, None)
    result = subprocess.run(
        ["amazon_sagemaker_scheduler"],
        env=venv_env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = tmp_path / "ml" / "output" / "data"
    executed = json.loads((out / "in-2026-12-07T10-00-00.ipynb").read_text())
    printed = "".join("".join(o.get("text", "")) for c in executed["cells"] for o in c.get("outputs", []))
    assert "value 55 seven" in printed  # x = "5" injected: SageMaker passes parameters as strings
    assert (out / "in.ipynb").is_file()
    log = (out / "sagemaker_job_execution.log").read_text()
    assert "Use Kernel python3 to execute in.ipynb" in log and "Notebook execution is complete" in log
    assert "Use Kernel python3" in result.stdout  # the job's log stream gets it too
    assert not (tmp_path / "ml" / "output" / "failure").exists()
    assert list(home.iterdir()) == []  # no kernel, runtime or IPython files in the user's home
    assert (tmp_path / "job" / "jupyter" / "data" / "kernels" / "python3" / "kernel.json").is_file()


def test_sigterm_shuts_the_kernel_down_and_ends_the_job(tmp_path):
    pytest.importorskip("papermill")
    env = make_job(tmp_path, ["print('started', flush=True)", "import time\ntime.sleep(120)"])
    env["SM_KERNEL_NAME"] = "python3"
    venv_env = job_python.environment(tmp_path / "job" / "venv", {**os.environ, **env})
    process = subprocess.Popen(
        ["amazon_sagemaker_scheduler"],
        env=venv_env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        output = tmp_path / "ml" / "output" / "data" / "in-2026-12-07T10-00-00.ipynb"
        deadline = time.time() + 60
        while time.time() < deadline and "started" not in _printed(output):
            time.sleep(0.2)
        assert "started" in _printed(output)  # the first cell ran: the kernel runs the second now
        kernels = [
            c
            for c in psutil.Process(process.pid).children(recursive=True)
            if "ipykernel_launcher" in c.cmdline()
        ]
        assert kernels, "the kernel process was not found"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 1
        assert (tmp_path / "ml" / "output" / "failure").read_text() == "Notebook execution is interrupted."
        log = (tmp_path / "ml" / "output" / "data" / "sagemaker_job_execution.log").read_text()
        assert "interrupted: shutting the kernel down" in log
        assert not [k for k in kernels if k.is_running() and k.status() != psutil.STATUS_ZOMBIE], (
            "the kernel outlived the job"
        )
    finally:
        if process.poll() is None:  # a failed assertion: do not leave the job running
            for child in psutil.Process(process.pid).children(recursive=True):
                child.kill()
            process.kill()


def _printed(notebook) -> str:
    """What the cells of ``notebook`` (as saved so far) printed."""
    try:
        cells = json.loads(notebook.read_text())["cells"]
    except (OSError, ValueError, KeyError):
        return ""
    return "".join("".join(o.get("text", "")) for c in cells for o in c.get("outputs", []))
