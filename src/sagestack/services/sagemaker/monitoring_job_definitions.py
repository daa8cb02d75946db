"""Monitoring job definitions — data quality, model quality, model bias, model explainability:
Create/Describe/List/Delete<Family>JobDefinition. The handlers validate and record; a definition runs
only through a monitoring schedule (``monitoring_schedules.py``; ``domain/monitoring.py``)."""

from __future__ import annotations

import dataclasses

from ...domain import monitoring
from ...domain.monitoring import FAMILIES, Family
from ...protocol.errors import ServiceError
from ...store.resources import FieldFilter, ListQuery
from ..context import RequestContext
from ..errors import in_use_if_exists
from ..registry import OperationTable
from .common import arn, list_query, now

ops = OperationTable("sagemaker")


def _invalid(message: str) -> ServiceError:
    return ServiceError("ValidationException", message)


def check_inputs(
    ctx: RequestContext, mtype: str, endpoint_input: dict | None, batch_input: dict | None, where: str
) -> None:
    """Exactly one of EndpointInput / BatchTransformInput; the endpoint must exist; a model-quality
    input must say where the prediction is."""
    if bool(endpoint_input) == bool(batch_input):
        raise _invalid(f"Exactly one of EndpointInput and BatchTransformInput must be specified in {where}.")
    source = endpoint_input or batch_input
    if endpoint_input:
        name = endpoint_input["EndpointName"]
        if ctx.platform.resources.get(ctx.account_id, ctx.region, "endpoint", name) is None:
            raise _invalid(f'Could not find endpoint "{name}" in {where}.EndpointInput.EndpointName.')
    if mtype == monitoring.MODEL_QUALITY and not (
        source.get("InferenceAttribute") or source.get("ProbabilityAttribute")
    ):
        kind = "EndpointInput" if endpoint_input else "BatchTransformInput"
        raise _invalid(
            f"missing required field, {where}.{kind}.InferenceAttribute (or ProbabilityAttribute): model "
            f"quality monitoring needs the prediction's location in the model output."
        )


def _endpoint_of(job_input: dict) -> str | None:
    return (job_input.get("EndpointInput") or {}).get("EndpointName")


def _create(family: Family):
    def handler(ctx: RequestContext, params: dict) -> dict:
        name = params["JobDefinitionName"]
        job_input = params[family.job_input]
        check_inputs(
            ctx,
            family.monitoring_type,
            job_input.get("EndpointInput"),
            job_input.get("BatchTransformInput"),
            f"Create{family.prefix}JobDefinitionInput.{family.prefix}JobInputs",
        )
        if family.monitoring_type in (monitoring.MODEL_QUALITY, monitoring.MODEL_BIAS):
            if not (job_input.get("GroundTruthS3Input") or {}).get("S3Uri"):
                raise _invalid(f"{family.job_input}.GroundTruthS3Input.S3Uri is required.")
        definition_arn = arn(ctx, family.resource_type, name)
        description = {k: v for k, v in params.items() if k != "Tags"}
        description.update(JobDefinitionArn=definition_arn, CreationTime=now())
        endpoint = _endpoint_of(job_input)
        if endpoint:
            description["_EndpointName"] = endpoint
        with in_use_if_exists(f"Job definition {name} already exists ({definition_arn})."):
            ctx.platform.resources.create(
                ctx.account_id,
                ctx.region,
                family.resource_type,
                name,
                definition_arn,
                description,
                tag_list=params.get("Tags"),
            )
        return {"JobDefinitionArn": definition_arn}

    return handler


def get_definition(ctx: RequestContext, family: Family, name: str):
    row = ctx.platform.resources.get(ctx.account_id, ctx.region, family.resource_type, name)
    if row is None:
        raise ServiceError("ResourceNotFound", f"Could not find job definition with name {name}.")
    return row


def _describe(family: Family):
    def handler(ctx: RequestContext, params: dict) -> dict:
        row = get_definition(ctx, family, params["JobDefinitionName"])
        return {k: v for k, v in row.data.items() if not k.startswith("_")}

    return handler


def _list(family: Family):
    def handler(ctx: RequestContext, params: dict) -> dict:
        query = list_query(params)
        if params.get("EndpointName"):
            query = dataclasses.replace(
                query, fields=(FieldFilter.equals("_EndpointName", params["EndpointName"]),)
            )
        rows, token = ctx.platform.resources.list(ctx.account_id, ctx.region, family.resource_type, query)
        summaries = []
        for row in rows:
            item = {
                "MonitoringJobDefinitionName": row.name,
                "MonitoringJobDefinitionArn": row.arn,
                "CreationTime": row.data["CreationTime"],
            }
            if row.data.get("_EndpointName"):
                item["EndpointName"] = row.data["_EndpointName"]
            summaries.append(item)
        out: dict = {"JobDefinitionSummaries": summaries}
        if token:
            out["NextToken"] = token
        return out

    return handler


def _delete(family: Family):
    def handler(ctx: RequestContext, params: dict) -> dict:
        name = params["JobDefinitionName"]
        get_definition(ctx, family, name)
        users, _ = ctx.platform.resources.list(
            ctx.account_id,
            ctx.region,
            monitoring.SCHEDULE,
            ListQuery(
                fields=(FieldFilter.equals("_DefinitionKey", f"{family.monitoring_type}/{name}"),),
                max_results=1,
            ),
        )
        if users:
            raise ServiceError(
                "ResourceInUse",
                f"Job definition {name} is used by monitoring schedule {users[0].name}; delete the schedule "
                f"first.",
            )
        ctx.platform.resources.delete(ctx.account_id, ctx.region, family.resource_type, name)
        return {}

    return handler


for _family in FAMILIES.values():
    ops.handler(f"Create{_family.prefix}JobDefinition")(_create(_family))
    ops.handler(f"Describe{_family.prefix}JobDefinition")(_describe(_family))
    ops.handler(f"List{_family.prefix}JobDefinitions")(_list(_family))
    ops.handler(f"Delete{_family.prefix}JobDefinition")(_delete(_family))
