"""Processing jobs: the handlers validate, record the job and return; reconcilers.processing runs it
(the status machine: ``domain/processing_jobs.py``)."""

from __future__ import annotations

from ...domain import processing_jobs
from ...domain.processing_jobs import PROCESSING, TYPE
from ...domain.state import mutate
from ...protocol.errors import ServiceError
from ..context import RequestContext
from ..errors import in_use_if_exists
from ..registry import OperationTable
from .common import check_kms_keys, check_name, list_page, now, resource_not_found, wake

ops = OperationTable("sagemaker")

LOCAL_ROOT = "/opt/ml/processing/"


def _invalid(message: str) -> ServiceError:
    return ServiceError("ValidationException", message)


def _local(path: str) -> str:
    """A LocalPath as a directory (``x/`` and ``x`` are the same place)."""
    return path.rstrip("/")


def _check_local_path(path: str | None, where: str) -> None:
    if path is not None and not (path.startswith(LOCAL_ROOT) and len(path.rstrip("/")) > len(LOCAL_ROOT) - 1):
        raise _invalid(f"{where}.LocalPath must be a path under {LOCAL_ROOT} (got {path!r}).")
    if path is not None and ".." in path.split("/"):
        raise _invalid(f"{where}.LocalPath must not contain '..' (got {path!r}).")


def _validate(params: dict) -> None:
    names: set[str] = set()
    locals_: dict[str, str] = {}
    for index, item in enumerate(params.get("ProcessingInputs") or [], 1):
        where = f"ProcessingInputs[{index}] ({item['InputName']})"
        if item["InputName"] in names:
            raise _invalid(
                f"Input names must be unique within a processing job: {item['InputName']!r} is "
                f"given more than once."
            )
        names.add(item["InputName"])
        sources = [k for k in ("S3Input", "DatasetDefinition") if item.get(k)]
        if len(sources) != 1:
            raise _invalid(f"{where}: exactly one of S3Input and DatasetDefinition must be specified.")
        app_managed = bool(item.get("AppManaged"))
        if "S3Input" in item:
            s3 = item["S3Input"]
            if not s3["S3Uri"].startswith("s3://"):
                raise _invalid(f"{where}.S3Input.S3Uri must start with s3:// (got {s3['S3Uri']!r}).")
            if not app_managed and not s3.get("LocalPath"):
                raise _invalid(f"{where}.S3Input.LocalPath is required when AppManaged is false.")
            if s3.get("S3CompressionType") == "Gzip" and s3.get("S3InputMode") != "Pipe":
                raise _invalid(
                    f"{where}.S3Input: S3CompressionType Gzip is only supported with S3InputMode Pipe."
                )
            local = s3.get("LocalPath")
            where_local = f"{where}.S3Input"
        else:
            definition = item["DatasetDefinition"]
            kinds = [k for k in ("AthenaDatasetDefinition", "RedshiftDatasetDefinition") if definition.get(k)]
            if len(kinds) != 1:
                raise _invalid(
                    f"{where}.DatasetDefinition: exactly one of AthenaDatasetDefinition and "
                    f"RedshiftDatasetDefinition must be specified."
                )
            local = definition.get("LocalPath")
            if not app_managed and not local:
                raise _invalid(f"{where}.DatasetDefinition.LocalPath is required when AppManaged is false.")
            where_local = f"{where}.DatasetDefinition"
        _check_local_path(local, where_local)
        if local and not app_managed:
            if _local(local) in locals_:
                raise _invalid(
                    f"{where}: LocalPath {local!r} is already the destination of input "
                    f"{locals_[_local(local)]!r}; each input needs its own LocalPath."
                )
            locals_[_local(local)] = item["InputName"]
    outputs = (params.get("ProcessingOutputConfig") or {}).get("Outputs") or []
    out_names: set[str] = set()
    for index, item in enumerate(outputs, 1):
        where = f"ProcessingOutputConfig.Outputs[{index}] ({item['OutputName']})"
        if item["OutputName"] in out_names:
            raise _invalid(
                f"Output names must be unique within a processing job: {item['OutputName']!r} is "
                f"given more than once."
            )
        out_names.add(item["OutputName"])
        sources = [k for k in ("S3Output", "FeatureStoreOutput") if item.get(k)]
        if len(sources) != 1:
            raise _invalid(f"{where}: exactly one of S3Output and FeatureStoreOutput must be specified.")
        if "FeatureStoreOutput" in item and not item.get("AppManaged"):
            raise _invalid(f"{where}: FeatureStoreOutput requires AppManaged to be true.")
        if "S3Output" in item:
            s3 = item["S3Output"]
            if not s3["S3Uri"].startswith("s3://"):
                raise _invalid(f"{where}.S3Output.S3Uri must start with s3:// (got {s3['S3Uri']!r}).")
            if not item.get("AppManaged") and not s3.get("LocalPath"):
                raise _invalid(f"{where}.S3Output.LocalPath is required when AppManaged is false.")
            _check_local_path(s3.get("LocalPath"), f"{where}.S3Output")
            if s3.get("LocalPath") and _local(s3["LocalPath"]) in locals_:
                raise _invalid(
                    f"{where}.S3Output.LocalPath {s3['LocalPath']!r} is also the LocalPath of input "
                    f"{locals_[_local(s3['LocalPath'])]!r}."
                )


def _get(ctx: RequestContext, name: str, missing=None):
    job = ctx.platform.resources.get(ctx.account_id, ctx.region, TYPE, name)
    if job is None:
        raise missing or _invalid(f"Could not find requested job with name {name}")
    return job


@ops.handler("CreateProcessingJob")
def create_processing_job(ctx: RequestContext, params: dict) -> dict:
    name = params["ProcessingJobName"]
    check_name(name, "processingJobName")
    _validate(params)
    check_kms_keys(
        ctx,
        params,
        ("ProcessingOutputConfig", "KmsKeyId"),
        ("ProcessingResources", "ClusterConfig", "VolumeKmsKeyId"),
    )
    job_arn = processing_jobs.job_arn(ctx.region, ctx.account_id, name)
    with in_use_if_exists(
        f"Job name must be unique within an AWS account and region, and a job with this "
        f"name already exists ({job_arn})"
    ):
        processing_jobs.create(
            ctx.platform.resources,
            ctx.account_id,
            ctx.region,
            params,
            created_by={"IamIdentity": {"Arn": ctx.principal_arn}},
        )
    wake(ctx, "processing")
    return {"ProcessingJobArn": job_arn}


@ops.handler("DescribeProcessingJob")
def describe_processing_job(ctx: RequestContext, params: dict) -> dict:
    job = _get(ctx, params["ProcessingJobName"])
    return {k: v for k, v in job.data.items() if not k.startswith("_")}


@ops.handler("ListProcessingJobs")
def list_processing_jobs(ctx: RequestContext, params: dict) -> dict:
    return list_page(
        ctx,
        TYPE,
        params,
        "ProcessingJobSummaries",
        lambda row: {
            key: row.data.get(key)
            for key in (
                "ProcessingJobName",
                "ProcessingJobArn",
                "CreationTime",
                "ProcessingEndTime",
                "LastModifiedTime",
                "ProcessingJobStatus",
                "FailureReason",
                "ExitMessage",
            )
        },
    )


@ops.handler("StopProcessingJob")
def stop_processing_job(ctx: RequestContext, params: dict) -> dict:
    name = params["ProcessingJobName"]
    _get(ctx, name, resource_not_found(f"Could not find requested job with name {name}"))

    def change(job):
        status = job.data["ProcessingJobStatus"]
        if status == "Stopping":
            return None
        if status != "InProgress":
            raise _invalid(
                f"The processing job {name} is not in progress (status {status}) and cannot be stopped."
            )
        job.data["LastModifiedTime"] = now()
        return "Stopping"

    mutate(ctx.platform.resources, ctx.account_id, ctx.region, TYPE, name, change, PROCESSING)
    wake(ctx, "processing")
    return {}


@ops.handler("DeleteProcessingJob")
def delete_processing_job(ctx: RequestContext, params: dict) -> dict:
    name = params["ProcessingJobName"]
    job = _get(ctx, name, resource_not_found(f"Could not find requested job with name {name}"))
    if not PROCESSING.terminal(job.status):
        raise ServiceError(
            "ResourceInUse",
            f"The processing job {name} is {job.status}; only Completed, "
            f"Failed or Stopped processing jobs can be deleted. Stop it first.",
        )
    ctx.platform.resources.delete(ctx.account_id, ctx.region, TYPE, name)
    return {}
