"""NotebookJobStep (SDK v2) compiles to a Training step running the SageMaker Distribution image's
``amazon_sagemaker_scheduler`` entry point; sagestack runs it with papermill on an IPython kernel of the
job's own Python: the step's parameters are injected after the notebook's parameters cell, the init script
is sourced first, additional dependencies sit beside the notebook, and the executed notebook lands in the
job's output.tar.gz — also when a cell raises, which fails the step with the cell's error."""

from __future__ import annotations

import json
import uuid

import pytest

from helpers import ROLE, read_tar_gz, wait_for

pytest.importorskip("sagemaker")
pytest.importorskip("papermill")

IMAGE = "885854791233.dkr.ecr.us-east-1.amazonaws.com/sagemaker-distribution-prod:1-cpu"


def code_cell(source: str, tags: list[str] | None = None) -> dict:
    metadata = {"tags": tags} if tags else {}
    return {
        "cell_type": "code",
        "source": source,
        "metadata": metadata,
        "outputs": [],
        "execution_count": None,
    }


def write_notebook(path, cells: list[dict]) -> None:
    notebook = {
        "cells": cells,
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.write_text(json.dumps(notebook))


def run_pipeline(server, step, bucket: str, parameters=(), start: dict | None = None) -> tuple[str, dict]:
    from sagemaker.workflow.pipeline import Pipeline
    from sagemaker.workflow.pipeline_context import PipelineSession

    sm = server.client("sagemaker")
    session = PipelineSession(default_bucket=bucket)
    pipeline = Pipeline(
        name=f"nb-{uuid.uuid4().hex[:6]}",
        parameters=list(parameters),
        steps=[step],
        sagemaker_session=session,
    )
    definition = json.loads(pipeline.definition())
    assert definition["Steps"][0]["Type"] == "Training"
    assert definition["Steps"][0]["Arguments"]["AlgorithmSpecification"]["ContainerEntrypoint"] == [
        "amazon_sagemaker_scheduler"
    ]
    pipeline.upsert(role_arn=ROLE)
    arn = pipeline.start(parameters=start or {}).arn

    def done():
        desc = sm.describe_pipeline_execution(PipelineExecutionArn=arn)
        return desc if desc["PipelineExecutionStatus"] != "Executing" else None

    wait_for(done, 180, 0.5, "the notebook pipeline execution")
    steps = sm.list_pipeline_execution_steps(PipelineExecutionArn=arn)["PipelineExecutionSteps"]
    return arn, steps[0]


def output_notebook(server, job: dict) -> tuple[dict, dict[str, bytes]]:
    """The executed notebook (and every file) of the job's output.tar.gz."""
    prefix = job["OutputDataConfig"]["S3OutputPath"].rstrip("/")
    bucket, key = prefix[len("s3://") :].split("/", 1)
    body = server.client("s3").get_object(
        Bucket=bucket, Key=f"{key}/{job['TrainingJobName']}/output/output.tar.gz"
    )
    files = read_tar_gz(body["Body"].read())
    name = job["Environment"]["SM_OUTPUT_NOTEBOOK_NAME"]
    return json.loads(files[name]), files


def cell_text(cell: dict) -> str:
    parts = []
    for output in cell.get("outputs") or []:
        text = (
            output.get("text") or (output.get("data") or {}).get("text/plain") or output.get("evalue") or ""
        )
        parts.append("".join(text) if isinstance(text, list) else text)
    return "".join(parts)


@pytest.mark.slow
@pytest.mark.sdk_flow(
    "flow06", "NotebookJobStep: parameters cell overridden, init script, additional dependencies"
)
def test_notebook_job_step_runs_the_notebook_with_parameters_init_script_and_dependencies(
    server, sdk_env, tmp_path
):
    from sagemaker.workflow.notebook_job_step import NotebookJobStep
    from sagemaker.workflow.parameters import ParameterString

    sm = server.client("sagemaker")
    bucket = f"nb-{uuid.uuid4().hex[:8]}"
    server.client("s3").create_bucket(Bucket=bucket)
    notebook = tmp_path / "report.ipynb"
    write_notebook(
        notebook,
        [
            code_cell('greeting = "hello"\nrepeat = "1"', tags=["parameters"]),
            code_cell(
                "import os\n"
                "from helper_lib import shout\n"
                "print(shout(greeting) * int(repeat), os.environ['NB_FROM_INIT'], open('lookup.txt').read())"
            ),
            code_cell("6 * 7"),
        ],
    )
    init = tmp_path / "setup.sh"
    init.write_text('export NB_FROM_INIT="init-$((20 + 1))"\necho "init script ran in $(basename "$PWD")"\n')
    lookup = tmp_path / "lookup.txt"
    lookup.write_text("looked-up")
    library = tmp_path / "helper_lib"
    library.mkdir()
    (library / "__init__.py").write_text("def shout(text):\n    return text.upper() + '!'\n")

    greeting = ParameterString(name="Greeting", default_value="hi")
    step = NotebookJobStep(
        name="Report",
        notebook_job_name="weekly-report",
        input_notebook=str(notebook),
        image_uri=IMAGE,
        kernel_name="python3",
        role=ROLE,
        s3_root_uri=f"s3://{bucket}/notebooks",
        initialization_script=str(init),
        additional_dependencies=[str(lookup), str(library)],
        parameters={"greeting": greeting, "repeat": "2"},
        instance_type="ml.m5.large",
    )
    arn, record = run_pipeline(server, step, bucket, parameters=[greeting], start={"Greeting": "bonjour"})
    desc = sm.describe_pipeline_execution(PipelineExecutionArn=arn)
    assert desc["PipelineExecutionStatus"] == "Succeeded", (record, desc)
    assert record["StepStatus"] == "Succeeded"
    job_arn = record["Metadata"]["TrainingJob"]["Arn"]
    job = sm.describe_training_job(TrainingJobName=job_arn.rsplit("/", 1)[-1])
    assert job["TrainingJobStatus"] == "Completed"
    assert job["HyperParameters"] == {"greeting": "bonjour", "repeat": "2"}
    assert (
        job["OutputDataConfig"]["S3OutputPath"]
        == f"s3://{bucket}/notebooks/{desc['PipelineArn'].rsplit('/', 1)[-1]}/{arn.rsplit('/', 1)[-1]}/Report"
    )

    executed, files = output_notebook(server, job)
    assert "report.ipynb" in files  # the input notebook is kept beside the executed one
    assert "Use Kernel python3 to execute report.ipynb" in files["sagemaker_job_execution.log"].decode()
    cells = executed["cells"]
    injected = [c for c in cells if "injected-parameters" in c["metadata"].get("tags", [])]
    assert len(injected) == 1 and "bonjour" in "".join(injected[0]["source"])
    outputs = [cell_text(c) for c in cells]
    assert "BONJOUR!BONJOUR! init-21 looked-up" in outputs[2]
    assert outputs[3] == "42"
    assert executed["metadata"]["papermill"]["parameters"] == {"greeting": "bonjour", "repeat": "2"}


@pytest.mark.slow
@pytest.mark.sdk_flow(
    "flow06", "NotebookJobStep whose cell raises: step Failed with the error, notebook kept"
)
def test_notebook_job_step_whose_cell_raises_fails_with_the_error(server, sdk_env, tmp_path):
    from sagemaker.workflow.notebook_job_step import NotebookJobStep

    sm = server.client("sagemaker")
    bucket = f"nb-{uuid.uuid4().hex[:8]}"
    server.client("s3").create_bucket(Bucket=bucket)
    notebook = tmp_path / "broken.ipynb"
    write_notebook(
        notebook,
        [
            code_cell("print('before the failure')"),
            code_cell("raise ValueError('the data is stale: 3 days')"),
        ],
    )
    step = NotebookJobStep(
        name="Broken",
        input_notebook=str(notebook),
        image_uri=IMAGE,
        kernel_name="python3",
        role=ROLE,
        s3_root_uri=f"s3://{bucket}/notebooks",
    )
    arn, record = run_pipeline(server, step, bucket)
    assert sm.describe_pipeline_execution(PipelineExecutionArn=arn)["PipelineExecutionStatus"] == "Failed"
    assert record["StepStatus"] == "Failed"
    reason = record["FailureReason"]
    assert reason.startswith("ClientError: AlgorithmError: Error with executing notebook\n")
    assert "ValueError: the data is stale: 3 days" in reason
    job = sm.describe_training_job(
        TrainingJobName=record["Metadata"]["TrainingJob"]["Arn"].rsplit("/", 1)[-1]
    )
    assert job["TrainingJobStatus"] == "Failed"
    assert job["FailureReason"] == reason[len("ClientError: ") :]
    assert 'ValueError: the data is stale: 3 days (in cell "In [2]")' in reason
    executed, _ = output_notebook(server, job)  # still written, with the failing cell's error
    cells = [c for c in executed["cells"] if c["cell_type"] == "code"]
    assert "before the failure" in cell_text(cells[0])
    assert [o["ename"] for o in cells[1]["outputs"] if o.get("output_type") == "error"] == ["ValueError"]


@pytest.mark.slow
def test_stopping_the_execution_stops_the_notebook_and_its_kernel(server, sdk_env, tmp_path):
    import psutil
    from sagemaker.workflow.notebook_job_step import NotebookJobStep
    from sagemaker.workflow.pipeline import Pipeline
    from sagemaker.workflow.pipeline_context import PipelineSession

    sm = server.client("sagemaker")
    bucket = f"nb-{uuid.uuid4().hex[:8]}"
    server.client("s3").create_bucket(Bucket=bucket)
    notebook = tmp_path / "slow.ipynb"
    write_notebook(
        notebook, [code_cell("print('working', flush=True)"), code_cell("import time\ntime.sleep(300)")]
    )
    step = NotebookJobStep(
        name="Slow",
        input_notebook=str(notebook),
        image_uri=IMAGE,
        kernel_name="python3",
        role=ROLE,
        s3_root_uri=f"s3://{bucket}/notebooks",
    )
    pipeline = Pipeline(
        name=f"nb-{uuid.uuid4().hex[:6]}",
        steps=[step],
        sagemaker_session=PipelineSession(default_bucket=bucket),
    )
    pipeline.upsert(role_arn=ROLE)
    arn = pipeline.start().arn

    def kernel_of(job_name: str):
        for proc in psutil.process_iter(["cmdline"]):
            cmdline = " ".join(proc.info["cmdline"] or [])
            if "ipykernel_launcher" in cmdline and job_name in cmdline:
                return proc
        return None

    def running_job():
        steps = sm.list_pipeline_execution_steps(PipelineExecutionArn=arn)["PipelineExecutionSteps"]
        job = (steps[0].get("Metadata") or {}).get("TrainingJob") if steps else None
        return job["Arn"].rsplit("/", 1)[-1] if job else None

    job_name = wait_for(running_job, 60, 0.3, "the notebook's training job")
    kernel = wait_for(lambda: kernel_of(job_name), 60, 0.3, "the notebook's kernel")
    sm.stop_pipeline_execution(PipelineExecutionArn=arn)

    def stopped():
        desc = sm.describe_pipeline_execution(PipelineExecutionArn=arn)
        return desc if desc["PipelineExecutionStatus"] not in ("Executing", "Stopping") else None

    assert wait_for(stopped, 60, 0.3, "the stop")["PipelineExecutionStatus"] == "Stopped"
    assert sm.describe_training_job(TrainingJobName=job_name)["TrainingJobStatus"] == "Stopped"
    wait_for(
        lambda: not kernel.is_running() or kernel.status() == psutil.STATUS_ZOMBIE,
        15,
        0.3,
        "the kernel's end",
    )
