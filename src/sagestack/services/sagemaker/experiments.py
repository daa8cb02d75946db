"""Experiments and trials: Create/Describe/Update/Delete/List Experiment and Trial.

A trial belongs to one experiment (the row's ``parent``); trial components link to trials through
``store.experiments`` (see ``trial_components.py``). An experiment with trials, or a trial with trial
components, cannot be deleted (AWS's rule: delete or disassociate the children first).
"""

from __future__ import annotations

import re

from ...domain.experiments import EXPERIMENT, TRIAL, store_of
from ...protocol.errors import ServiceError
from ...store.resources import ListQuery
from ..context import RequestContext
from ..errors import in_use_if_exists
from ..registry import OperationTable
from .common import arn, list_query, now, resource_not_found, strip_empty

ops = OperationTable("sagemaker")

KINDS = {EXPERIMENT: "Experiment", TRIAL: "Trial"}


def user_context(ctx: RequestContext) -> dict:
    return {"IamIdentity": {"Arn": ctx.principal_arn}}


def get(ctx: RequestContext, resource_type: str, name: str):
    """The row by name (or ARN), else AWS's ResourceNotFound."""
    if name.startswith("arn:"):
        row = ctx.platform.resources.get_by_arn(name)
        if row is not None and row.resource_type != resource_type:
            row = None
    else:
        row = ctx.platform.resources.get(ctx.account_id, ctx.region, resource_type, name)
    if row is None:
        target = name if name.startswith("arn:") else arn(ctx, resource_type, name)
        label = {EXPERIMENT: "Experiment", TRIAL: "Trial"}.get(resource_type, "Trial Component")
        raise resource_not_found(f"{label} '{target}' does not exist.")
    return row


ENTITY_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,119}")


def check_entity_name(value: str | None, field: str) -> None:
    """Experiment, trial and trial-component names (and display names): 1-120 of letters, digits and
    single hyphens (no underscores)."""
    if value is not None and not ENTITY_NAME.fullmatch(value):
        raise ServiceError(
            "ValidationException",
            f"1 validation error detected: Value '{value}' at '{field}' failed to satisfy "
            f"constraint: Member must satisfy regular expression pattern: "
            f"[a-zA-Z0-9](-*[a-zA-Z0-9]){{0,119}}",
        )


def already_exists(kind: str, name: str):
    return in_use_if_exists(f"{kind} with name {name} already exists.", code="ValidationException")


def public(data: dict) -> dict:
    return {k: v for k, v in data.items() if not k.startswith("_")}


def created(ctx: RequestContext) -> dict:
    stamp = now()
    who = user_context(ctx)
    return {"CreationTime": stamp, "LastModifiedTime": stamp, "CreatedBy": who, "LastModifiedBy": who}


def touch(ctx: RequestContext, data: dict) -> dict:
    return dict(data, LastModifiedTime=now(), LastModifiedBy=user_context(ctx))


def page(
    ctx: RequestContext,
    resource_type: str,
    params: dict,
    key: str,
    summarize,
    conditions=(),
    parent: str | None = None,
    fields=(),
) -> dict:
    base = list_query(params)
    query = ListQuery(
        created_after=params.get("CreatedAfter"),
        created_before=params.get("CreatedBefore"),
        parent=parent,
        conditions=tuple(conditions),
        fields=tuple(fields),
        sort_by=base.sort_by,
        sort_order=base.sort_order,
        max_results=base.max_results,
        next_token=base.next_token,
    )
    rows, token = ctx.platform.resources.list(ctx.account_id, ctx.region, resource_type, query)
    result: dict = {key: [strip_empty(summarize(row)) for row in rows]}
    if token:
        result["NextToken"] = token
    return result


# -- experiments ---------------------------------------------------------------------------------


@ops.handler("CreateExperiment")
def create_experiment(ctx: RequestContext, params: dict) -> dict:
    name = params["ExperimentName"]
    check_entity_name(name, "experimentName")
    resource_arn = arn(ctx, EXPERIMENT, name)
    data = strip_empty(
        {
            "ExperimentName": name,
            "ExperimentArn": resource_arn,
            "DisplayName": params.get("DisplayName") or name,
            "Description": params.get("Description"),
            **created(ctx),
        }
    )
    with already_exists("Experiment", name):
        ctx.platform.resources.create(
            ctx.account_id, ctx.region, EXPERIMENT, name, resource_arn, data, tag_list=params.get("Tags")
        )
    return {"ExperimentArn": resource_arn}


@ops.handler("DescribeExperiment")
def describe_experiment(ctx: RequestContext, params: dict) -> dict:
    return public(get(ctx, EXPERIMENT, params["ExperimentName"]).data)


@ops.handler("UpdateExperiment")
def update_experiment(ctx: RequestContext, params: dict) -> dict:
    row = get(ctx, EXPERIMENT, params["ExperimentName"])
    data = touch(ctx, row.data)
    for key in ("DisplayName", "Description"):
        if params.get(key) is not None:
            data[key] = params[key]
    ctx.platform.resources.update(row, data)
    return {"ExperimentArn": row.arn}


@ops.handler("DeleteExperiment")
def delete_experiment(ctx: RequestContext, params: dict) -> dict:
    row = get(ctx, EXPERIMENT, params["ExperimentName"])
    trials, _ = ctx.platform.resources.list(
        ctx.account_id, ctx.region, TRIAL, ListQuery(parent=row.name, max_results=1)
    )
    if trials:
        raise ServiceError(
            "ValidationException",
            f"Experiment '{row.arn}' has trials; all trials associated with the experiment "
            f"must be deleted first (trial '{trials[0].name}').",
        )
    ctx.platform.resources.delete(ctx.account_id, ctx.region, EXPERIMENT, row.name)
    return {"ExperimentArn": row.arn}


@ops.handler("ListExperiments")
def list_experiments(ctx: RequestContext, params: dict) -> dict:
    return page(
        ctx,
        EXPERIMENT,
        params,
        "ExperimentSummaries",
        lambda r: {
            "ExperimentArn": r.arn,
            "ExperimentName": r.name,
            "DisplayName": r.data.get("DisplayName"),
            "ExperimentSource": r.data.get("Source"),
            "CreationTime": r.data["CreationTime"],
            "LastModifiedTime": r.data.get("LastModifiedTime"),
        },
    )


# -- trials --------------------------------------------------------------------------------------


@ops.handler("CreateTrial")
def create_trial(ctx: RequestContext, params: dict) -> dict:
    name = params["TrialName"]
    check_entity_name(name, "trialName")
    experiment = get(ctx, EXPERIMENT, params["ExperimentName"])
    resource_arn = arn(ctx, TRIAL, name)
    data = strip_empty(
        {
            "TrialName": name,
            "TrialArn": resource_arn,
            "DisplayName": params.get("DisplayName") or name,
            "ExperimentName": experiment.name,
            "MetadataProperties": params.get("MetadataProperties"),
            **created(ctx),
        }
    )
    with already_exists("Trial", name):
        ctx.platform.resources.create(
            ctx.account_id,
            ctx.region,
            TRIAL,
            name,
            resource_arn,
            data,
            parent=experiment.name,
            tag_list=params.get("Tags"),
        )
    return {"TrialArn": resource_arn}


@ops.handler("DescribeTrial")
def describe_trial(ctx: RequestContext, params: dict) -> dict:
    return public(get(ctx, TRIAL, params["TrialName"]).data)


@ops.handler("UpdateTrial")
def update_trial(ctx: RequestContext, params: dict) -> dict:
    row = get(ctx, TRIAL, params["TrialName"])
    data = touch(ctx, row.data)
    if params.get("DisplayName") is not None:
        data["DisplayName"] = params["DisplayName"]
    ctx.platform.resources.update(row, data)
    return {"TrialArn": row.arn}


@ops.handler("DeleteTrial")
def delete_trial(ctx: RequestContext, params: dict) -> dict:
    row = get(ctx, TRIAL, params["TrialName"])
    components = store_of(ctx.platform.resources).components_of(ctx.account_id, ctx.region, row.name)
    if components:
        raise ServiceError(
            "ValidationException",
            f"Trial '{row.arn}' has trial components; all trial components that make up the "
            f"trial must be disassociated or deleted first (trial component "
            f"'{components[0]}').",
        )
    ctx.platform.resources.delete(ctx.account_id, ctx.region, TRIAL, row.name)
    return {"TrialArn": row.arn}


@ops.handler("ListTrials")
def list_trials(ctx: RequestContext, params: dict) -> dict:
    conditions = []
    if params.get("TrialComponentName"):
        conditions.append(store_of(ctx.platform.resources).has_component(params["TrialComponentName"]))
    return page(
        ctx,
        TRIAL,
        params,
        "TrialSummaries",
        lambda r: {
            "TrialArn": r.arn,
            "TrialName": r.name,
            "DisplayName": r.data.get("DisplayName"),
            "TrialSource": r.data.get("Source"),
            "CreationTime": r.data["CreationTime"],
            "LastModifiedTime": r.data.get("LastModifiedTime"),
        },
        conditions=conditions,
        parent=params.get("ExperimentName"),
    )
