"""EndpointConfig and Endpoint steps (the SDK's EndpointConfigStep / EndpointStep): CreateEndpointConfig;
CreateEndpoint — or UpdateEndpoint when the endpoint exists — then wait until it is InService. The names
are the ones in the arguments (the SDK keeps them)."""

from __future__ import annotations

from ...domain.pipeline_executions import classify_create_error
from ...protocol.errors import ServiceError
from .base import Outcome, StepContext, StepHandler, invoke_failure


class EndpointConfigStep(StepHandler):
    def start(self, ctx: StepContext) -> Outcome:
        arguments = ctx.resolve(ctx.step.arguments or {})
        name = arguments.get("EndpointConfigName")
        relaunch = ctx.record.get("_Launching") == name
        ctx.save(_Launching=name)
        try:
            ctx.call("CreateEndpointConfig", arguments)
        except ServiceError as exc:
            # a start a restart interrupted may have made it already
            if not (relaunch and "already exist" in exc.message):
                return Outcome(
                    "Failed",
                    metadata={},
                    failure=invoke_failure("CreateEndpointConfig", exc),
                    retry_kind=classify_create_error(exc.code),
                )
        described = ctx.call("DescribeEndpointConfig", {"EndpointConfigName": name})
        return Outcome(
            "Succeeded",
            metadata={"EndpointConfig": {"Arn": described["EndpointConfigArn"]}},
            properties=described,
        )


class EndpointStep(StepHandler):
    def start(self, ctx: StepContext) -> Outcome:
        arguments = ctx.resolve(ctx.step.arguments or {})
        name = arguments.get("EndpointName")
        try:
            existing = ctx.call("DescribeEndpoint", {"EndpointName": name})
        except ServiceError:
            existing = None
        operation = "UpdateEndpoint" if existing is not None else "CreateEndpoint"
        if existing is not None and ctx.record.get("_Endpoint") == name:
            response = {"EndpointArn": existing["EndpointArn"]}  # this step's own call, before a restart
        else:
            params = (
                {"EndpointName": name, "EndpointConfigName": arguments.get("EndpointConfigName")}
                if existing is not None
                else arguments
            )
            try:
                response = ctx.call(operation, params)
            except ServiceError as exc:
                return Outcome(
                    "Failed",
                    metadata={},
                    failure=invoke_failure(operation, exc),
                    retry_kind=classify_create_error(exc.code),
                )
        ctx.save(_Endpoint=name)
        return Outcome("Executing", metadata={"Endpoint": {"Arn": response["EndpointArn"]}})

    def poll(self, ctx: StepContext) -> Outcome | None:
        name = ctx.record.get("_Endpoint")
        if not name:
            return None
        try:
            endpoint = ctx.call("DescribeEndpoint", {"EndpointName": name})
        except ServiceError as exc:
            if exc.code in ("ValidationException", "ResourceNotFound"):
                return Outcome("Failed", failure=f"ClientError: the endpoint {name} no longer exists.")
            raise
        status = endpoint["EndpointStatus"]
        if status == "InService":
            return Outcome("Succeeded", properties=endpoint)
        if status == "Failed":
            return Outcome(
                "Failed", failure=f"ClientError: {endpoint.get('FailureReason') or 'the endpoint failed'}"
            )
        return None

    def stop(self, ctx: StepContext) -> Outcome | None:
        return Outcome("Stopped")  # the endpoint itself stays (as on AWS): stopping ends the wait


ENDPOINT_CONFIG = EndpointConfigStep()
ENDPOINT = EndpointStep()
