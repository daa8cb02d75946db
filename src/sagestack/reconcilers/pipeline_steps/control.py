"""Condition and Fail steps: evaluated by the engine itself, nothing created."""

from __future__ import annotations

from ...domain.pipeline_expressions import condition, to_string
from .base import Outcome, StepContext, StepHandler


class ConditionStep(StepHandler):
    def start(self, ctx: StepContext) -> Outcome:
        conditions = (ctx.step.arguments or {}).get("Conditions") or []
        outcome = all(condition(item, ctx.scope) for item in conditions)
        return Outcome(
            "Succeeded",
            metadata={"Condition": {"Outcome": "True" if outcome else "False"}},
            properties={"Outcome": outcome},
        )


class FailStep(StepHandler):
    def start(self, ctx: StepContext) -> Outcome:
        message = to_string(ctx.resolve((ctx.step.arguments or {}).get("ErrorMessage", "")))
        return Outcome(
            "Failed",
            metadata={"Fail": {"ErrorMessage": message}},
            failure=message or None,
            extra={"_FailStep": True},
        )


CONDITION = ConditionStep()
FAIL = FailStep()
