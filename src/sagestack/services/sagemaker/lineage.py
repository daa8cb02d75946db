"""ML lineage: Create/Describe/Update/Delete/List Artifact, and AddAssociation / DeleteAssociation /
ListAssociations between any two lineage entities (artifacts, trial components, …).

Artifacts are named by a generated id (``…:artifact/<32 hex>``), like AWS's; their ``ArtifactName`` is
optional and not unique. Associations live in ``store.experiments``.
"""

from __future__ import annotations

import datetime as dt
import uuid

from ...domain.experiments import store_of
from ...domain.lineage import entity_kind
from ...protocol.errors import ServiceError
from ...store import tokens
from ...store.resources import FieldFilter, ListQuery
from ..context import RequestContext
from ..registry import OperationTable
from .common import arn, now, strip_empty
from .experiments import page, public, touch, user_context

ops = OperationTable("sagemaker")

ARTIFACT = "artifact"


def _artifact(ctx: RequestContext, artifact_arn: str):
    row = ctx.platform.resources.get_by_arn(artifact_arn)
    if row is None or row.resource_type != ARTIFACT:
        raise ServiceError("ResourceNotFound", f"Artifact '{artifact_arn}' does not exist.")
    return row


@ops.handler("CreateArtifact")
def create_artifact(ctx: RequestContext, params: dict) -> dict:
    name = uuid.uuid4().hex
    resource_arn = arn(ctx, ARTIFACT, name)
    stamp = now()
    who = user_context(ctx)
    data = strip_empty(
        {
            "ArtifactArn": resource_arn,
            "ArtifactName": params.get("ArtifactName"),
            "Source": params["Source"],
            "ArtifactType": params["ArtifactType"],
            "Properties": params.get("Properties"),
            "MetadataProperties": params.get("MetadataProperties"),
            "CreationTime": stamp,
            "LastModifiedTime": stamp,
            "CreatedBy": who,
            "LastModifiedBy": who,
            "_SourceUri": params["Source"]["SourceUri"],
        }
    )
    ctx.platform.resources.create(
        ctx.account_id, ctx.region, ARTIFACT, name, resource_arn, data, tag_list=params.get("Tags")
    )
    return {"ArtifactArn": resource_arn}


@ops.handler("DescribeArtifact")
def describe_artifact(ctx: RequestContext, params: dict) -> dict:
    return public(_artifact(ctx, params["ArtifactArn"]).data)


@ops.handler("UpdateArtifact")
def update_artifact(ctx: RequestContext, params: dict) -> dict:
    row = _artifact(ctx, params["ArtifactArn"])
    data = touch(ctx, row.data)
    if params.get("ArtifactName") is not None:
        data["ArtifactName"] = params["ArtifactName"]
    properties = dict(data.get("Properties") or {}, **(params.get("Properties") or {}))
    for key in params.get("PropertiesToRemove") or ():
        properties.pop(key, None)
    data["Properties"] = properties
    ctx.platform.resources.update(row, data)
    return {"ArtifactArn": row.arn}


@ops.handler("DeleteArtifact")
def delete_artifact(ctx: RequestContext, params: dict) -> dict:
    if params.get("ArtifactArn"):
        row = _artifact(ctx, params["ArtifactArn"])
    elif params.get("Source"):
        matches, _ = ctx.platform.resources.list(
            ctx.account_id,
            ctx.region,
            ARTIFACT,
            ListQuery(
                fields=(FieldFilter.equals("_SourceUri", params["Source"]["SourceUri"]),), max_results=1
            ),
        )
        if not matches:
            raise ServiceError(
                "ResourceNotFound", f"Artifact with source '{params['Source']['SourceUri']}' does not exist."
            )
        row = matches[0]
    else:
        raise ServiceError("ValidationException", "Either ArtifactArn or Source must be specified.")
    ctx.platform.resources.delete(ctx.account_id, ctx.region, ARTIFACT, row.name)
    store_of(ctx.platform.resources).delete_associations_of(row.arn)
    return {"ArtifactArn": row.arn}


@ops.handler("ListArtifacts")
def list_artifacts(ctx: RequestContext, params: dict) -> dict:
    fields = []
    if params.get("SourceUri"):
        fields.append(FieldFilter.equals("_SourceUri", params["SourceUri"]))
    if params.get("ArtifactType"):
        fields.append(FieldFilter.equals("ArtifactType", params["ArtifactType"]))
    return page(ctx, ARTIFACT, params, "ArtifactSummaries", _summary, fields=fields)


def _summary(row) -> dict:
    return strip_empty(
        {
            k: row.data.get(k)
            for k in (
                "ArtifactArn",
                "ArtifactName",
                "Source",
                "ArtifactType",
                "CreationTime",
                "LastModifiedTime",
            )
        }
    )


def _entity(ctx: RequestContext, entity_arn: str):
    row = ctx.platform.resources.get_by_arn(entity_arn)
    if row is None:
        raise ServiceError("ResourceNotFound", f"Entity '{entity_arn}' does not exist.")
    return row


@ops.handler("AddAssociation")
def add_association(ctx: RequestContext, params: dict) -> dict:
    source, destination = _entity(ctx, params["SourceArn"]), _entity(ctx, params["DestinationArn"])
    if not store_of(ctx.platform.resources).add_association(
        ctx.account_id,
        ctx.region,
        source.arn,
        destination.arn,
        params.get("AssociationType"),
        entity_kind(source),
        entity_kind(destination),
    ):
        raise ServiceError(
            "ValidationException",
            f"Association between '{source.arn}' and '{destination.arn}' already exists.",
        )
    return {"SourceArn": source.arn, "DestinationArn": destination.arn}


@ops.handler("DeleteAssociation")
def delete_association(ctx: RequestContext, params: dict) -> dict:
    if not store_of(ctx.platform.resources).delete_association(params["SourceArn"], params["DestinationArn"]):
        raise ServiceError(
            "ResourceNotFound",
            f"Association between '{params['SourceArn']}' and '{params['DestinationArn']}' does not exist.",
        )
    return {"SourceArn": params["SourceArn"], "DestinationArn": params["DestinationArn"]}


def _name_of(row) -> str | None:
    data = row.data
    return (
        data.get("ArtifactName")
        or data.get("TrialComponentName")
        or data.get("ActionName")
        or data.get("ContextName")
        or (None if row.resource_type == ARTIFACT else row.name)  # an unnamed artifact has no name
    )


def _type_of(row) -> str | None:
    """An association end's type, as ListAssociations gives it: the entity's ArtifactType / ActionType /
    ContextType (``DataSet``, ``ModelDeployment``, ``Endpoint``, … — the visualizer's "Type" column), a
    job's trial component its Source.SourceType (``SageMakerTrainingJob``); else the lineage class."""
    if row is None:
        return None
    lineage_class, kind = entity_kind(row)
    if lineage_class == "TrialComponent":
        return (row.data.get("Source") or {}).get("SourceType") or lineage_class
    return kind or lineage_class


def _type_filter(value: str | None) -> str | None:
    """A job trial component's type is stored as its job kind (``TrainingJob``, QueryLineage's vertex
    Type); ListAssociations shows and filters on ``SageMakerTrainingJob``."""
    if value and value.startswith("SageMaker") and value.endswith("Job"):
        return value.replace("SageMaker", "", 1)
    return value


def _ts(value):
    return value.timestamp() if isinstance(value, dt.datetime) else value


@ops.handler("ListAssociations")
def list_associations(ctx: RequestContext, params: dict) -> dict:
    offset = tokens.decode_offset(params.get("NextToken"))["o"]
    limit = params.get("MaxResults") or 10
    resources = ctx.platform.resources
    rows = store_of(resources).associations(
        ctx.account_id,
        ctx.region,
        source=params.get("SourceArn"),
        destination=params.get("DestinationArn"),
        association_type=params.get("AssociationType"),
        source_type=_type_filter(params.get("SourceType")),
        destination_type=_type_filter(params.get("DestinationType")),
        created_after=_ts(params.get("CreatedAfter")),
        created_before=_ts(params.get("CreatedBefore")),
        descending=params.get("SortOrder") != "Ascending",
        offset=offset,
        limit=limit + 1,
    )
    summaries = []
    for item in rows[:limit]:
        source = resources.get_by_arn(item["source_arn"])
        destination = resources.get_by_arn(item["destination_arn"])
        summaries.append(
            strip_empty(
                {
                    "SourceArn": item["source_arn"],
                    "DestinationArn": item["destination_arn"],
                    "SourceType": _type_of(source),
                    "DestinationType": _type_of(destination),
                    "AssociationType": item["association_type"],
                    "SourceName": _name_of(source) if source else None,
                    "DestinationName": _name_of(destination) if destination else None,
                    "CreationTime": dt.datetime.fromtimestamp(item["created_at"], dt.timezone.utc),
                }
            )
        )
    result: dict = {"AssociationSummaries": summaries}
    if len(rows) > limit:
        result["NextToken"] = tokens.encode_offset(offset + limit)
    return result
