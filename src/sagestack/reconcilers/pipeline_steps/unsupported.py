"""Step types this sagestack accepts in a definition but cannot run yet: they fail when they start,
naming what is missing."""

from __future__ import annotations

from .base import Outcome, StepContext, StepHandler

MISSING = {
    "EMR": "Amazon EMR is not available in this sagestack",
    "AutoML": "SageMaker AutoML (CreateAutoMLJob) is not available in this sagestack",
}


class UnsupportedStep(StepHandler):
    def start(self, ctx: StepContext) -> Outcome:
        what = MISSING.get(ctx.step.type, f"{ctx.step.type} steps are not available in this sagestack")
        return Outcome(
            "Failed",
            metadata={},
            failure=f"ClientError: Step type {ctx.step.type} is not supported by this sagestack: {what}.",
        )


UNSUPPORTED = UnsupportedStep()
