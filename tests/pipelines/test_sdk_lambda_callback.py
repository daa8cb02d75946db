"""A SageMaker SDK pipeline with a LambdaStep (a function created with boto3; its outputs feed a
ConditionStep) and a CallbackStep answered by a worker that receives the step's SQS message and calls
SendPipelineExecutionStepSuccess — or SendPipelineExecutionStepFailure; a failing function fails its step."""

from __future__ import annotations

import io
import json
import threading
import uuid
import zipfile

import pytest

from helpers import ROLE, wait_for

pytest.importorskip("sagemaker")

HANDLER = """
def lambda_handler(event, context):
    n = int(event["n"])
    if n == 0:
        raise ValueError("n must not be 0")
    return {"doubled": n * 2, "label": "n=" + str(n), "nested": {"a": 1}}
"""


def _function(server) -> str:
    lam = server.client("lambda")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", HANDLER)
    name = f"pipe-fn-{uuid.uuid4().hex[:8]}"
    arn = lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=ROLE,
        Handler="app.lambda_handler",
        Code={"ZipFile": buffer.getvalue()},
        Timeout=30,
    )["FunctionArn"]
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    return arn


def _wait(sm, arn: str, timeout: float = 60) -> dict:
    def done():
        desc = sm.describe_pipeline_execution(PipelineExecutionArn=arn)
        return desc if desc["PipelineExecutionStatus"] in ("Succeeded", "Failed", "Stopped") else None

    return wait_for(done, timeout, 0.3, f"pipeline execution {arn}")


def _steps(sm, arn: str) -> dict:
    return {
        s["StepName"]: s
        for s in sm.list_pipeline_execution_steps(PipelineExecutionArn=arn)["PipelineExecutionSteps"]
    }


class Worker(threading.Thread):
    """Receives callback messages and answers each: success (echoing the argument) or failure."""

    def __init__(self, sqs, sm, url: str, fail: bool = False):
        super().__init__(daemon=True)
        self.sqs, self.sm, self.url, self.fail = sqs, sm, url, fail
        self.bodies: list[dict] = []
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            got = self.sqs.receive_message(QueueUrl=self.url, WaitTimeSeconds=1).get("Messages", [])
            for message in got:
                body = json.loads(message["Body"])
                self.bodies.append(body)
                if self.fail:
                    self.sm.send_pipeline_execution_step_failure(
                        CallbackToken=body["token"], FailureReason="worker said no"
                    )
                else:
                    self.sm.send_pipeline_execution_step_success(
                        CallbackToken=body["token"],
                        OutputParameters=[{"Name": "answer", "Value": f"seen {body['arguments']['label']}"}],
                    )
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])
                self.done.set()


def _pipeline(name: str, function_arn: str, queue_url: str):
    from sagemaker.lambda_helper import Lambda
    from sagemaker.workflow.callback_step import CallbackOutput, CallbackOutputTypeEnum, CallbackStep
    from sagemaker.workflow.condition_step import ConditionStep
    from sagemaker.workflow.conditions import ConditionGreaterThanOrEqualTo
    from sagemaker.workflow.fail_step import FailStep
    from sagemaker.workflow.lambda_step import LambdaOutput, LambdaOutputTypeEnum, LambdaStep
    from sagemaker.workflow.parameters import ParameterInteger
    from sagemaker.workflow.pipeline import Pipeline
    from sagemaker.workflow.pipeline_context import PipelineSession

    n = ParameterInteger(name="N", default_value=3)
    doubled = LambdaOutput(output_name="doubled", output_type=LambdaOutputTypeEnum.Integer)
    label = LambdaOutput(output_name="label", output_type=LambdaOutputTypeEnum.String)
    nested = LambdaOutput(output_name="nested", output_type=LambdaOutputTypeEnum.String)
    fn = LambdaStep(
        name="Double",
        lambda_func=Lambda(function_arn=function_arn),
        inputs={"n": n},
        outputs=[doubled, label, nested],
    )
    wait = CallbackStep(
        name="AskWorker",
        sqs_queue_url=queue_url,
        inputs={"label": fn.properties.Outputs["label"], "n": n},
        outputs=[CallbackOutput(output_name="answer", output_type=CallbackOutputTypeEnum.String)],
    )
    check = ConditionStep(
        name="Big",
        conditions=[ConditionGreaterThanOrEqualTo(left=fn.properties.Outputs["doubled"], right=6)],
        if_steps=[wait],
        else_steps=[FailStep(name="Small", error_message="too small")],
    )
    return Pipeline(name=name, parameters=[n], steps=[fn, check], sagemaker_session=PipelineSession())


@pytest.mark.sdk_flow(
    "flow06", "LambdaStep + CallbackStep (SQS worker) + ConditionStep on the Lambda outputs"
)
def test_lambda_outputs_feed_a_condition_and_a_callback_answered_over_sqs(server, sdk_env):
    sm = server.client("sagemaker")
    sqs = server.client("sqs")
    function_arn = _function(server)
    queue_url = sqs.create_queue(QueueName=f"callbacks-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    pipeline = _pipeline(f"lam-cb-{uuid.uuid4().hex[:6]}", function_arn, queue_url)
    pipeline.upsert(role_arn=ROLE)

    worker = Worker(sqs, sm, queue_url)
    worker.start()
    arn = pipeline.start().arn
    desc = _wait(sm, arn)
    worker.done.set()
    assert desc["PipelineExecutionStatus"] == "Succeeded", desc.get("FailureReason")
    steps = _steps(sm, arn)
    assert set(steps) == {"Double", "Big", "AskWorker"}
    outputs = {o["Name"]: o["Value"] for o in steps["Double"]["Metadata"]["Lambda"]["OutputParameters"]}
    assert steps["Double"]["Metadata"]["Lambda"]["Arn"] == function_arn
    assert outputs == {"doubled": "6", "label": "n=3", "nested": '{"a": 1}'}
    assert steps["Big"]["Metadata"] == {"Condition": {"Outcome": "True"}}
    callback = steps["AskWorker"]["Metadata"]["Callback"]
    token = callback["CallbackToken"]
    assert callback["SqsQueueUrl"] == queue_url
    assert callback["OutputParameters"] == [{"Name": "answer", "Value": "seen n=3"}]
    assert worker.bodies == [
        {
            "token": token,
            "pipelineExecutionArn": arn,
            "arguments": {"label": "n=3", "n": 3},
            "status": "Executing",
        }
    ]

    # the else branch: the Lambda's output decides
    small = pipeline.start(parameters={"N": 1}).arn
    desc = _wait(sm, small)
    assert desc["PipelineExecutionStatus"] == "Failed"
    steps = _steps(sm, small)
    assert steps["Small"]["FailureReason"] == "too small" and "AskWorker" not in steps


def test_callback_failure_and_failing_function(server, sdk_env):
    sm = server.client("sagemaker")
    sqs = server.client("sqs")
    function_arn = _function(server)
    queue_url = sqs.create_queue(QueueName=f"callbacks-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    pipeline = _pipeline(f"lam-cb-f-{uuid.uuid4().hex[:6]}", function_arn, queue_url)
    pipeline.upsert(role_arn=ROLE)

    worker = Worker(sqs, sm, queue_url, fail=True)
    worker.start()
    arn = pipeline.start().arn
    desc = _wait(sm, arn)
    worker.done.set()
    assert desc["PipelineExecutionStatus"] == "Failed"
    step = _steps(sm, arn)["AskWorker"]
    assert step["StepStatus"] == "Failed" and step["FailureReason"] == "worker said no"
    assert (
        "OutputParameters" not in step["Metadata"]["Callback"]
        or not step["Metadata"]["Callback"]["OutputParameters"]
    )

    # the handler raises: the step fails with the function's error
    broken = pipeline.start(parameters={"N": 0}).arn
    assert _wait(sm, broken)["PipelineExecutionStatus"] == "Failed"
    step = _steps(sm, broken)["Double"]
    assert step["StepStatus"] == "Failed"
    assert step["FailureReason"] == (
        f"ClientError: Lambda function {function_arn} failed (Unhandled): ValueError: n must not be 0"
    )
    assert step["Metadata"] == {"Lambda": {"Arn": function_arn}}
