"""Training jobs: the handlers record the job and return; reconcilers.training runs it (the status machine
and the transitions: ``domain/training_jobs.py``)."""

from __future__ import annotations

from ...domain import training_jobs
from ...domain.state import mutate
from ...domain.training_jobs import TYPE
from ...protocol.errors import ServiceError
from ..context import RequestContext
from ..errors import in_use_if_exists
from ..registry import OperationTable
from .common import check_kms_keys, check_name, list_page, now, wake

ops = OperationTable("sagemaker")


def _get(ctx: RequestContext, name: str):
    job = ctx.platform.resources.get(ctx.account_id, ctx.region, TYPE, name)
    if job is None:
        raise ServiceError("ValidationException", "Requested resource not found.")
    return job


@ops.handler("CreateTrainingJob")
def create_training_job(ctx: RequestContext, params: dict) -> dict:
    name = params["TrainingJobName"]
    check_name(name, "trainingJobName")
    check_kms_keys(ctx, params, ("OutputDataConfig", "KmsKeyId"), ("ResourceConfig", "VolumeKmsKeyId"))
    job_arn = training_jobs.job_arn(ctx.region, ctx.account_id, name)
    with in_use_if_exists(
        f"Training job names must be unique within an AWS account and region, and a "
        f"training job with this name already exists ({job_arn})"
    ):
        training_jobs.create(ctx.platform.resources, ctx.account_id, ctx.region, params)
    wake(ctx, "training")
    return {"TrainingJobArn": job_arn}


@ops.handler("DescribeTrainingJob")
def describe_training_job(ctx: RequestContext, params: dict) -> dict:
    job = _get(ctx, params["TrainingJobName"])
    return job.data


@ops.handler("ListTrainingJobs")
def list_training_jobs(ctx: RequestContext, params: dict) -> dict:
    return list_page(
        ctx,
        TYPE,
        params,
        "TrainingJobSummaries",
        lambda row: {
            key: row.data.get(key)
            for key in (
                "TrainingJobName",
                "TrainingJobArn",
                "CreationTime",
                "TrainingEndTime",
                "LastModifiedTime",
                "TrainingJobStatus",
                "SecondaryStatus",
            )
        },
    )


@ops.handler("StopTrainingJob")
def stop_training_job(ctx: RequestContext, params: dict) -> dict:
    name = params["TrainingJobName"]
    _get(ctx, name)
    training_jobs.request_stop(ctx.platform.resources, ctx.account_id, ctx.region, name)
    wake(ctx, "training")
    return {}


@ops.handler("UpdateTrainingJob")
def update_training_job(ctx: RequestContext, params: dict) -> dict:
    name = params["TrainingJobName"]
    _get(ctx, name)

    def change(job):
        if job.data["TrainingJobStatus"] not in ("InProgress",):
            raise ServiceError(
                "ValidationException",
                f"The training job {name} is not in progress; only running jobs can be updated.",
            )
        for key in ("ProfilerConfig", "ProfilerRuleConfigurations", "RemoteDebugConfig"):
            if params.get(key):
                job.data[key] = params[key]
        if params.get("ResourceConfig"):
            job.data["ResourceConfig"] = {**job.data["ResourceConfig"], **params["ResourceConfig"]}
        job.data["LastModifiedTime"] = now()
        return None

    job = mutate(ctx.platform.resources, ctx.account_id, ctx.region, TYPE, name, change)
    return {"TrainingJobArn": job.data["TrainingJobArn"]}
