"""Model (CreateModel) and RegisterModel (CreateModelPackage) steps: one synchronous call, then the
Describe* answer as the step's properties."""

from __future__ import annotations

from ...domain.pipeline_executions import classify_create_error, job_name
from ...protocol.errors import ServiceError
from .base import Outcome, StepContext, StepHandler, invoke_failure


class ModelStep(StepHandler):
    def start(self, ctx: StepContext) -> Outcome:
        arguments = dict(ctx.resolve(ctx.step.arguments or {}))
        name = ctx.record.get("_Job") or job_name(ctx.execution_id, ctx.step.name)
        ctx.save(_Job=name)
        arguments["ModelName"] = name
        try:
            ctx.call("CreateModel", arguments)
        except ServiceError as exc:
            if "already exist" not in exc.message:  # (a start a restart interrupted made it)
                return Outcome(
                    "Failed",
                    metadata={},
                    failure=invoke_failure("CreateModel", exc),
                    retry_kind=classify_create_error(exc.code),
                )
        described = ctx.call("DescribeModel", {"ModelName": name})
        return Outcome("Succeeded", metadata={"Model": {"Arn": described["ModelArn"]}}, properties=described)


class RegisterModelStep(StepHandler):
    def start(self, ctx: StepContext) -> Outcome:
        arguments = dict(ctx.resolve(ctx.step.arguments or {}))
        if not arguments.get("ModelPackageGroupName") and not arguments.get("ModelPackageName"):
            arguments["ModelPackageName"] = ctx.record.get("_Job") or job_name(
                ctx.execution_id, ctx.step.name
            )
            ctx.save(_Job=arguments["ModelPackageName"])
        elif ctx.record.get("_PackageArn"):
            described = ctx.call("DescribeModelPackage", {"ModelPackageName": ctx.record["_PackageArn"]})
            return self._done(described)
        try:
            created = ctx.call("CreateModelPackage", arguments)
        except ServiceError as exc:
            return Outcome(
                "Failed",
                metadata={},
                failure=invoke_failure("CreateModelPackage", exc),
                retry_kind=classify_create_error(exc.code),
            )
        ctx.save(_PackageArn=created["ModelPackageArn"])
        described = ctx.call("DescribeModelPackage", {"ModelPackageName": created["ModelPackageArn"]})
        return self._done(described)

    @staticmethod
    def _done(described: dict) -> Outcome:
        return Outcome(
            "Succeeded",
            metadata={"RegisterModel": {"Arn": described["ModelPackageArn"]}},
            properties=described,
        )


MODEL = ModelStep()
REGISTER_MODEL = RegisterModelStep()
