"""Batch transform jobs: the handlers record the job; reconcilers.transform runs it (the status machine:
``domain/transform_jobs.py``)."""

from __future__ import annotations

from ...domain.models import TYPE as MODEL_TYPE
from ...domain.state import mutate
from ...domain.transform_jobs import TRANSFORM, TYPE
from ...execution import jsonpath
from ...protocol.errors import ServiceError
from ..context import RequestContext
from ..registry import OperationTable
from .common import arn, check_kms_keys, check_name, list_page, now, record_job, strip_empty, wake

ops = OperationTable("sagemaker")


def _get(ctx: RequestContext, name: str):
    job = ctx.platform.resources.get(ctx.account_id, ctx.region, TYPE, name)
    if job is None:
        raise ServiceError("ValidationException", f"Could not find requested job with name {name}")
    return job


def _validate(ctx: RequestContext, params: dict) -> None:
    if ctx.platform.resources.get(ctx.account_id, ctx.region, MODEL_TYPE, params["ModelName"]) is None:
        raise ServiceError(
            "ValidationException", f'Could not find model "{arn(ctx, "model", params["ModelName"])}".'
        )
    source = params["TransformInput"]["DataSource"].get("S3DataSource")
    if not source:
        raise ServiceError("ValidationException", "TransformInput.DataSource.S3DataSource is required.")
    if not source["S3Uri"].startswith("s3://"):
        raise ServiceError("ValidationException", "TransformInput S3Uri must start with s3://")
    if not params["TransformOutput"]["S3OutputPath"].startswith("s3://"):
        raise ServiceError("ValidationException", "TransformOutput.S3OutputPath must start with s3://")
    processing = params.get("DataProcessing") or {}
    for key in ("InputFilter", "OutputFilter"):
        if key in processing:
            try:
                jsonpath.parse(processing[key])
            except jsonpath.JsonPathError as exc:
                raise ServiceError("ValidationException", f"DataProcessing.{key}: {exc}") from None


@ops.handler("CreateTransformJob")
def create_transform_job(ctx: RequestContext, params: dict) -> dict:
    name = params["TransformJobName"]
    check_name(name, "transformJobName")
    _validate(ctx, params)
    check_kms_keys(
        ctx,
        params,
        ("TransformOutput", "KmsKeyId"),
        ("TransformResources", "VolumeKmsKeyId"),
        ("DataCaptureConfig", "KmsKeyId"),
    )
    job_arn = arn(ctx, TYPE, name)
    created = now()
    transform_input = dict(params["TransformInput"])
    transform_input.setdefault("CompressionType", "None")
    transform_input.setdefault("SplitType", "None")
    output = dict(params["TransformOutput"])
    output.setdefault("AssembleWith", "None")
    description = {
        "TransformJobName": name,
        "TransformJobArn": job_arn,
        "TransformJobStatus": "InProgress",
        "ModelName": params["ModelName"],
        "MaxConcurrentTransforms": params.get("MaxConcurrentTransforms", 1),
        "MaxPayloadInMB": params.get("MaxPayloadInMB", 6),
        "BatchStrategy": params.get("BatchStrategy", "MultiRecord"),
        "Environment": params.get("Environment", {}),
        "TransformInput": transform_input,
        "TransformOutput": output,
        "TransformResources": params["TransformResources"],
        "CreationTime": created,
        "DataProcessing": {
            "InputFilter": "$",
            "OutputFilter": "$",
            "JoinSource": "None",
            **(params.get("DataProcessing") or {}),
        },
    }
    for key in ("ModelClientConfig", "DataCaptureConfig", "ExperimentConfig"):
        if params.get(key):
            description[key] = params[key]
    description = strip_empty(description)
    description["Environment"] = params.get("Environment", {})
    record_job(ctx, TYPE, name, job_arn, description, params.get("Tags"), "transform")
    return {"TransformJobArn": job_arn}


@ops.handler("DescribeTransformJob")
def describe_transform_job(ctx: RequestContext, params: dict) -> dict:
    return _get(ctx, params["TransformJobName"]).data


@ops.handler("ListTransformJobs")
def list_transform_jobs(ctx: RequestContext, params: dict) -> dict:
    def summary(row) -> dict:
        data = row.data
        fields = {
            key: data.get(key)
            for key in (
                "TransformJobName",
                "TransformJobArn",
                "CreationTime",
                "TransformJobStatus",
                "TransformEndTime",
                "FailureReason",
            )
        }
        return {**fields, "LastModifiedTime": data.get("LastModifiedTime", data["CreationTime"])}

    return list_page(ctx, TYPE, params, "TransformJobSummaries", summary)


@ops.handler("StopTransformJob")
def stop_transform_job(ctx: RequestContext, params: dict) -> dict:
    name = params["TransformJobName"]
    _get(ctx, name)

    def change(job):
        status = job.data["TransformJobStatus"]
        if status != "InProgress":
            raise ServiceError(
                "ValidationException",
                f"The transform job {name} is not in progress (status {status}) and cannot be stopped.",
            )
        job.data["LastModifiedTime"] = now()
        return "Stopping"

    mutate(ctx.platform.resources, ctx.account_id, ctx.region, TYPE, name, change, TRANSFORM)
    wake(ctx, "transform")
    return {}
