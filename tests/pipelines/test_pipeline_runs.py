"""Pipeline executions that run real processing jobs (boto3, hand-written definitions): a retry policy
turning a first failure into success, StopPipelineExecution stopping the running job, RetryPipelineExecution
re-running a failed step, selective execution reusing a source execution's step, and a server SIGKILL in
the middle of an execution (one execution retries the interrupted step and succeeds, the other fails
with the reason)."""

from __future__ import annotations

import json
import uuid

import botocore.exceptions
import pytest

from helpers import ROLE, SKLEARN_IMAGE, pipeline_steps, wait_for, wait_pipeline_execution

#: Sleeps ``SLEEP`` seconds; fails with ``FAIL_WITH`` (written to /opt/ml/output/failure) the first time
#: it runs for ``MARKER``; writes ``RESULT`` to its output.
SCRIPT = r"""
import json, os, sys, time
marker = os.environ.get("MARKER")
first = marker and not os.path.exists(marker)
if first:
    open(marker, "w").write("ran")
if first or not marker:
    time.sleep(float(os.environ.get("SLEEP", "0")))
if first and os.environ.get("FAIL_WITH"):
    os.makedirs("/opt/ml/output", exist_ok=True)
    with open("/opt/ml/output/failure", "w") as f:
        f.write(os.environ["FAIL_WITH"])
    sys.exit(1)
out = os.environ.get("OUT_DIR", "/opt/ml/processing/out")
os.makedirs(out, exist_ok=True)
with open(os.path.join(out, "result.json"), "w") as f:
    json.dump({"value": int(os.environ.get("RESULT", "1"))}, f)
"""


@pytest.fixture
def env(server, job_shared_dir):
    return _setup(server, job_shared_dir)


def _setup(server, marker_dir):
    s3 = server.client("s3")
    bucket = f"piperuns-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="code/step.py", Body=SCRIPT.encode())
    return server.client("sagemaker"), bucket, marker_dir


def _processing(name: str, bucket: str, environment: dict, **extra) -> dict:
    return {
        "Name": name,
        "Type": "Processing",
        "Arguments": {
            "ProcessingResources": {
                "ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 1}
            },
            "AppSpecification": {
                "ImageUri": SKLEARN_IMAGE,
                "ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/step.py"],
            },
            "RoleArn": ROLE,
            "ProcessingInputs": [
                {
                    "InputName": "code",
                    "S3Input": {
                        "S3Uri": f"s3://{bucket}/code/step.py",
                        "LocalPath": "/opt/ml/processing/input/code",
                        "S3DataType": "S3Prefix",
                        "S3InputMode": "File",
                    },
                }
            ],
            "ProcessingOutputConfig": {
                "Outputs": [
                    {
                        "OutputName": "out",
                        "S3Output": {
                            "S3Uri": {
                                "Std:Join": {
                                    "On": "/",
                                    "Values": [
                                        f"s3://{bucket}/out",
                                        {"Get": "Execution.PipelineExecutionId"},
                                        name,
                                    ],
                                }
                            },
                            "LocalPath": "/opt/ml/processing/out",
                            "S3UploadMode": "EndOfJob",
                        },
                    }
                ]
            },
            "Environment": environment,
        },
        "PropertyFiles": [{"PropertyFileName": "Result", "OutputName": "out", "FilePath": "result.json"}],
        **extra,
    }


def _training(name: str, bucket: str, environment: dict, **extra) -> dict:
    return {
        "Name": name,
        "Type": "Training",
        "Arguments": {
            "AlgorithmSpecification": {
                "TrainingImage": SKLEARN_IMAGE,
                "TrainingInputMode": "File",
                "ContainerEntrypoint": ["python3", "/opt/ml/input/data/code/step.py"],
            },
            "RoleArn": ROLE,
            "InputDataConfig": [
                {
                    "ChannelName": "code",
                    "DataSource": {
                        "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/code/"}
                    },
                }
            ],
            "OutputDataConfig": {"S3OutputPath": f"s3://{bucket}/training"},
            "ResourceConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 1},
            "StoppingCondition": {"MaxRuntimeInSeconds": 300},
            "Environment": dict(environment, OUT_DIR="/opt/ml/model"),
        },
        **extra,
    }


def _after(name: str, source: str) -> dict:
    """A Condition step reading ``source``'s result.json."""
    return {
        "Name": name,
        "Type": "Condition",
        "Arguments": {
            "Conditions": [
                {
                    "Type": "GreaterThan",
                    "LeftValue": {
                        "Std:JsonGet": {
                            "PropertyFile": {"Get": f"Steps.{source}.PropertyFiles.Result"},
                            "Path": "value",
                        }
                    },
                    "RightValue": 0,
                }
            ]
        },
    }


def _pipeline(sm, steps) -> str:
    name = f"runs-{uuid.uuid4().hex[:8]}"
    sm.create_pipeline(
        PipelineName=name,
        RoleArn=ROLE,
        PipelineDefinition=json.dumps({"Version": "2020-12-01", "Parameters": [], "Steps": steps}),
    )
    return name


def _job_name(step: dict) -> str:
    return step["Metadata"]["ProcessingJob"]["Arn"].rsplit("/", 1)[-1]


RETRY = [
    {
        "ExceptionType": ["SageMaker.JOB_INTERNAL_ERROR"],
        "IntervalSeconds": 1,
        "BackoffRate": 1.0,
        "MaxAttempts": 2,
    }
]


@pytest.mark.slow
def test_retry_policy_turns_a_first_failure_into_success(env):
    sm, bucket, tmp_path = env
    marker = str(tmp_path / "flaky")
    flaky = _training(
        "Flaky",
        bucket,
        {"MARKER": marker, "FAIL_WITH": "InternalServerError: transient"},
        RetryPolicies=RETRY,
    )
    check = {
        "Name": "Check",
        "Type": "Condition",
        "Arguments": {
            "Conditions": [
                {
                    "Type": "Equals",
                    "LeftValue": {"Get": "Steps.Flaky.TrainingJobStatus"},
                    "RightValue": "Completed",
                }
            ]
        },
    }
    name = _pipeline(sm, [flaky, check])
    arn = sm.start_pipeline_execution(PipelineName=name)["PipelineExecutionArn"]
    desc = wait_pipeline_execution(sm, arn)
    steps = pipeline_steps(sm, arn)
    assert desc["PipelineExecutionStatus"] == "Succeeded", steps
    assert steps["Flaky"]["AttemptCount"] == 2 and "FailureReason" not in steps["Flaky"]
    job_name = steps["Flaky"]["Metadata"]["TrainingJob"]["Arn"].rsplit("/", 1)[-1]
    assert sm.describe_training_job(TrainingJobName=job_name)["TrainingJobStatus"] == "Completed"
    assert steps["Check"]["Metadata"] == {"Condition": {"Outcome": "True"}}
    failed = sm.list_training_jobs(NameContains=arn.rsplit("/", 1)[-1], StatusEquals="Failed")[
        "TrainingJobSummaries"
    ]
    assert len(failed) == 1  # the first attempt, a job of its own


@pytest.mark.slow
def test_unclassified_failure_is_not_retried_then_retry_execution_reruns_it(env):
    sm, bucket, tmp_path = env
    marker = str(tmp_path / "broken")
    step = _processing(
        "Broken", bucket, {"MARKER": marker, "FAIL_WITH": "AlgorithmError: bad input"}, RetryPolicies=RETRY
    )
    name = _pipeline(sm, [step, _after("Check", "Broken")])
    arn = sm.start_pipeline_execution(PipelineName=name)["PipelineExecutionArn"]
    desc = wait_pipeline_execution(sm, arn)
    assert desc["PipelineExecutionStatus"] == "Failed"
    steps = pipeline_steps(sm, arn)
    assert set(steps) == {"Broken"}  # its dependant never started
    assert steps["Broken"]["StepStatus"] == "Failed" and steps["Broken"]["AttemptCount"] == 1
    assert steps["Broken"]["FailureReason"].startswith("ClientError: AlgorithmError: See job logs")
    first_job = _job_name(steps["Broken"])
    sm.retry_pipeline_execution(PipelineExecutionArn=arn, ClientRequestToken=uuid.uuid4().hex)
    desc = wait_pipeline_execution(sm, arn)
    steps = pipeline_steps(sm, arn)
    assert desc["PipelineExecutionStatus"] == "Succeeded", steps
    assert "FailureReason" not in desc
    assert steps["Broken"]["AttemptCount"] == 2 and _job_name(steps["Broken"]) != first_job
    assert steps["Check"]["StepStatus"] == "Succeeded"


@pytest.mark.slow
def test_stop_stops_the_running_job(env):
    sm, bucket, _ = env
    name = _pipeline(sm, [_processing("Slow", bucket, {"SLEEP": "120"}), _after("Check", "Slow")])
    arn = sm.start_pipeline_execution(PipelineName=name)["PipelineExecutionArn"]
    wait_for(
        lambda: pipeline_steps(sm, arn).get("Slow", {}).get("StepStatus") == "Executing",
        60,
        message="Slow executing",
    )
    job = _job_name(pipeline_steps(sm, arn)["Slow"])
    wait_for(
        lambda: sm.describe_processing_job(ProcessingJobName=job).get("ProcessingStartTime"),
        60,
        message="job start",
    )
    with pytest.raises(botocore.exceptions.ClientError) as info:  # not while it runs
        sm.delete_pipeline(PipelineName=name, ClientRequestToken=uuid.uuid4().hex)
    assert info.value.response["Error"]["Code"] == "ConflictException"
    sm.stop_pipeline_execution(PipelineExecutionArn=arn, ClientRequestToken=uuid.uuid4().hex)
    assert sm.describe_pipeline_execution(PipelineExecutionArn=arn)["PipelineExecutionStatus"] in (
        "Stopping",
        "Stopped",
    )
    desc = wait_pipeline_execution(sm, arn, 60)
    assert desc["PipelineExecutionStatus"] == "Stopped"
    steps = pipeline_steps(sm, arn)
    assert set(steps) == {"Slow"} and steps["Slow"]["StepStatus"] == "Stopped"
    assert sm.describe_processing_job(ProcessingJobName=job)["ProcessingJobStatus"] == "Stopped"
    sm.delete_pipeline(PipelineName=name, ClientRequestToken=uuid.uuid4().hex)  # now it can go


@pytest.mark.slow
def test_selective_execution_reuses_the_source_steps(env):
    sm, bucket, _ = env
    steps = [
        _processing("First", bucket, {"RESULT": "5"}),
        dict(_processing("Second", bucket, {"RESULT": "6"}), DependsOn=["First"]),
        _after("Check", "Second"),
    ]
    name = _pipeline(sm, steps)
    source = sm.start_pipeline_execution(PipelineName=name)["PipelineExecutionArn"]
    assert wait_pipeline_execution(sm, source)["PipelineExecutionStatus"] == "Succeeded"
    first_job = _job_name(pipeline_steps(sm, source)["First"])
    import botocore.exceptions

    from helpers import wait_for as _  # noqa: F401

    with pytest.raises(botocore.exceptions.ClientError) as info:
        sm.start_pipeline_execution(
            PipelineName=name, SelectiveExecutionConfig={"SelectedSteps": [{"StepName": "Second"}]}
        )
    assert "Invalid SourcePipelineExecutionArn: null" in info.value.response["Error"]["Message"]
    arn = sm.start_pipeline_execution(
        PipelineName=name,
        SelectiveExecutionConfig={
            "SourcePipelineExecutionArn": source,
            "SelectedSteps": [{"StepName": "Second"}],
        },
    )["PipelineExecutionArn"]
    assert wait_pipeline_execution(sm, arn)["PipelineExecutionStatus"] == "Succeeded"
    steps = pipeline_steps(sm, arn)
    assert set(steps) == {"First", "Second"}  # Check is downstream of the selection: not run
    assert steps["First"]["SelectiveExecutionResult"] == {"SourcePipelineExecutionArn": source}
    assert _job_name(steps["First"]) == first_job
    assert "SelectiveExecutionResult" not in steps["Second"]
    assert sm.describe_pipeline_execution(PipelineExecutionArn=arn)["SelectiveExecutionConfig"][
        "SelectedSteps"
    ] == [{"StepName": "Second"}]


@pytest.mark.slow
def test_server_sigkill_mid_execution(tmp_path, job_shared_dir):
    from sagestack.local_server import ServerProcess

    server = ServerProcess(tmp_path / "data", extra_env={"SAGESTACK_MAX_CPUS": "8"})  # both jobs at once
    server.start()
    try:
        _sigkill_mid_execution(server, job_shared_dir)
    finally:
        server.stop()


def _sigkill_mid_execution(server, marker_dir):
    sm, bucket, _ = _setup(server, marker_dir)
    # both sleep on their first run; the restart interrupts them (InternalServerError)
    resilient = _pipeline(
        sm,
        [
            _processing(
                "Long", bucket, {"MARKER": str(marker_dir / "a"), "SLEEP": "60"}, RetryPolicies=RETRY
            ),
            _after("Check", "Long"),
        ],
    )
    fragile = _pipeline(
        sm,
        [
            _processing("Long", bucket, {"MARKER": str(marker_dir / "b"), "SLEEP": "60"}),
            _after("Check", "Long"),
        ],
    )
    runs = [sm.start_pipeline_execution(PipelineName=p)["PipelineExecutionArn"] for p in (resilient, fragile)]
    for marker in ("a", "b"):  # both scripts are sleeping
        wait_for(lambda marker=marker: (marker_dir / marker).exists(), 90, message=f"job {marker} running")
    server.restart(sig="KILL")
    sm = server.client("sagemaker")
    ok, failed = (wait_pipeline_execution(sm, arn, 120) for arn in runs)
    steps = pipeline_steps(sm, runs[0])
    assert ok["PipelineExecutionStatus"] == "Succeeded", steps
    assert steps["Long"]["AttemptCount"] == 2 and steps["Check"]["StepStatus"] == "Succeeded"
    assert failed["PipelineExecutionStatus"] == "Failed"
    assert failed["FailureReason"] == "Step failure: One or multiple steps failed."
    long = pipeline_steps(sm, runs[1])["Long"]
    assert long["StepStatus"] == "Failed" and "server stopped" in long["FailureReason"]


@pytest.mark.slow
def test_parallelism_bounds_the_running_steps(env):
    sm, bucket, _ = env
    name = f"runs-{uuid.uuid4().hex[:8]}"
    steps = [_processing(f"P{i}", bucket, {"SLEEP": "1"}) for i in range(3)]
    sm.create_pipeline(
        PipelineName=name,
        RoleArn=ROLE,
        PipelineDefinition=json.dumps({"Version": "2020-12-01", "Parameters": [], "Steps": steps}),
        ParallelismConfiguration={"MaxParallelExecutionSteps": 2},
    )

    def overlap(arn: str) -> int:
        """The most steps that were running at one moment."""
        records = list(pipeline_steps(sm, arn).values())
        return max(
            sum(1 for o in records if o["StartTime"] <= r["StartTime"] < o["EndTime"]) for r in records
        )

    arn = sm.start_pipeline_execution(PipelineName=name)["PipelineExecutionArn"]
    wait_for(lambda: len(pipeline_steps(sm, arn)) >= 1, 30, message="a step")
    assert len(pipeline_steps(sm, arn)) <= 2
    assert wait_pipeline_execution(sm, arn)["PipelineExecutionStatus"] == "Succeeded"
    assert overlap(arn) == 2
    # the execution's own setting wins over the pipeline's
    arn = sm.start_pipeline_execution(
        PipelineName=name, ParallelismConfiguration={"MaxParallelExecutionSteps": 1}
    )["PipelineExecutionArn"]
    assert sm.describe_pipeline_execution(PipelineExecutionArn=arn)["ParallelismConfiguration"] == {
        "MaxParallelExecutionSteps": 1
    }
    assert wait_pipeline_execution(sm, arn)["PipelineExecutionStatus"] == "Succeeded"
    assert overlap(arn) == 1
    ordered = sorted(pipeline_steps(sm, arn).values(), key=lambda r: r["StartTime"])
    assert [r["StepName"] for r in ordered] == ["P0", "P1", "P2"]  # definition order
