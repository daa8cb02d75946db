"""Training jobs: the handlers record the job and return; reconcilers.training runs it (the status machine
and the transitions: ``domain/training_jobs.py``)."""

from __future__ import annotations

from ...domain import experiments, training_jobs
from ...domain.state import mutate
from ...domain.training_jobs import TRAINING, TYPE
from ...protocol.errors import ServiceError
from ..context import RequestContext
from ..errors import in_use_if_exists
from ..registry import OperationTable
from .common import arn, check_kms_keys, check_name, list_page, now, strip_empty, wake

ops = OperationTable("sagemaker")


def _get(ctx: RequestContext, name: str):
    job = ctx.platform.resources.get(ctx.account_id, ctx.region, TYPE, name)
    if job is None:
        raise ServiceError("ValidationException", "Requested resource not found.")
    return job


def _validate(params: dict) -> None:
    algorithm = params["AlgorithmSpecification"]
    if not algorithm.get("TrainingImage") and not algorithm.get("AlgorithmName"):
        raise ServiceError("ValidationException", "Either TrainingImage or AlgorithmName must be specified "
                           "in AlgorithmSpecification.")
    if algorithm.get("AlgorithmName") and not algorithm.get("TrainingImage"):
        raise ServiceError("ValidationException", "AlgorithmName (marketplace algorithms) is not supported by "
                           "sagestack; use TrainingImage.")
    names = [c["ChannelName"] for c in params.get("InputDataConfig", [])]
    if len(names) != len(set(names)):
        raise ServiceError("ValidationException", "Channel names must be unique in InputDataConfig.")
    for channel in params.get("InputDataConfig", []):
        source = channel["DataSource"]
        if "S3DataSource" not in source:
            raise ServiceError("ValidationException", f"Channel {channel['ChannelName']}: only S3DataSource "
                               "data sources are supported.")
        if not source["S3DataSource"]["S3Uri"].startswith("s3://"):
            raise ServiceError("ValidationException", f"Channel {channel['ChannelName']}: S3Uri must start "
                               "with s3://")
    if not params["OutputDataConfig"]["S3OutputPath"].startswith("s3://"):
        raise ServiceError("ValidationException", "OutputDataConfig.S3OutputPath must start with s3://")
    resource = params["ResourceConfig"]
    if not resource.get("InstanceType") and not resource.get("InstanceGroups"):
        raise ServiceError("ValidationException", "ResourceConfig.InstanceType is required.")
    stopping = params["StoppingCondition"]
    if params.get("EnableManagedSpotTraining"):
        wait = stopping.get("MaxWaitTimeInSeconds")
        if wait is None:
            raise ServiceError("ValidationException", "MaxWaitTimeInSeconds must be set for managed spot "
                               "training.")
        if wait < stopping.get("MaxRuntimeInSeconds", 86400):
            raise ServiceError("ValidationException", "MaxWaitTimeInSeconds must be greater than or equal "
                               "to MaxRuntimeInSeconds.")
    elif stopping.get("MaxWaitTimeInSeconds") is not None:
        raise ServiceError("ValidationException", "MaxWaitTimeInSeconds can only be set with "
                           "EnableManagedSpotTraining.")


@ops.handler("CreateTrainingJob")
def create_training_job(ctx: RequestContext, params: dict) -> dict:
    name = params["TrainingJobName"]
    check_name(name, "trainingJobName")
    _validate(params)
    check_kms_keys(ctx, params, ("OutputDataConfig", "KmsKeyId"), ("ResourceConfig", "VolumeKmsKeyId"))
    job_arn = arn(ctx, TYPE, name)
    created = now()
    output = dict(params["OutputDataConfig"])
    output.setdefault("KmsKeyId", "")
    output.setdefault("CompressionType", "GZIP")
    stopping = dict(params["StoppingCondition"])
    stopping.setdefault("MaxRuntimeInSeconds", 86400)
    algorithm = dict(params["AlgorithmSpecification"])
    algorithm.setdefault("TrainingInputMode", "File")
    algorithm.setdefault("EnableSageMakerMetricsTimeSeries", False)
    channels = []
    for channel in params.get("InputDataConfig", []):
        channel = dict(channel)
        source = dict(channel["DataSource"]["S3DataSource"])
        source.setdefault("S3DataDistributionType", "FullyReplicated")
        channel["DataSource"] = {"S3DataSource": source}
        channel.setdefault("CompressionType", "None")
        channel.setdefault("RecordWrapperType", "None")
        channels.append(channel)
    description = {
        "TrainingJobName": name,
        "TrainingJobArn": job_arn,
        "ModelArtifacts": {"S3ModelArtifacts": f"{output['S3OutputPath'].rstrip('/')}/{name}/output/"
                                                f"model.tar.gz"},
        "TrainingJobStatus": "InProgress",
        "SecondaryStatus": "Starting",
        "HyperParameters": params.get("HyperParameters", {}),
        "AlgorithmSpecification": algorithm,
        "RoleArn": params["RoleArn"],
        "InputDataConfig": channels,
        "OutputDataConfig": output,
        "ResourceConfig": params["ResourceConfig"],
        "StoppingCondition": stopping,
        "CreationTime": created,
        "LastModifiedTime": created,
        "SecondaryStatusTransitions": training_jobs.new_transitions(created),
        "EnableNetworkIsolation": params.get("EnableNetworkIsolation", False),
        "EnableInterContainerTrafficEncryption": params.get("EnableInterContainerTrafficEncryption", False),
        "EnableManagedSpotTraining": params.get("EnableManagedSpotTraining", False),
    }
    for key in ("VpcConfig", "CheckpointConfig", "DebugHookConfig", "DebugRuleConfigurations",
                "TensorBoardOutputConfig", "ExperimentConfig", "ProfilerConfig", "ProfilerRuleConfigurations",
                "Environment", "RetryStrategy", "RemoteDebugConfig", "InfraCheckConfig",
                "SessionChainingConfig"):
        if params.get(key):
            description[key] = params[key]
    if params.get("DebugRuleConfigurations"):
        # Debugger rule containers are not run here: say so rather than report a verdict.
        description["DebugRuleEvaluationStatuses"] = [
            {"RuleConfigurationName": r["RuleConfigurationName"], "RuleEvaluationStatus": "Stopped",
             "StatusDetails": "sagestack does not run Debugger rule evaluations", "LastModifiedTime": created}
            for r in params["DebugRuleConfigurations"]]
    description = strip_empty(description)
    description["HyperParameters"] = params.get("HyperParameters", {})
    with in_use_if_exists(f"Training job names must be unique within an AWS account and region, and a "
                          f"training job with this name already exists ({job_arn})"):
        ctx.platform.resources.create(
            ctx.account_id, ctx.region, TYPE, name, job_arn, description, status="InProgress",
            tag_list=params.get("Tags"),
        )
    experiments.create_job_component(ctx.platform.resources, ctx.account_id, ctx.region, TYPE, description,
                                     job_arn, {"IamIdentity": {"Arn": ctx.principal_arn}})
    wake(ctx, "training")
    return {"TrainingJobArn": job_arn}


@ops.handler("DescribeTrainingJob")
def describe_training_job(ctx: RequestContext, params: dict) -> dict:
    job = _get(ctx, params["TrainingJobName"])
    return job.data


@ops.handler("ListTrainingJobs")
def list_training_jobs(ctx: RequestContext, params: dict) -> dict:
    return list_page(ctx, TYPE, params, "TrainingJobSummaries", lambda row: {
        key: row.data.get(key) for key in ("TrainingJobName", "TrainingJobArn", "CreationTime",
                                           "TrainingEndTime", "LastModifiedTime", "TrainingJobStatus",
                                           "SecondaryStatus")})


@ops.handler("StopTrainingJob")
def stop_training_job(ctx: RequestContext, params: dict) -> dict:
    name = params["TrainingJobName"]
    _get(ctx, name)

    def change(job):
        status = job.data["TrainingJobStatus"]
        if status != "InProgress":
            raise ServiceError("ValidationException", f"The training job {name} is not in progress "
                               f"(status {status}) and cannot be stopped.")
        training_jobs.enter(job.data, "Stopping", now())
        return "Stopping"

    mutate(ctx.platform.resources, ctx.account_id, ctx.region, TYPE, name, change, TRAINING)
    wake(ctx, "training")
    return {}


@ops.handler("UpdateTrainingJob")
def update_training_job(ctx: RequestContext, params: dict) -> dict:
    name = params["TrainingJobName"]
    _get(ctx, name)

    def change(job):
        if job.data["TrainingJobStatus"] not in ("InProgress",):
            raise ServiceError("ValidationException", f"The training job {name} is not in progress; only "
                               "running jobs can be updated.")
        for key in ("ProfilerConfig", "ProfilerRuleConfigurations", "RemoteDebugConfig"):
            if params.get(key):
                job.data[key] = params[key]
        if params.get("ResourceConfig"):
            job.data["ResourceConfig"] = {**job.data["ResourceConfig"], **params["ResourceConfig"]}
        job.data["LastModifiedTime"] = now()
        return None

    job = mutate(ctx.platform.resources, ctx.account_id, ctx.region, TYPE, name, change)
    return {"TrainingJobArn": job.data["TrainingJobArn"]}

