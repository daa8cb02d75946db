"""Hyperparameter tuning jobs: the handlers validate, record and return; ``reconcilers.tuning`` launches
the children (the status machine, the checks and the summaries: ``domain/tuning_jobs.py``)."""

from __future__ import annotations

import dataclasses

from ...domain import training_jobs, tuning_jobs
from ...domain.tuning_jobs import TUNING, TYPE
from ...protocol.errors import ServiceError
from ...store.resources import ListQuery
from ..context import RequestContext
from ..errors import in_use_if_exists
from ..registry import OperationTable
from .common import check_kms_keys, check_name, list_query, now, wake

ops = OperationTable("sagemaker")


def _get(ctx: RequestContext, name: str):
    job = ctx.platform.resources.get(ctx.account_id, ctx.region, TYPE, name)
    if job is None:
        raise ServiceError(
            "ResourceNotFound", f"Amazon SageMaker can't find a tuning job called {name}. Type another name."
        )
    return job


def _check_name(name: str) -> None:
    check_name(name, "hyperParameterTuningJobName")
    if len(name) > 32:
        raise ServiceError(
            "ValidationException",
            f"1 validation error detected: Value '{name}' at "
            "'hyperParameterTuningJobName' failed to satisfy constraint: Member must have length "
            "less than or equal to 32",
        )


def _warm_start_points(ctx: RequestContext, warm_start: dict) -> tuple[list, dict | None]:
    """The parents' children as (tuned values, objective) for the sampler, and the parents' best."""
    resources = ctx.platform.resources
    points: list = []
    best = None
    for parent in warm_start["ParentHyperParameterTuningJobs"]:
        row = resources.get(ctx.account_id, ctx.region, TYPE, parent["HyperParameterTuningJobName"])
        kids = tuning_jobs.children(resources, row)
        for child in kids:
            if training_jobs.TRAINING.terminal(child.status):
                points.append(
                    (child.data["_Tuning"]["TunedHyperParameters"], child.data.get("_ObjectiveValue"))
                )
        for summary in (row.data.get("OverallBestTrainingJob"), row.data.get("BestTrainingJob")):
            if not summary:
                continue
            maximize = summary["FinalHyperParameterTuningJobObjectiveMetric"].get("Type") == "Maximize"
            value = summary["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
            if best is None or tuning_jobs.better(
                value, best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"], maximize
            ):
                best = summary
    return points, best


@ops.handler("CreateHyperParameterTuningJob")
def create_hyper_parameter_tuning_job(ctx: RequestContext, params: dict) -> dict:
    name = params["HyperParameterTuningJobName"]
    _check_name(name)
    validated = tuning_jobs.validate(params)
    for definition in params.get("TrainingJobDefinitions") or [params["TrainingJobDefinition"]]:
        check_kms_keys(
            ctx,
            definition,
            ("OutputDataConfig", "KmsKeyId"),
            ("ResourceConfig", "VolumeKmsKeyId"),
            ("HyperParameterTuningResourceConfig", "VolumeKmsKeyId"),
        )
    job_arn = tuning_jobs.job_arn(ctx.region, ctx.account_id, name)
    description = tuning_jobs.new_description(params, validated, name, job_arn, now())
    if params.get("WarmStartConfig"):
        tuning_jobs.validate_warm_start(
            ctx.platform.resources, ctx.account_id, ctx.region, params["WarmStartConfig"]
        )
        points, best = _warm_start_points(ctx, params["WarmStartConfig"])
        description["_WarmStartPoints"] = points
        if best is not None:
            description["_ParentBest"] = best
    with in_use_if_exists(
        f"A hyperparameter tuning job with the name, {name}, already exists. Choose a different name."
    ):
        ctx.platform.resources.create(
            ctx.account_id,
            ctx.region,
            TYPE,
            name,
            job_arn,
            description,
            status="InProgress",
            tag_list=params.get("Tags"),
        )
    wake(ctx, "tuning")
    return {"HyperParameterTuningJobArn": job_arn}


@ops.handler("DescribeHyperParameterTuningJob")
def describe_hyper_parameter_tuning_job(ctx: RequestContext, params: dict) -> dict:
    job = _get(ctx, params["HyperParameterTuningJobName"])
    data = dict(job.data)
    if not TUNING.terminal(job.status):
        data["ConsumedResources"] = {"RuntimeInSeconds": tuning_jobs.runtime_seconds(data, now())}
    return data


def _summary(row) -> dict:
    data = row.data
    config = data["HyperParameterTuningJobConfig"]
    return {
        "HyperParameterTuningJobName": data["HyperParameterTuningJobName"],
        "HyperParameterTuningJobArn": data["HyperParameterTuningJobArn"],
        "HyperParameterTuningJobStatus": data["HyperParameterTuningJobStatus"],
        "Strategy": config["Strategy"],
        "CreationTime": data["CreationTime"],
        "HyperParameterTuningEndTime": data.get("HyperParameterTuningEndTime"),
        "LastModifiedTime": data.get("LastModifiedTime"),
        "TrainingJobStatusCounters": data["TrainingJobStatusCounters"],
        "ObjectiveStatusCounters": data["ObjectiveStatusCounters"],
        "ResourceLimits": config["ResourceLimits"],
    }


@ops.handler("ListHyperParameterTuningJobs")
def list_hyper_parameter_tuning_jobs(ctx: RequestContext, params: dict) -> dict:
    query = list_query({"SortBy": "Name", "SortOrder": "Ascending", "MaxResults": 10, **params})
    rows, token = ctx.platform.resources.list(ctx.account_id, ctx.region, TYPE, query)
    result: dict = {
        "HyperParameterTuningJobSummaries": [
            {k: v for k, v in _summary(row).items() if v is not None} for row in rows
        ]
    }
    if token:
        result["NextToken"] = token
    return result


@ops.handler("ListTrainingJobsForHyperParameterTuningJob")
def list_training_jobs_for_hyper_parameter_tuning_job(ctx: RequestContext, params: dict) -> dict:
    job = _get(ctx, params["HyperParameterTuningJobName"])
    sort_by = params.get("SortBy", "Name")
    query = ListQuery(
        status_equals=params.get("StatusEquals"),
        parent=job.data["_ChildKey"],
        sort_by="Name" if sort_by == "FinalObjectiveMetricValue" else sort_by,
        sort_order=params.get("SortOrder", "Ascending"),
        max_results=params.get("MaxResults", 10),
        next_token=params.get("NextToken"),
    )
    if sort_by == "FinalObjectiveMetricValue":  # children without an objective value are left out
        query = dataclasses.replace(query, sort_field="_ObjectiveValue")
    rows, token = ctx.platform.resources.list(ctx.account_id, ctx.region, training_jobs.TYPE, query)
    result: dict = {"TrainingJobSummaries": [tuning_jobs.child_summary(row) for row in rows]}
    if token:
        result["NextToken"] = token
    return result


@ops.handler("StopHyperParameterTuningJob")
def stop_hyper_parameter_tuning_job(ctx: RequestContext, params: dict) -> dict:
    name = params["HyperParameterTuningJobName"]
    _get(ctx, name)
    tuning_jobs.request_stop(ctx.platform.resources, ctx.account_id, ctx.region, name)
    wake(ctx, "tuning")
    return {}


@ops.handler("DeleteHyperParameterTuningJob")
def delete_hyper_parameter_tuning_job(ctx: RequestContext, params: dict) -> dict:
    """Deletes the tuning job's record only; its training jobs and their artifacts stay."""
    name = params["HyperParameterTuningJobName"]
    job = _get(ctx, name)
    if not TUNING.terminal(job.status):
        raise ServiceError(
            "ValidationException",
            f"The hyperparameter tuning job {name} is {job.status}; only "
            "Completed, Failed or Stopped tuning jobs can be deleted. Stop it first.",
        )
    ctx.platform.resources.delete(ctx.account_id, ctx.region, TYPE, name)
    return {}
