"""What a step-type handler gets and gives back.

A handler (one per step family: :mod:`.jobs`, :mod:`.models`, :mod:`.control`, :mod:`.callback`,
:mod:`.functions`, :mod:`.unsupported`) has ``start(ctx) -> Outcome``, ``poll(ctx) -> Outcome | None``
(None: nothing changed) and ``stop(ctx) -> Outcome | None``. The engine (reconcilers.pipelines) records
outcomes, applies retry policies and caching, and schedules the graph; handlers only act for one step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ...domain.pipeline_expressions import Scope, evaluate
from ...domain.pipelines import StepDef
from ...protocol.errors import ServiceError


@dataclass
class Outcome:
    status: str  # "Executing" | "Stopping" | "Succeeded" | "Failed" | "Stopped"
    metadata: dict | None = None
    properties: Any = None
    failure: str | None = None
    #: The retry ExceptionType this failure is (``SageMaker.CAPACITY_ERROR``…), or None.
    retry_kind: str | None = None
    #: Members to store on the step record besides (``_Job``, ``_CacheKey``, ``CacheHitResult``…).
    extra: dict = field(default_factory=dict)


@dataclass
class StepContext:
    step: StepDef
    record: dict
    execution: dict  # the execution's description
    scope: Scope
    #: ``call(operation, params)``: a SageMaker API call in-process (raises ServiceError).
    call: Callable[[str, dict], dict]
    #: ``save(**members)``: write members onto the step record now (before an action that must not be
    #: repeated blindly after a crash, e.g. the job name before CreateTrainingJob).
    save: Callable[..., None]
    #: ``cached(step_type, key)``: the record of the newest reusable run of this step, or None.
    cached: Callable[[str], dict | None]
    #: ``clock()``: now (UTC).
    clock: Callable[[], Any]
    #: ``call_service(service, operation, params)``: any service's API in-process (``"sqs"``,
    #: ``"lambda"``… once they exist), as the pipeline's caller; raises ServiceError.
    call_service: Callable[[str, str, dict], dict] | None = None
    #: The platform (for the domain calls a step makes as the service would: SQS, Lambda).
    platform: Any = None
    #: ``wake()``: run the engine's next pass now (work done off the pass calls it when it ends).
    wake: Callable[[], None] | None = None

    @property
    def account(self) -> str:
        return self.execution["PipelineExecutionArn"].split(":")[4]

    @property
    def region(self) -> str:
        return self.execution["PipelineExecutionArn"].split(":")[3]

    @property
    def execution_id(self) -> str:
        return self.execution["PipelineExecutionArn"].rsplit("/", 1)[-1]

    @property
    def execution_arn(self) -> str:
        return self.execution["PipelineExecutionArn"]

    def resolve(self, value: Any) -> Any:
        return evaluate(value, self.scope)


class StepHandler:
    def start(self, ctx: StepContext) -> Outcome:  # pragma: no cover - interface
        raise NotImplementedError

    def poll(self, ctx: StepContext) -> Outcome | None:
        return None

    def stop(self, ctx: StepContext) -> Outcome | None:
        return Outcome("Stopped")


def invoke_failure(operation: str, error: ServiceError) -> str:
    """How a rejected synchronous call reads in the step's FailureReason."""
    return f"ClientError: Failed to invoke sagemaker:{operation}. Error Details: {error.message}"
