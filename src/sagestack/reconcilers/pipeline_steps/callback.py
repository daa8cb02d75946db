"""Callback steps: a token, a message to the step's SQS queue, then Executing until
SendPipelineExecutionStepSuccess / Failure answers (its OutputParameters become the step's properties).

The message goes out through :func:`_deliver_callback` to sagestack's own SQS (the queue named by the
URL's account and queue name, whatever its host); a queue that does not exist fails the step, as on AWS.
"""

from __future__ import annotations

import json

from ...domain import queues
from ...domain.pipeline_executions import new_token
from ...domain.pipeline_expressions import ExpressionError, parse_parameter
from .base import Outcome, StepContext, StepHandler

#: The SQS error codes a QueueError kind reads as (the wording SQS clients see).
SQS_CODES = {
    "NotFound": "AWS.SimpleQueueService.NonExistentQueue",
    "MessageTooLong": "InvalidParameterValue",
    "InvalidParameter": "InvalidParameterValue",
}


def _deliver_callback(ctx: StepContext, queue_url: str, body: dict) -> str | None:
    """Send the callback message ``body`` (JSON) to ``queue_url``; returns None when sent, else the
    reason it could not be (the step fails with it)."""
    try:
        queues.send_message(
            ctx.platform,
            account=ctx.account,
            region=ctx.region,
            queue_url=queue_url,
            body=json.dumps(body),
        )
    except queues.QueueError as exc:
        code = SQS_CODES.get(exc.kind, exc.kind)
        return f"ClientError: Failed to send message to {queue_url}: {code}: {exc.message}"
    return None


def message_body(ctx: StepContext, token: str, arguments: dict, status: str = "Executing") -> dict:
    return {
        "token": token,
        "pipelineExecutionArn": ctx.execution_arn,
        "arguments": arguments,
        "status": status,
    }


def typed_outputs(declared: list[dict], supplied: list[dict]) -> dict:
    """OutputParameters as the step's property document (values converted to the declared types)."""
    kinds = {o.get("OutputName"): o.get("OutputType", "String") for o in declared or []}
    out = {}
    for item in supplied or []:
        kind = kinds.get(item["Name"], "String")
        try:
            out[item["Name"]] = parse_parameter(item["Name"], kind, item.get("Value", ""))
        except ExpressionError:
            out[item["Name"]] = item.get("Value", "")
    return {"OutputParameters": out}


class CallbackStep(StepHandler):
    def start(self, ctx: StepContext) -> Outcome:
        arguments = ctx.resolve(ctx.step.arguments or {})
        queue = ctx.step.raw.get("SqsQueueUrl", "")
        token = ctx.record.get("_Token") or new_token()
        metadata = {"Callback": {"CallbackToken": token, "SqsQueueUrl": queue}}
        ctx.save(_Token=token, Metadata=metadata)
        problem = _deliver_callback(ctx, queue, message_body(ctx, token, arguments))
        if problem is not None:
            return Outcome("Failed", metadata=metadata, failure=problem)
        return Outcome("Executing", metadata=metadata)

    def poll(self, ctx: StepContext) -> Outcome | None:
        answer = ctx.record.get("_Callback")
        if answer is None:
            return None
        metadata = dict(ctx.record.get("Metadata") or {})
        callback = dict(metadata.get("Callback") or {})
        if answer.get("Status") == "Success":
            callback["OutputParameters"] = answer.get("OutputParameters") or []
            return Outcome(
                "Succeeded",
                metadata={"Callback": callback},
                properties=typed_outputs(
                    ctx.step.raw.get("OutputParameters"), answer.get("OutputParameters")
                ),
            )
        if ctx.record.get("StepStatus") == "Stopping":
            return Outcome("Stopped", metadata={"Callback": callback})
        return Outcome("Failed", metadata={"Callback": callback}, failure=answer.get("FailureReason") or None)

    def stop(self, ctx: StepContext) -> Outcome | None:
        # AWS sends a "Stopping" message and waits for the answer; when the queue is gone, stop now.
        queue = ctx.step.raw.get("SqsQueueUrl", "")
        token = ctx.record.get("_Token", "")
        problem = _deliver_callback(ctx, queue, message_body(ctx, token, {}, "Stopping"))
        return Outcome("Stopped") if problem is not None else Outcome("Stopping")


CALLBACK = CallbackStep()
