"""Lambda steps: invoke the function with the resolved Arguments as the event; its answer's declared
OutputParameters become the step's properties.

The call goes through :func:`_invoke_lambda` — the one place the integrator wires to the Lambda service
once it exists; until then it fails the step, saying so.
"""

from __future__ import annotations

from .base import Outcome, StepContext, StepHandler

LAMBDA_MISSING = "the Lambda service is not available in this sagestack"


def _invoke_lambda(ctx: StepContext, function_arn: str, event: dict) -> tuple[dict | None, str | None]:
    """(the function's JSON answer, None) or (None, the reason the step fails). Once sagestack has
    Lambda: ``ctx.call_service("lambda", "Invoke", {"FunctionName": function_arn, "Payload": …})``."""
    return None, f"ClientError: Failed to invoke Lambda function {function_arn}: {LAMBDA_MISSING}."


class LambdaStep(StepHandler):
    def start(self, ctx: StepContext) -> Outcome:
        function_arn = ctx.step.raw.get("FunctionArn", "")
        event = ctx.resolve(ctx.step.arguments or {})
        answer, problem = _invoke_lambda(ctx, function_arn, event)
        if problem is not None:
            return Outcome("Failed", metadata={"Lambda": {"Arn": function_arn}}, failure=problem)
        declared = ctx.step.raw.get("OutputParameters") or []
        outputs = [
            {"Name": o["OutputName"], "Value": str((answer or {}).get(o["OutputName"], ""))} for o in declared
        ]
        from .callback import typed_outputs

        return Outcome(
            "Succeeded",
            metadata={"Lambda": {"Arn": function_arn, "OutputParameters": outputs}},
            properties=typed_outputs(declared, outputs),
        )


LAMBDA = LambdaStep()
