"""Pipeline executions: the status machines (execution and step), the execution record and the step
records inside it, and the pure rules the engine applies (job names, retry policies, cache keys).

The execution's description holds the AWS members (``PipelineExecutionStatus``, ``FailureReason``, …)
and, privately: the pinned definition (``_Definition``), the effective parameter values
(``_Parameters``), the supplied ones (``_Supplied``), and ``_Steps``: step name → record
(``StepStatus``, ``StartTime``, ``EndTime``, ``AttemptCount``, ``Metadata``, ``FailureReason``,
``CacheHitResult``, ``SelectiveExecutionResult`` and the engine's ``_Job``, ``_Properties``,
``_CacheKey``, ``_RetryAt``, ``_FirstStart``, ``_Seq``, ``_Token``, ``_Callback``). Steps never started
are absent; steps on a Condition's branch not taken are listed in ``_Skipped``.

Who writes: the handlers (Start records ``Executing``; Stop moves to ``Stopping``; Retry back to
``Executing``; SendPipelineExecutionStep* put a ``_Callback`` answer on the step), and the engine
(reconcilers.pipelines) for everything else — always through :func:`update`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
import string
from collections.abc import Callable

from ..store.resources import Resource
from .state import StateMachine, mutate, utcnow

EXECUTION = "pipeline-execution"

EXECUTION_STATUS = StateMachine(
    "PipelineExecutionStatus",
    {
        "Executing": {"Stopping", "Stopped", "Failed", "Succeeded"},
        "Stopping": {"Stopped", "Failed", "Succeeded"},
        "Stopped": {"Executing"},  # RetryPipelineExecution
        "Failed": {"Executing"},  # RetryPipelineExecution
        "Succeeded": set(),
    },
    field="PipelineExecutionStatus",
)

STEP_STATUS = StateMachine(
    "StepStatus",
    {
        "Starting": {"Executing", "Succeeded", "Failed", "Stopping", "Stopped"},
        "Executing": {"Starting", "Succeeded", "Failed", "Stopping", "Stopped"},
        "Stopping": {"Stopped", "Failed", "Succeeded"},
        "Succeeded": set(),
        "Failed": {"Starting"},  # RetryPipelineExecution re-runs it
        "Stopped": {"Starting"},
    },
)

RUNNING_STEPS = ("Starting", "Executing", "Stopping")
ACTIVE = ("Executing", "Stopping")
STEP_FAILURE = "Step failure: One or multiple steps failed."
INTERRUPTED = "the sagestack server stopped while this step was running, and it could not be resumed: "

_ID_ALPHABET = string.ascii_lowercase + string.digits
_TOKEN_ALPHABET = string.ascii_letters + string.digits


def new_id() -> str:
    return "".join(random.SystemRandom().choices(_ID_ALPHABET, k=12))


def new_token() -> str:
    return "".join(random.SystemRandom().choices(_TOKEN_ALPHABET, k=10))


def execution_arn(pipeline_arn: str, execution_id: str) -> str:
    return f"{pipeline_arn}/execution/{execution_id}"


def execution_id(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


def job_name(execution: str, step: str, limit: int = 63) -> str:
    """``pipelines-<executionId>-<step>-<10 random>``, lower case (AWS shows the names lower-cased in
    the ARNs), the step part cut so that the whole fits ``limit``."""
    suffix = "".join(random.SystemRandom().choices(string.ascii_lowercase + string.digits, k=10))
    if limit < 40:  # tuning jobs: 32 characters
        return f"{execution}-{suffix}"[:limit]
    clean = "".join(c if c.isalnum() or c == "-" else "-" for c in step.lower()).strip("-") or "step"
    room = limit - len("pipelines-") - len(execution) - len(suffix) - 2
    clean = clean[:room].strip("-") or "step"
    return f"pipelines-{execution}-{clean}-{suffix}"


def update(resources, row: Resource, change: Callable[[dict], str | None]) -> Resource | None:
    """One checked read-modify-write of an execution: ``change(data)`` edits the description and returns
    the new execution status or None."""

    def apply(resource: Resource) -> str | None:
        status = change(resource.data)
        resource.data["LastModifiedTime"] = utcnow()
        return status

    return mutate(resources, row.account_id, row.region, EXECUTION, row.name, apply, EXECUTION_STATUS)


def set_step(data: dict, name: str, status: str | None = None, **members) -> dict:
    """Change one step record (creating it on its first start): check the step transition, stamp
    ``EndTime`` on a terminal status; members set to None are removed."""
    steps = data.setdefault("_Steps", {})
    record = steps.get(name)
    if record is None:
        seq = data.get("_Seq", 0) + 1
        data["_Seq"] = seq
        record = {"StepName": name, "_Seq": seq}
        steps[name] = record
    if status is not None:
        if record.get("StepStatus") is not None:
            STEP_STATUS.check(record["StepStatus"], status)
        record["StepStatus"] = status
        if STEP_STATUS.terminal(status):
            record["EndTime"] = utcnow()
        else:
            record.pop("EndTime", None)
    for key, value in members.items():
        if value is None:
            record.pop(key, None)
        else:
            record[key] = value
    return record


def running(data: dict) -> list[dict]:
    return [r for r in (data.get("_Steps") or {}).values() if r.get("StepStatus") in RUNNING_STEPS]


# -- retry policies --------------------------------------------------------------------------


def classify_create_error(code: str) -> str | None:
    if code == "ResourceLimitExceeded":
        return "SageMaker.RESOURCE_LIMIT"
    if code in ("ThrottlingException", "Throttling", "TooManyRequestsException"):
        return "Step.THROTTLING"
    if code in ("InternalFailure", "InternalServerError", "ServiceUnavailable", "InternalError"):
        return "Step.SERVICE_FAULT"
    return None


def classify_job_failure(reason: str) -> str | None:
    text = reason or ""
    if "CapacityError" in text or "InsufficientInstanceCapacity" in text:
        return "SageMaker.CAPACITY_ERROR"
    if text.startswith("InternalServerError") or "InternalServerError:" in text:
        return "SageMaker.JOB_INTERNAL_ERROR"
    return None


DEFAULT_STEP_RETRY = {
    "ExceptionType": ["Step.SERVICE_FAULT", "Step.THROTTLING"],
    "IntervalSeconds": 1,
    "BackoffRate": 2.0,
    "MaxAttempts": 5,
}


def retry_delay(
    policies: list[dict] | None, kind: str | None, record: dict, now: dt.datetime
) -> float | None:
    """Seconds to wait before the next attempt, or None when no policy allows one. ``record``'s
    ``AttemptCount`` is the attempt that just failed."""
    if kind is None:
        return None
    chosen = None
    for policy in policies or []:
        types = policy.get("ExceptionType")
        types = [types] if isinstance(types, str) else types or []
        if kind in types:
            chosen = policy
            break
    if chosen is None and kind in ("Step.SERVICE_FAULT", "Step.THROTTLING"):
        chosen = DEFAULT_STEP_RETRY
    if chosen is None:
        return None
    attempt = int(record.get("AttemptCount") or 1)
    if chosen.get("ExpireAfterMin") is not None:
        first = record.get("_FirstStart") or record.get("StartTime") or now
        if (now - first).total_seconds() >= chosen["ExpireAfterMin"] * 60:
            return None
    else:
        limit = chosen.get("MaxAttempts")
        limit = 5 if limit is None else limit
        if attempt - 1 >= limit:
            return None
    interval = float(chosen.get("IntervalSeconds") or 1)
    rate = float(chosen.get("BackoffRate") or 2.0)
    return interval * rate ** (attempt - 1)


def retry_note(kind: str | None, execution_arn_: str, step: str) -> str:
    token = (kind or "").split(".", 1)[-1]
    prefix = (kind or "").split(".", 1)[0].upper()
    label = f"{prefix}_{token}" if kind else "UNKNOWN"
    return (
        f" Retry not appropriate on execution of step with PipelineExecutionArn {execution_arn_} and "
        f"StepId {step}. No retry policy configured for the exception type {label}."
    )


# -- caching ---------------------------------------------------------------------------------

CACHE_KEY_MEMBERS = {
    "Processing": ("AppSpecification", "Environment", "ProcessingInputs"),
    "Training": (
        "AlgorithmSpecification",
        "CheckpointConfig",
        "DebugHookConfig",
        "DebugRuleConfigurations",
        "Environment",
        "HyperParameters",
        "InputDataConfig",
    ),
    "Tuning": ("HyperParameterTuningJobConfig", "TrainingJobDefinition", "TrainingJobDefinitions"),
    "Transform": ("DataProcessing", "Environment", "ModelName", "TransformInput"),
}


def cache_key(step_type: str, arguments: dict) -> str | None:
    members = CACHE_KEY_MEMBERS.get(step_type)
    if members is None or not isinstance(arguments, dict):
        return None
    subset = {k: arguments.get(k) for k in members}
    text = json.dumps([step_type, subset], sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


# -- what the List* answers show -------------------------------------------------------------

PUBLIC_STEP_MEMBERS = (
    "StepName",
    "StepDisplayName",
    "StepDescription",
    "StartTime",
    "EndTime",
    "StepStatus",
    "CacheHitResult",
    "FailureReason",
    "Metadata",
    "AttemptCount",
    "SelectiveExecutionResult",
)


def public_step(record: dict) -> dict:
    return {k: record[k] for k in PUBLIC_STEP_MEMBERS if record.get(k) is not None}


def summary(row: Resource) -> dict:
    data = row.data
    out = {
        "PipelineExecutionArn": data["PipelineExecutionArn"],
        "StartTime": data["CreationTime"],
        "PipelineExecutionStatus": data["PipelineExecutionStatus"],
        "PipelineExecutionDescription": data.get("PipelineExecutionDescription"),
        "PipelineExecutionDisplayName": data.get("PipelineExecutionDisplayName"),
        "PipelineExecutionFailureReason": data.get("FailureReason"),
    }
    return {k: v for k, v in out.items() if v is not None}


def now() -> dt.datetime:
    return utcnow()
