"""Trial components: Create/Describe/Update/Delete/List TrialComponent and Associate/Disassociate.

Parameters, InputArtifacts and OutputArtifacts are upserted by key on update (an empty map changes
nothing; the ``*ToRemove`` lists delete keys). DescribeTrialComponent's ``Metrics`` are computed from
the points stored by SageMaker Metrics' BatchPutMetrics.
"""

from __future__ import annotations

import datetime as dt
import math

from ...domain.experiments import TRIAL, TRIAL_COMPONENT, new_component, store_of
from ...protocol.errors import ServiceError
from ...store.resources import FieldFilter
from ..context import RequestContext
from ..registry import OperationTable
from .common import arn, now, strip_empty
from .experiments import already_exists, check_entity_name, get, page, public, touch, user_context

ops = OperationTable("sagemaker")

MAX_PARAMETERS = 300
MAX_ARTIFACTS = 60


def _check_parameters(parameters: dict) -> None:
    for key, value in parameters.items():
        number = value.get("NumberValue")
        if number is not None and (math.isnan(number) or math.isinf(number)):
            raise ServiceError(
                "ValidationException",
                f"Parameter '{key}' has an invalid NumberValue: NaN and Infinity are not allowed.",
            )
        if ("NumberValue" in value) == ("StringValue" in value):
            raise ServiceError(
                "ValidationException",
                f"Parameter '{key}' must have exactly one of StringValue or NumberValue.",
            )


def _upsert(current: dict, changes: dict | None, remove: list | None, limit: int, what: str) -> dict:
    result = dict(current or {})
    result.update(changes or {})
    for key in remove or ():
        result.pop(key, None)
    if len(result) > limit:
        raise ServiceError("ValidationException", f"A trial component can have at most {limit} {what}.")
    return result


def metric_summaries(ctx: RequestContext, name: str) -> list[dict]:
    summaries = store_of(ctx.platform.resources).summaries(ctx.account_id, ctx.region, name)
    for item in summaries:
        item["TimeStamp"] = dt.datetime.fromtimestamp(item["TimeStamp"], dt.timezone.utc)
    return summaries


def describe(ctx: RequestContext, row, *, search: bool = False) -> dict:
    data = public(row.data)
    data["Metrics"] = metric_summaries(ctx, row.name)
    if search:
        data["Parents"] = store_of(ctx.platform.resources).parents(ctx.account_id, ctx.region, row.name)
        data["Tags"] = ctx.platform.resources.list_tags(row.arn)
        source = data.get("Source") or {}
        if source.get("SourceArn"):
            data["SourceDetail"] = {"SourceArn": source["SourceArn"]}
    out = strip_empty(data)
    for key in ("Parameters", "InputArtifacts", "OutputArtifacts"):  # the SDK's analytics reads them as maps
        out[key] = data.get(key) or {}
    return out


@ops.handler("CreateTrialComponent")
def create_trial_component(ctx: RequestContext, params: dict) -> dict:
    name = params["TrialComponentName"]
    check_entity_name(name, "trialComponentName")
    parameters = params.get("Parameters") or {}
    _check_parameters(parameters)
    for key, limit in (
        ("Parameters", MAX_PARAMETERS),
        ("InputArtifacts", MAX_ARTIFACTS),
        ("OutputArtifacts", MAX_ARTIFACTS),
    ):
        if len(params.get(key) or {}) > limit:
            raise ServiceError("ValidationException", f"A trial component can have at most {limit} {key}.")
    resource_arn = arn(ctx, TRIAL_COMPONENT, name)
    data = new_component(
        name,
        resource_arn,
        now(),
        user_context(ctx),
        DisplayName=params.get("DisplayName") or name,
        Status=params.get("Status"),
        StartTime=params.get("StartTime"),
        EndTime=params.get("EndTime"),
        Parameters=parameters,
        InputArtifacts=params.get("InputArtifacts") or {},
        OutputArtifacts=params.get("OutputArtifacts") or {},
        MetadataProperties=params.get("MetadataProperties"),
    )
    with already_exists("TrialComponent", name):
        ctx.platform.resources.create(
            ctx.account_id, ctx.region, TRIAL_COMPONENT, name, resource_arn, data, tag_list=params.get("Tags")
        )
    return {"TrialComponentArn": resource_arn}


@ops.handler("DescribeTrialComponent")
def describe_trial_component(ctx: RequestContext, params: dict) -> dict:
    return describe(ctx, get(ctx, TRIAL_COMPONENT, params["TrialComponentName"]))


@ops.handler("UpdateTrialComponent")
def update_trial_component(ctx: RequestContext, params: dict) -> dict:
    row = get(ctx, TRIAL_COMPONENT, params["TrialComponentName"])
    _check_parameters(params.get("Parameters") or {})
    data = touch(ctx, row.data)
    for key in ("DisplayName", "Status", "StartTime", "EndTime"):
        if params.get(key) is not None:
            data[key] = params[key]
    for key, limit in (
        ("Parameters", MAX_PARAMETERS),
        ("InputArtifacts", MAX_ARTIFACTS),
        ("OutputArtifacts", MAX_ARTIFACTS),
    ):
        data[key] = _upsert(data.get(key), params.get(key), params.get(f"{key}ToRemove"), limit, key)
    ctx.platform.resources.update(row, data)
    return {"TrialComponentArn": row.arn}


@ops.handler("DeleteTrialComponent")
def delete_trial_component(ctx: RequestContext, params: dict) -> dict:
    row = get(ctx, TRIAL_COMPONENT, params["TrialComponentName"])
    store = store_of(ctx.platform.resources)
    parents = store.parents(ctx.account_id, ctx.region, row.name)
    if parents:
        raise ServiceError(
            "ValidationException",
            f"Trial component '{row.arn}' is associated with trial "
            f"'{parents[0]['TrialName']}'; disassociate it from every trial before deleting "
            "it.",
        )
    ctx.platform.resources.delete(ctx.account_id, ctx.region, TRIAL_COMPONENT, row.name)
    store.delete_points(ctx.account_id, ctx.region, row.name)
    store.delete_associations_of(row.arn)
    return {"TrialComponentArn": row.arn}


@ops.handler("ListTrialComponents")
def list_trial_components(ctx: RequestContext, params: dict) -> dict:
    given = [k for k in ("ExperimentName", "TrialName", "SourceArn") if params.get(k)]
    if len(given) > 1:
        raise ServiceError(
            "ValidationException", "You can filter on only one of ExperimentName, TrialName or SourceArn."
        )
    store = store_of(ctx.platform.resources)
    conditions = []
    if params.get("ExperimentName"):
        conditions.append(store.in_experiment(params["ExperimentName"]))
    if params.get("TrialName"):
        conditions.append(store.in_trial(params["TrialName"]))
    result = page(
        ctx,
        TRIAL_COMPONENT,
        params,
        "TrialComponentSummaries",
        lambda r: {
            "TrialComponentName": r.name,
            "TrialComponentArn": r.arn,
            "DisplayName": r.data.get("DisplayName"),
            "TrialComponentSource": r.data.get("Source"),
            "Status": r.data.get("Status"),
            "StartTime": r.data.get("StartTime"),
            "EndTime": r.data.get("EndTime"),
            "CreationTime": r.data["CreationTime"],
            "CreatedBy": r.data.get("CreatedBy"),
            "LastModifiedTime": r.data.get("LastModifiedTime"),
            "LastModifiedBy": r.data.get("LastModifiedBy"),
        },
        conditions=conditions,
        fields=(FieldFilter.equals("_SourceArn", params["SourceArn"]),) if params.get("SourceArn") else (),
    )
    return result


def _pair(ctx: RequestContext, params: dict):
    component = get(ctx, TRIAL_COMPONENT, params["TrialComponentName"])
    trial = get(ctx, TRIAL, params["TrialName"])
    return component, trial


@ops.handler("AssociateTrialComponent")
def associate_trial_component(ctx: RequestContext, params: dict) -> dict:
    component, trial = _pair(ctx, params)
    store_of(ctx.platform.resources).associate(
        ctx.account_id, ctx.region, component.name, trial.name, trial.data["ExperimentName"]
    )
    return {"TrialComponentArn": component.arn, "TrialArn": trial.arn}


@ops.handler("DisassociateTrialComponent")
def disassociate_trial_component(ctx: RequestContext, params: dict) -> dict:
    component, trial = _pair(ctx, params)
    store = store_of(ctx.platform.resources)
    if not store.disassociate(ctx.account_id, ctx.region, component.name, trial.name):
        raise ServiceError(
            "ResourceNotFound",
            f"Trial component '{component.arn}' is not associated with trial '{trial.arn}'.",
        )
    return {"TrialComponentArn": component.arn, "TrialArn": trial.arn}
