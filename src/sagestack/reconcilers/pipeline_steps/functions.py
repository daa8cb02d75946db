"""Lambda steps: invoke the function (sagestack's Lambda, :func:`sagestack.execution.functions.invoke`)
with the resolved Arguments as the event; the declared OutputParameters read from its JSON answer become
the step's properties.

The invocation runs off the engine's pass, on the platform's :class:`LambdaSteps` pool (a function may
run for up to its Timeout); the step stays Executing until it ends and the engine is woken then. A
server restart loses the invocation in flight: the step then fails, saying so (a function is not
idempotent, so it is not run a second time behind the caller's back).
"""

from __future__ import annotations

import hashlib
import json
import threading
from concurrent.futures import Future, ThreadPoolExecutor

from ...domain.functions import FunctionError
from ...execution import functions
from .base import Outcome, StepContext, StepHandler
from .callback import typed_outputs

#: FunctionError kind → the Lambda error code a client would have seen.
LAMBDA_CODES = {
    "NotFound": "ResourceNotFoundException",
    "Conflict": "ResourceConflictException",
    "InvalidRuntime": "InvalidRuntimeException",
    "InvalidRequestContent": "InvalidRequestContentException",
}


def _invoke_lambda(ctx: StepContext, function_arn: str, event: dict) -> tuple[dict | None, str | None]:
    """(the function's JSON answer, None) or (None, the reason the step fails). Synchronous: it is run
    on the :class:`LambdaSteps` pool, never on the engine's pass."""
    region = function_arn.split(":")[3] if function_arn.startswith("arn:") else ctx.region
    try:
        invocation = functions.invoke(
            ctx.platform,
            account=ctx.account,
            region=region or ctx.region,
            function=function_arn,
            payload=json.dumps(event).encode(),
        )
    except FunctionError as exc:
        code = LAMBDA_CODES.get(exc.kind, exc.kind)
        return None, f"ClientError: Failed to invoke Lambda function {function_arn}: {code}: {exc.message}"
    if invocation.function_error:
        try:
            error = json.loads(invocation.payload or b"{}")
        except ValueError:
            error = {}
        detail = (
            ": ".join(
                str(error[k])
                for k in ("errorType", "errorMessage")
                if isinstance(error, dict) and error.get(k)
            )
            or invocation.payload.decode("utf-8", "replace")[:500]
        )
        return (
            None,
            f"ClientError: Lambda function {function_arn} failed ({invocation.function_error}): {detail}",
        )
    try:
        answer = json.loads(invocation.payload) if invocation.payload.strip() else {}
    except ValueError:
        answer = None
    if answer is None:
        answer = {}
    if not isinstance(answer, dict):
        return None, (
            f"ClientError: Lambda function {function_arn} returned {type(answer).__name__}; "
            "a Lambda step needs a JSON object with its output parameters."
        )
    return answer, None


def output_value(value) -> str:
    """An output parameter's text: strings as they are, anything else (numbers, booleans, nested values)
    as JSON."""
    return value if isinstance(value, str) else json.dumps(value)


class LambdaSteps:
    """The Lambda step invocations in flight on this server, by (execution ARN, step, attempt)."""

    def __init__(self, platform):
        self.pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="pipeline-lambda")
        self._futures: dict[tuple[str, str, int], Future] = {}
        self._lock = threading.Lock()
        platform.on_shutdown(lambda: self.pool.shutdown(wait=False, cancel_futures=True))

    def submit(self, key: tuple[str, str, int], run, done) -> None:
        future = self.pool.submit(run)
        future.add_done_callback(lambda _f: done())
        with self._lock:
            self._futures[key] = future

    def get(self, key: tuple[str, str, int]) -> Future | None:
        with self._lock:
            return self._futures.get(key)

    def forget(self, key: tuple[str, str, int]) -> None:
        with self._lock:
            self._futures.pop(key, None)


def _runs(ctx: StepContext) -> LambdaSteps:
    return ctx.platform.component("pipeline-lambda-steps", LambdaSteps)


def _key(ctx: StepContext) -> tuple[str, str, int]:
    return (ctx.execution_arn, ctx.step.name, int(ctx.record.get("AttemptCount") or 1))


def lambda_cache_key(function_arn: str, event) -> str:
    text = json.dumps(["Lambda", function_arn, event], sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


class LambdaStep(StepHandler):
    def start(self, ctx: StepContext) -> Outcome:
        function_arn = ctx.step.raw.get("FunctionArn", "")
        event = ctx.resolve(ctx.step.arguments or {})
        metadata = {"Lambda": {"Arn": function_arn}}
        key = lambda_cache_key(function_arn, event)
        if (ctx.step.raw.get("CacheConfig") or {}).get("Enabled"):
            source = ctx.cached(key)
            if source is not None:
                return Outcome(
                    "Succeeded",
                    metadata=source.get("Metadata"),
                    properties=source.get("_Properties"),
                    extra={
                        "_CacheKey": key,
                        "CacheHitResult": {"SourcePipelineExecutionArn": source["_SourceExecution"]},
                    },
                )
        _runs(ctx).submit(
            _key(ctx), lambda: _invoke_lambda(ctx, function_arn, event), ctx.wake or (lambda: None)
        )
        return Outcome("Executing", metadata=metadata, extra={"_CacheKey": key})

    def poll(self, ctx: StepContext) -> Outcome | None:
        function_arn = ctx.step.raw.get("FunctionArn", "")
        runs = _runs(ctx)
        key = _key(ctx)
        future = runs.get(key)
        if future is None:
            return Outcome(
                "Failed",
                failure=(
                    f"ClientError: the server restarted while Lambda function {function_arn} was running; "
                    "its answer was lost."
                ),
            )
        if not future.done():
            return None
        runs.forget(key)
        try:
            answer, problem = future.result()
        except Exception as exc:  # a bug must not leave the step Executing
            answer, problem = None, f"InternalError: {type(exc).__name__}: {exc}"
        if problem is not None:
            return Outcome("Failed", metadata={"Lambda": {"Arn": function_arn}}, failure=problem)
        declared = ctx.step.raw.get("OutputParameters") or []
        outputs = [
            {"Name": o["OutputName"], "Value": output_value(answer[o["OutputName"]])}
            for o in declared
            if o.get("OutputName") in answer
        ]
        status = "Stopped" if ctx.record.get("StepStatus") == "Stopping" else "Succeeded"
        return Outcome(
            status,
            metadata={"Lambda": {"Arn": function_arn, "OutputParameters": outputs}},
            properties=typed_outputs(declared, outputs) if status == "Succeeded" else None,
        )

    def stop(self, ctx: StepContext) -> Outcome | None:
        # AWS waits for the function to end (or time out); the next poll records how it ended.
        future = _runs(ctx).get(_key(ctx))
        if future is None:
            return Outcome("Stopped")
        return Outcome("Stopping")


LAMBDA = LambdaStep()
