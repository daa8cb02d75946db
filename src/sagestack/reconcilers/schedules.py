"""The scheduler's firing loop: every second, each ENABLED schedule whose next firing time has come is
claimed (its next time written first, so a firing happens at most once), its target is called through
:data:`TARGETS` (keyed by the service of the target's ARN), the outcome is recorded on the schedule
(``_LastFire``, ``_LastResult``), a failed firing is tried again under the target's RetryPolicy
(``_Retry``: exponential backoff from a second, at most a minute apart) and, once its attempts or event
age are used up, goes to the target's dead-letter queue when it names one; a schedule that will not
fire again is deleted when its ActionAfterCompletion says DELETE.

Targets: SQS (SendMessage; SqsParameters.MessageGroupId for FIFO queues), Lambda (an Event invocation,
as Scheduler makes) and SageMaker pipelines (``arn:aws:sagemaker:…:pipeline/NAME`` with
SageMakerPipelineParameters): :func:`start_pipeline_target`, StartPipelineExecution through the
in-process API caller.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from ..domain import queues, schedules
from ..domain.state import mutate
from ..execution import functions
from ..protocol.errors import ServiceError
from ..store.resources import Resource
from .base import Reconciler

log = logging.getLogger("sagestack.scheduler")


@dataclass(frozen=True)
class Firing:
    schedule_arn: str
    scheduled_time: float
    execution_id: str
    attempt: int = 1

    def fill(self, text: str) -> str:
        return schedules.substitute(
            text, self.schedule_arn, self.scheduled_time, self.execution_id, self.attempt
        )


class TargetFailed(Exception):
    """A target that could not be called; the message is recorded on the schedule."""


def _input(target: dict, firing: Firing) -> str:
    return firing.fill(target.get("Input") if target.get("Input") is not None else "{}")


def _region_account(arn: str) -> tuple[str, str]:
    parts = arn.split(":")
    return parts[3], parts[4]


def sqs_target(platform, schedule: Resource, target: dict, firing: Firing) -> str:
    region, account = _region_account(target["Arn"])
    try:
        return queues.send_message(
            platform,
            account=account,
            region=region,
            queue_url=target["Arn"],
            body=_input(target, firing),
            group_id=(target.get("SqsParameters") or {}).get("MessageGroupId"),
        )
    except queues.QueueError as exc:
        raise TargetFailed(f"SQS SendMessage to {target['Arn']} failed: {exc.message}") from None


def lambda_target(platform, schedule: Resource, target: dict, firing: Firing) -> str:
    region, account = _region_account(target["Arn"])
    try:
        return functions.invoke_async(
            platform,
            account=account,
            region=region,
            function=target["Arn"],
            payload=_input(target, firing).encode(),
        )
    except functions.FunctionError as exc:
        raise TargetFailed(f"Lambda Invoke of {target['Arn']} failed: {exc.message}") from None


def pipeline_parameters(target: dict, firing: Firing) -> list[dict]:
    """SageMakerPipelineParameters.PipelineParameterList with Scheduler's context attributes filled in."""
    return [
        {"Name": p["Name"], "Value": firing.fill(str(p.get("Value", "")))}
        for p in (target.get("SageMakerPipelineParameters") or {}).get("PipelineParameterList") or []
    ]


def start_pipeline_target(platform, schedule: Resource, target: dict, firing: Firing) -> str:
    """StartPipelineExecution for a ``arn:aws:sagemaker:<region>:<account>:pipeline/NAME`` target, made
    in-process (services.calls) as the target's role, with ``pipeline_parameters(target, firing)`` and the
    firing's execution id as ClientRequestToken (a retried firing starts no second execution); the
    execution ARN."""
    region, account = _region_account(target["Arn"])
    name = target["Arn"].split(":", 5)[5].split("/", 1)[1]
    caller = platform.get_component("api-calls")
    if caller is None:
        raise TargetFailed("the in-process API caller is not started: the pipeline was not started")
    params: dict = {"PipelineName": name, "ClientRequestToken": firing.execution_id}
    parameters = pipeline_parameters(target, firing)
    if parameters:
        params["PipelineParameters"] = parameters
    try:
        answer = caller.call(
            "sagemaker",
            "StartPipelineExecution",
            params,
            account_id=account,
            region=region,
            principal_arn=target.get("RoleArn") or "",
        )
    except ServiceError as exc:
        raise TargetFailed(
            f"SageMaker StartPipelineExecution of {target['Arn']} failed: {exc.code}: {exc.message}"
        ) from None
    return answer["PipelineExecutionArn"]


#: Target ARN service → how a firing calls it.
TARGETS: dict[str, Callable[[object, Resource, dict, Firing], str]] = {
    "sqs": sqs_target,
    "lambda": lambda_target,
    "sagemaker": start_pipeline_target,
}


def fire(platform, schedule: Resource, firing: Firing) -> str:
    """Call the schedule's target once; the id the target gave (message id, request id, execution ARN)."""
    target = schedule.data["Target"]
    parts = target["Arn"].split(":")
    service = parts[2] if len(parts) > 2 else ""
    call = TARGETS.get(service)
    if call is None:
        raise TargetFailed(f"sagestack does not deliver to {service or target['Arn']} targets")
    return call(platform, schedule, target, firing)


class SchedulesReconciler(Reconciler):
    name = "schedules"
    interval = 1.0

    def step(self) -> None:
        now = time.time()
        due = [s for s in self.platform.resources.in_states(schedules.TYPE, ["ENABLED"]) if _due(s.data, now)]
        self.each(due, self.run, "schedule")

    def run(self, schedule: Resource) -> None:
        claimed: list[Firing] = []

        def claim(row: Resource) -> None:
            now = time.time()
            if row.status != "ENABLED" or not _due(row.data, now):
                return None
            retry = row.data.get("_Retry")
            if retry is not None and retry["Time"] <= now:  # a failed firing's next attempt
                row.data.pop("_Retry")
                claimed.append(Firing(row.arn, retry["Scheduled"], retry["ExecutionId"], retry["Attempt"]))
                return None
            due = row.data["_NextFire"]
            claimed.append(Firing(row.arn, due, str(uuid.uuid4())))
            row.data["_NextFire"] = schedules.plan(row.data, max(due, now))
            row.data["_LastFire"] = due
            return None

        resources = self.platform.resources
        row = mutate(resources, schedule.account_id, schedule.region, schedules.TYPE, schedule.name, claim)
        if row is None or not claimed:
            return
        firing = claimed[0]
        try:
            result = {"Status": "Succeeded", "Id": fire(self.platform, row, firing)}
        except TargetFailed as exc:
            result = {"Status": "Failed", "Error": str(exc)}
        except Exception as exc:  # a target's own failure: recorded, never stops the loop
            log.exception("schedule %s: target failed", row.name)
            result = {"Status": "Failed", "Error": f"{type(exc).__name__}: {exc}"}
        retry_at = None
        if result["Status"] == "Failed":
            retry_at = _retry_time(row.data["Target"], firing, time.time())
            log.warning(
                "schedule %s: attempt %d failed%s: %s",
                row.name,
                firing.attempt,
                "" if retry_at is None else f" (retrying in {retry_at - time.time():.0f} s)",
                result["Error"],
            )
            if retry_at is None:
                self.dead_letter(row, firing, result["Error"])

        def record(resource: Resource) -> None:
            resource.data["_LastResult"] = dict(result, Time=firing.scheduled_time, Attempt=firing.attempt)
            resource.data["_Fires"] = resource.data.get("_Fires", 0) + 1
            if retry_at is not None:
                resource.data["_Retry"] = {
                    "Time": retry_at,
                    "Attempt": firing.attempt + 1,
                    "Scheduled": firing.scheduled_time,
                    "ExecutionId": firing.execution_id,
                }
            return None

        row = mutate(resources, row.account_id, row.region, schedules.TYPE, row.name, record)
        if (
            row is not None
            and row.data.get("_NextFire") is None
            and row.data.get("_Retry") is None
            and row.data.get("ActionAfterCompletion") == "DELETE"
        ):
            resources.delete(row.account_id, row.region, schedules.TYPE, row.name)

    def dead_letter(self, schedule: Resource, firing: Firing, error: str) -> None:
        arn = ((schedule.data["Target"].get("DeadLetterConfig") or {}).get("Arn")) or None
        if not arn:
            return
        region, account = _region_account(arn)
        body = firing.fill(schedule.data["Target"].get("Input") or "{}")
        attributes = {
            "ERROR_CODE": {"DataType": "String", "StringValue": "TargetFailed"},
            "ERROR_MESSAGE": {"DataType": "String", "StringValue": error[:1000]},
            "RETRY_ATTEMPTS": {"DataType": "Number", "StringValue": str(firing.attempt - 1)},
            "EXECUTION_ID": {"DataType": "String", "StringValue": firing.execution_id},
            "TARGET_ARN": {"DataType": "String", "StringValue": schedule.data["Target"]["Arn"]},
        }
        try:
            queues.send_message(
                self.platform, account=account, region=region, queue_url=arn, body=body, attributes=attributes
            )
        except queues.QueueError as exc:
            log.warning("schedule %s: dead-letter queue %s: %s", schedule.name, arn, exc.message)


def _due(data: dict, now: float) -> bool:
    retry = data.get("_Retry")
    if retry is not None and retry["Time"] <= now:
        return True
    return data.get("_NextFire") is not None and data["_NextFire"] <= now


def _retry_time(target: dict, firing: Firing, now: float) -> float | None:
    """When a failed firing is tried again under the target's RetryPolicy (exponential backoff from one
    second, at most a minute apart), or None when its attempts or its event age are used up."""
    policy = target.get("RetryPolicy") or {}
    attempts = int(policy.get("MaximumRetryAttempts", 185))
    max_age = float(policy.get("MaximumEventAgeInSeconds", 86400))
    if firing.attempt > attempts:
        return None
    at = now + min(60.0, 2.0 ** (firing.attempt - 1))
    if at - firing.scheduled_time > max_age:
        return None
    return at


def start(platform) -> None:
    SchedulesReconciler.start(platform)
