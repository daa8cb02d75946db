"""The engine's side of Callback and Lambda steps, in-process with stand-ins for the delivery
(``pipeline_steps.callback._deliver_callback``) and the invocation (``pipeline_steps.functions._invoke_lambda``,
run off the engine's pass): the Callback step waits for SendPipelineExecutionStepSuccess / Failure (its
OutputParameters typed and usable downstream), the Lambda step's outputs likewise, Stop with a waiting
callback. Over HTTP with real SQS queues and Lambda functions: test_sdk_lambda_callback.py."""

from __future__ import annotations

import json
import threading
import time

import pytest

from sagestack.domain.pipeline_executions import EXECUTION
from sagestack.platform import Platform
from sagestack.protocol.errors import ServiceError
from sagestack.reconcilers import pipelines as engine
from sagestack.reconcilers.pipeline_steps import callback, functions
from sagestack.services import calls
from sagestack.settings import Settings

ROLE = "arn:aws:iam::000000000000:role/SageStackExecutionRole"


@pytest.fixture
def world(tmp_path, monkeypatch):
    platform = Platform(Settings.from_env(data_dir=tmp_path / "data"))
    calls.start(platform)
    loop = engine.PipelineReconciler(platform)
    sent: list[tuple[str, dict]] = []
    monkeypatch.setattr(callback, "_deliver_callback", lambda ctx, url, body: sent.append((url, body)))
    monkeypatch.setattr(
        functions,
        "_invoke_lambda",
        lambda ctx, arn, event: ({"doubled": str(event["n"] * 2), "extra": "x"}, None),
    )
    caller = platform.get_component("api-calls")

    def api(operation: str, **params):
        return caller.call(
            "sagemaker", operation, params, account_id="000000000000", region="us-east-1", principal_arn=ROLE
        )

    return platform, loop, api, sent


def _settle(loop, api, arn, timeout: float = 10.0) -> None:
    """Passes until no step is Executing any more (a Lambda step's invocation runs off the pass)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        loop.step()
        if (
            api("DescribePipelineExecution", PipelineExecutionArn=arn)["PipelineExecutionStatus"]
            != "Executing"
        ):
            return
        time.sleep(0.05)


STEPS = [
    {
        "Name": "Wait",
        "Type": "Callback",
        "SqsQueueUrl": "https://sqs.us-east-1.amazonaws.com/000000000000/q",
        "OutputParameters": [{"OutputName": "count", "OutputType": "Integer"}],
        "Arguments": {"n": {"Get": "Parameters.N"}},
    },
    {
        "Name": "Fn",
        "Type": "Lambda",
        "FunctionArn": "arn:aws:lambda:us-east-1:000000000000:function:f",
        "OutputParameters": [{"OutputName": "doubled", "OutputType": "Integer"}],
        "Arguments": {"n": {"Get": "Steps.Wait.OutputParameters['count']"}},
    },
    {
        "Name": "Check",
        "Type": "Condition",
        "Arguments": {
            "Conditions": [
                {
                    "Type": "Equals",
                    "LeftValue": {"Get": "Steps.Fn.OutputParameters['doubled']"},
                    "RightValue": 8,
                }
            ]
        },
    },
]


def _start(api, name="hooks"):
    api(
        "CreatePipeline",
        PipelineName=name,
        RoleArn=ROLE,
        ClientRequestToken="t" * 32,
        PipelineDefinition=json.dumps(
            {
                "Version": "2020-12-01",
                "Parameters": [{"Name": "N", "Type": "Integer", "DefaultValue": 1}],
                "Steps": STEPS,
            }
        ),
    )
    return api(
        "StartPipelineExecution",
        PipelineName=name,
        ClientRequestToken="s" * 32,
        PipelineParameters=[{"Name": "N", "Value": "3"}],
    )["PipelineExecutionArn"]


def _steps(api, arn):
    return {
        s["StepName"]: s
        for s in api("ListPipelineExecutionSteps", PipelineExecutionArn=arn)["PipelineExecutionSteps"]
    }


def test_callback_answer_flows_into_the_lambda_and_the_condition(world):
    platform, loop, api, sent = world
    arn = _start(api)
    loop.step()
    steps = _steps(api, arn)
    assert steps["Wait"]["StepStatus"] == "Executing" and set(steps) == {"Wait"}
    token = steps["Wait"]["Metadata"]["Callback"]["CallbackToken"]
    assert len(token) == 10
    assert sent == [
        (
            "https://sqs.us-east-1.amazonaws.com/000000000000/q",
            {"token": token, "pipelineExecutionArn": arn, "arguments": {"n": 3}, "status": "Executing"},
        )
    ]
    loop.step()  # nothing changes while no answer came
    assert _steps(api, arn)["Wait"]["StepStatus"] == "Executing"
    assert (
        api(
            "SendPipelineExecutionStepSuccess",
            CallbackToken=token,
            OutputParameters=[{"Name": "count", "Value": "4"}],
        )["PipelineExecutionArn"]
        == arn
    )
    with pytest.raises(ServiceError) as info:  # answered already
        api("SendPipelineExecutionStepSuccess", CallbackToken=token)
    assert info.value.code == "ConflictException"
    _settle(loop, api, arn)
    steps = _steps(api, arn)
    assert steps["Wait"]["StepStatus"] == "Succeeded"
    assert steps["Wait"]["Metadata"]["Callback"]["OutputParameters"] == [{"Name": "count", "Value": "4"}]
    assert steps["Fn"]["Metadata"] == {
        "Lambda": {
            "Arn": "arn:aws:lambda:us-east-1:000000000000:function:f",
            "OutputParameters": [{"Name": "doubled", "Value": "8"}],
        }
    }
    assert steps["Check"]["Metadata"] == {"Condition": {"Outcome": "True"}}
    assert (
        api("DescribePipelineExecution", PipelineExecutionArn=arn)["PipelineExecutionStatus"] == "Succeeded"
    )


def test_callback_failure_and_stop(world):
    platform, loop, api, sent = world
    arn = _start(api, "hooks-fail")
    loop.step()
    token = _steps(api, arn)["Wait"]["Metadata"]["Callback"]["CallbackToken"]
    api("SendPipelineExecutionStepFailure", CallbackToken=token, FailureReason="worker said no")
    loop.step()
    steps = _steps(api, arn)
    assert steps["Wait"]["StepStatus"] == "Failed" and steps["Wait"]["FailureReason"] == "worker said no"
    assert api("DescribePipelineExecution", PipelineExecutionArn=arn)["PipelineExecutionStatus"] == "Failed"

    # Stop while a callback waits: a "Stopping" message, then Stopped once the worker answers
    api(
        "CreatePipeline",
        PipelineName="hooks-stop",
        RoleArn=ROLE,
        ClientRequestToken="u" * 32,
        PipelineDefinition=json.dumps(
            {"Version": "2020-12-01", "Parameters": [{"Name": "N", "Type": "Integer"}], "Steps": STEPS[:1]}
        ),
    )
    arn = api(
        "StartPipelineExecution",
        PipelineName="hooks-stop",
        ClientRequestToken="v" * 32,
        PipelineParameters=[{"Name": "N", "Value": "1"}],
    )["PipelineExecutionArn"]
    loop.step()
    token = _steps(api, arn)["Wait"]["Metadata"]["Callback"]["CallbackToken"]
    api("StopPipelineExecution", PipelineExecutionArn=arn, ClientRequestToken="w" * 32)
    loop.step()
    assert sent[-1][1]["status"] == "Stopping" and sent[-1][1]["token"] == token
    assert _steps(api, arn)["Wait"]["StepStatus"] == "Stopping"
    assert api("DescribePipelineExecution", PipelineExecutionArn=arn)["PipelineExecutionStatus"] == "Stopping"
    api("SendPipelineExecutionStepFailure", CallbackToken=token, FailureReason="stopped by worker")
    loop.step()
    assert _steps(api, arn)["Wait"]["StepStatus"] == "Stopped"
    row = platform.resources.get("000000000000", "us-east-1", EXECUTION, arn.rsplit("/", 1)[-1])
    assert row.status == "Stopped"


def _lambda_only(api, name: str) -> str:
    api(
        "CreatePipeline",
        PipelineName=name,
        RoleArn=ROLE,
        ClientRequestToken=(name * 32)[:32],
        PipelineDefinition=json.dumps(
            {
                "Version": "2020-12-01",
                "Steps": [
                    {
                        "Name": "Fn",
                        "Type": "Lambda",
                        "FunctionArn": "arn:aws:lambda:us-east-1:000000000000:function:f",
                        "OutputParameters": [{"OutputName": "doubled", "OutputType": "Integer"}],
                        "Arguments": {"n": 2},
                    }
                ],
            }
        ),
    )
    return api("StartPipelineExecution", PipelineName=name, ClientRequestToken=(name * 32)[-32:])[
        "PipelineExecutionArn"
    ]


def test_a_stop_waits_for_the_running_function(world, monkeypatch):
    platform, loop, api, _ = world
    release = threading.Event()

    def slow(ctx, arn, event):
        release.wait(10)
        return {"doubled": event["n"] * 2}, None

    monkeypatch.setattr(functions, "_invoke_lambda", slow)
    arn = _lambda_only(api, "lam-stop")
    loop.step()
    assert _steps(api, arn)["Fn"]["StepStatus"] == "Executing"
    loop.step()  # the function still runs: nothing changes
    assert _steps(api, arn)["Fn"]["StepStatus"] == "Executing"
    api("StopPipelineExecution", PipelineExecutionArn=arn, ClientRequestToken="x" * 32)
    loop.step()
    assert _steps(api, arn)["Fn"]["StepStatus"] == "Stopping"
    release.set()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _steps(api, arn)["Fn"]["StepStatus"] == "Stopping":
        loop.step()
        time.sleep(0.05)
    assert _steps(api, arn)["Fn"]["StepStatus"] == "Stopped"
    assert api("DescribePipelineExecution", PipelineExecutionArn=arn)["PipelineExecutionStatus"] == "Stopped"


def test_a_function_lost_to_a_restart_fails_its_step(world, monkeypatch, tmp_path):
    platform, loop, api, _ = world
    release = threading.Event()

    def slow(ctx, arn, event):
        release.wait(10)
        return {}, None

    monkeypatch.setattr(functions, "_invoke_lambda", slow)
    arn = _lambda_only(api, "lam-restart")
    loop.step()
    assert _steps(api, arn)["Fn"]["StepStatus"] == "Executing"
    # a second server on the same store: the invocation in flight is not known there
    restarted = Platform(Settings.from_env(data_dir=tmp_path / "data"))
    calls.start(restarted)
    engine.PipelineReconciler(restarted).step()
    release.set()
    step = _steps(api, arn)["Fn"]
    assert step["StepStatus"] == "Failed"
    assert step["FailureReason"] == (
        "ClientError: the server restarted while Lambda function "
        "arn:aws:lambda:us-east-1:000000000000:function:f was running; its answer was lost."
    )


def test_a_cached_lambda_step_is_not_invoked_again(world, monkeypatch):
    platform, loop, api, _ = world
    invoked: list[dict] = []

    def count(ctx, arn, event):
        invoked.append(event)
        return {"doubled": event["n"] * 2}, None

    monkeypatch.setattr(functions, "_invoke_lambda", count)
    step = {
        "Name": "Fn",
        "Type": "Lambda",
        "FunctionArn": "arn:aws:lambda:us-east-1:000000000000:function:f",
        "OutputParameters": [{"OutputName": "doubled", "OutputType": "Integer"}],
        "Arguments": {"n": {"Get": "Parameters.N"}},
        "CacheConfig": {"Enabled": True, "ExpireAfter": "PT1H"},
    }
    api(
        "CreatePipeline",
        PipelineName="lam-cache",
        RoleArn=ROLE,
        ClientRequestToken="c" * 32,
        PipelineDefinition=json.dumps(
            {
                "Version": "2020-12-01",
                "Parameters": [{"Name": "N", "Type": "Integer", "DefaultValue": 1}],
                "Steps": [step],
            }
        ),
    )
    runs = []
    for token, n in (("d", 5), ("e", 5), ("f", 6)):
        arn = api(
            "StartPipelineExecution",
            PipelineName="lam-cache",
            ClientRequestToken=token * 32,
            PipelineParameters=[{"Name": "N", "Value": str(n)}],
        )["PipelineExecutionArn"]
        _settle(loop, api, arn)
        runs.append((arn, _steps(api, arn)["Fn"]))
    assert invoked == [{"n": 5}, {"n": 6}]  # the second run with the same arguments reused the first
    first, second, third = runs
    assert second[1]["CacheHitResult"] == {"SourcePipelineExecutionArn": first[0]}
    assert second[1]["Metadata"] == first[1]["Metadata"]
    assert "CacheHitResult" not in third[1]
    assert third[1]["Metadata"]["Lambda"]["OutputParameters"] == [{"Name": "doubled", "Value": "12"}]
