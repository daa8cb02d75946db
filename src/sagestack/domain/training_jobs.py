"""Training jobs: the status machine, the SecondaryStatus wording, and the one place a status change is
recorded (``SecondaryStatusTransitions`` closed and appended).

Who changes a job's status, and how:

* the handlers: ``CreateTrainingJob`` opens ``Starting`` (:func:`new_transitions`), ``StopTrainingJob``
  moves to ``Stopping`` (:func:`enter`);
* the executor reports what it observes through a :class:`JobRecorder` the reconciler hands it
  (``Downloading`` → ``Training`` → ``Uploading`` → ``Completed`` | ``Failed`` | ``Stopped`` …);
* the reconciler, after a restart: :func:`interrupted` (resume from checkpoints) or :func:`finish`.
"""

from __future__ import annotations

import datetime as dt

from ..protocol.errors import ServiceError
from ..store.resources import Resource
from . import experiments
from .state import StateMachine, mutate, strip_empty, utcnow

TYPE = "training-job"
LOG_GROUP = "/aws/sagemaker/TrainingJobs"
METRIC_NAMESPACE = "/aws/sagemaker/TrainingJobs"

TRAINING = StateMachine(
    "TrainingJobStatus",
    {
        "InProgress": {"Completed", "Failed", "Stopping", "Stopped"},
        "Stopping": {"Stopped", "Failed", "Completed"},
        "Completed": set(),
        "Failed": set(),
        "Stopped": set(),
    },
    field="TrainingJobStatus",
)

MESSAGES = {
    "Starting": "Preparing the instances for training",
    "Downloading": "Downloading input data",
    "Training": "Training image download completed. Training in progress.",
    "Uploading": "Uploading generated training model",
    "Completed": "Training job completed",
    "Failed": "Training job failed",
    "Stopping": "Stopping the training job",
    "Stopped": "Training job stopped",
    "MaxRuntimeExceeded": "Training job runtime exceeded MaxRuntimeInSeconds provided",
    "MaxWaitTimeExceeded": "Training job exceeded MaxWaitTimeInSeconds provided",
    "Interrupted": "The training job was interrupted (the sagestack server stopped); it resumes from its "
    "last checkpoint",
    "Restarting": "Restarting the training job from its last checkpoint",
}

INTERRUPTED_REASON = (
    "InternalServerError: the sagestack server stopped while this job was running. Jobs with a "
    "CheckpointConfig (or managed spot training) resume from their last checkpoint after a restart; this one "
    "had none."
)


def validate(params: dict) -> None:
    """CreateTrainingJob's checks beyond the input shape (ValidationException, AWS's wording)."""
    algorithm = params["AlgorithmSpecification"]
    if not algorithm.get("TrainingImage") and not algorithm.get("AlgorithmName"):
        raise ServiceError(
            "ValidationException",
            "Either TrainingImage or AlgorithmName must be specified in AlgorithmSpecification.",
        )
    if algorithm.get("AlgorithmName") and not algorithm.get("TrainingImage"):
        raise ServiceError(
            "ValidationException",
            "AlgorithmName (marketplace algorithms) is not supported by sagestack; use TrainingImage.",
        )
    names = [c["ChannelName"] for c in params.get("InputDataConfig", [])]
    if len(names) != len(set(names)):
        raise ServiceError("ValidationException", "Channel names must be unique in InputDataConfig.")
    for channel in params.get("InputDataConfig", []):
        source = channel["DataSource"]
        if "S3DataSource" not in source:
            raise ServiceError(
                "ValidationException",
                f"Channel {channel['ChannelName']}: only S3DataSource data sources are supported.",
            )
        if not source["S3DataSource"]["S3Uri"].startswith("s3://"):
            raise ServiceError(
                "ValidationException", f"Channel {channel['ChannelName']}: S3Uri must start with s3://"
            )
    if not params["OutputDataConfig"]["S3OutputPath"].startswith("s3://"):
        raise ServiceError("ValidationException", "OutputDataConfig.S3OutputPath must start with s3://")
    resource = params["ResourceConfig"]
    if not resource.get("InstanceType") and not resource.get("InstanceGroups"):
        raise ServiceError("ValidationException", "ResourceConfig.InstanceType is required.")
    stopping = params["StoppingCondition"]
    if params.get("EnableManagedSpotTraining"):
        wait = stopping.get("MaxWaitTimeInSeconds")
        if wait is None:
            raise ServiceError(
                "ValidationException", "MaxWaitTimeInSeconds must be set for managed spot training."
            )
        if wait < stopping.get("MaxRuntimeInSeconds", 86400):
            raise ServiceError(
                "ValidationException",
                "MaxWaitTimeInSeconds must be greater than or equal to MaxRuntimeInSeconds.",
            )
    elif stopping.get("MaxWaitTimeInSeconds") is not None:
        raise ServiceError(
            "ValidationException", "MaxWaitTimeInSeconds can only be set with EnableManagedSpotTraining."
        )


def job_arn(region: str, account_id: str, name: str) -> str:
    # SageMaker lower-cases names inside ARNs.
    return f"arn:aws:sagemaker:{region}:{account_id}:training-job/{name.lower()}"


def describe_new(params: dict, name: str, job_arn: str, created: dt.datetime) -> dict:
    """The description a new job starts with (CreateTrainingJob's input with AWS's defaults filled in);
    ``params`` passed :func:`validate`."""
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
        "ModelArtifacts": {
            "S3ModelArtifacts": f"{output['S3OutputPath'].rstrip('/')}/{name}/output/model.tar.gz"
        },
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
        "SecondaryStatusTransitions": new_transitions(created),
        "EnableNetworkIsolation": params.get("EnableNetworkIsolation", False),
        "EnableInterContainerTrafficEncryption": params.get("EnableInterContainerTrafficEncryption", False),
        "EnableManagedSpotTraining": params.get("EnableManagedSpotTraining", False),
    }
    for key in (
        "VpcConfig",
        "CheckpointConfig",
        "DebugHookConfig",
        "DebugRuleConfigurations",
        "TensorBoardOutputConfig",
        "ExperimentConfig",
        "ProfilerConfig",
        "ProfilerRuleConfigurations",
        "Environment",
        "RetryStrategy",
        "RemoteDebugConfig",
        "InfraCheckConfig",
        "SessionChainingConfig",
    ):
        if params.get(key):
            description[key] = params[key]
    if params.get("DebugRuleConfigurations"):
        # Debugger rule containers are not run here: say so rather than report a verdict.
        description["DebugRuleEvaluationStatuses"] = [
            {
                "RuleConfigurationName": r["RuleConfigurationName"],
                "RuleEvaluationStatus": "Stopped",
                "StatusDetails": "sagestack does not run Debugger rule evaluations",
                "LastModifiedTime": created,
            }
            for r in params["DebugRuleConfigurations"]
        ]
    description = strip_empty(description)
    description["HyperParameters"] = params.get("HyperParameters", {})
    return description


def create(
    resources,
    account_id: str,
    region: str,
    params: dict,
    *,
    parent: str | None = None,
    extra: dict | None = None,
) -> Resource:
    """Validate and record a new job, ``InProgress``/``Starting`` (the training reconciler runs it).
    ``parent``: the tuning job that launched it; ``extra`` members are added to its description.
    Raises ServiceError (validation) or store.errors.AlreadyExists."""
    name = params["TrainingJobName"]
    validate(params)
    arn = job_arn(region, account_id, name)
    description = describe_new(params, name, arn, utcnow())
    if extra:
        description.update(extra)
    row = resources.create(
        account_id,
        region,
        TYPE,
        name,
        arn,
        description,
        status="InProgress",
        parent=parent,
        tag_list=params.get("Tags"),
    )
    experiments.create_job_component(resources, account_id, region, TYPE, row.data, arn)
    return row


def request_stop(resources, account_id: str, region: str, name: str) -> Resource | None:
    """StopTrainingJob's desired state: ``Stopping`` (the training reconciler delivers it)."""

    def change(job: Resource) -> str | None:
        status = job.data["TrainingJobStatus"]
        if status != "InProgress":
            raise ServiceError(
                "ValidationException",
                f"The training job {name} is not in progress (status {status}) and cannot be stopped.",
            )
        enter(job.data, "Stopping", utcnow())
        return "Stopping"

    return mutate(resources, account_id, region, TYPE, name, change, TRAINING)


def new_transitions(created: dt.datetime) -> list[dict]:
    """A new job's ``SecondaryStatusTransitions``: ``Starting``, open."""
    return [{"Status": "Starting", "StartTime": created, "StatusMessage": MESSAGES["Starting"]}]


def enter(
    data: dict, status: str, stamp: dt.datetime, message: str | None = None, *, closed: bool = False
) -> None:
    """Record that the job's SecondaryStatus became ``status`` at ``stamp``: the open transition is
    closed, a new one appended (already closed when ``closed``: a status the job passes through, or
    its last)."""
    transitions = data.setdefault("SecondaryStatusTransitions", [])
    if transitions and "EndTime" not in transitions[-1]:
        transitions[-1]["EndTime"] = stamp
    item = {"Status": status, "StartTime": stamp}
    if closed:
        item["EndTime"] = stamp
    item["StatusMessage"] = (message or MESSAGES.get(status, status))[:1024]
    transitions.append(item)
    data["SecondaryStatus"] = status
    data["LastModifiedTime"] = stamp


def record(
    resources,
    account_id: str,
    region: str,
    name: str,
    secondary: str,
    *,
    message: str | None = None,
    primary: str | None = None,
    extra: dict | None = None,
    unless_finished: bool = False,
) -> Resource | None:
    """Move the job to ``secondary`` (and ``primary``, a TrainingJobStatus, when given) in one checked
    write; ``extra`` members are set too. A terminal ``primary`` closes the last transition and sets
    ``TrainingEndTime``. ``unless_finished``: leave a job that already reached a terminal status alone."""
    final = bool(primary and TRAINING.terminal(primary))

    def change(job: Resource) -> str | None:
        if unless_finished and TRAINING.terminal(job.status):
            return None
        stamp = utcnow()
        data = job.data
        enter(data, secondary, stamp, message, closed=final)
        if extra:
            data.update(extra)
        if final:
            data["TrainingEndTime"] = stamp
            note_objective(data)
        return primary

    job = mutate(resources, account_id, region, TYPE, name, change, TRAINING)
    if final and job is not None and TRAINING.terminal(job.status):
        experiments.job_finished(resources, job)
    return job


def note_objective(data: dict) -> None:
    """A tuning job's child that finished: its objective metric's last value (``_ObjectiveValue``, which
    the store keeps sortable), from ``FinalMetricDataList``."""
    tuning = data.get("_Tuning")
    if not tuning:
        return
    metric = tuning["Objective"]["MetricName"]
    for item in data.get("FinalMetricDataList") or []:
        if item.get("MetricName") == metric and item.get("Value") is not None:
            value = float(item["Value"])
            if value == value and abs(value) != float("inf"):
                data["_ObjectiveValue"] = value
            return


def finish(
    resources,
    account_id: str,
    region: str,
    name: str,
    primary: str,
    secondary: str,
    message: str,
    extra: dict | None = None,
) -> Resource | None:
    """End a job the executor no longer runs (stopped while queued, or lost in a server restart)."""
    return record(
        resources,
        account_id,
        region,
        name,
        secondary,
        message=message,
        primary=primary,
        extra=extra,
        unless_finished=True,
    )


def resumable(data: dict) -> bool:
    """An interrupted run of this job starts again (from its checkpoints, or as a retry) instead of
    failing: it has a CheckpointConfig, uses managed spot training, or has retries left."""
    if data.get("CheckpointConfig") or data.get("EnableManagedSpotTraining"):
        return True
    retries = (data.get("RetryStrategy") or {}).get("MaximumRetryAttempts", 0)
    return int(data.get("_attempts", 1)) <= int(retries)


def interrupted(resources, account_id: str, region: str, name: str) -> Resource | None:
    """The server stopped while the job ran; it will start again (from its checkpoints)."""

    def change(job: Resource) -> None:
        stamp = utcnow()
        data = job.data
        enter(data, "Interrupted", stamp, closed=True)
        enter(data, "Starting", stamp, MESSAGES["Restarting"])
        data["_pids"] = []
        data["_attempts"] = int(data.get("_attempts", 1)) + 1
        return None

    return mutate(resources, account_id, region, TYPE, name, change)


class JobRecorder:
    """What a training run observes, written to its job (the executor's ``JobObserver``)."""

    def __init__(self, resources, account_id: str, region: str, name: str):
        self.resources = resources
        self.key = (account_id, region, name)

    def on_progress(
        self, secondary: str, *, message: str | None = None, extra: dict | None = None
    ) -> dict | None:
        job = record(self.resources, *self.key, secondary, message=message, extra=extra)
        return job.data if job is not None else None

    def on_processes(self, pids: list[int]) -> None:
        def change(job: Resource) -> None:
            job.data["_pids"] = pids
            return None

        mutate(self.resources, *self.key[:2], TYPE, self.key[2], change)

    def on_lost(self, reason: str, extra: dict | None = None) -> None:
        """An instance's machine went away mid-run (a cluster node died): like a spot interruption, the
        job starts again when it can resume, else it fails with ``reason``."""
        account_id, region, name = self.key
        job = self.resources.get(account_id, region, TYPE, name)
        if job is not None and resumable(job.data):
            interrupted(self.resources, *self.key)
            return
        finish(
            self.resources, *self.key, "Failed", "Failed", reason, {"FailureReason": reason, **(extra or {})}
        )

    def on_finished(
        self,
        status: str,
        *,
        secondary: str | None = None,
        message: str | None = None,
        extra: dict | None = None,
    ) -> None:
        record(
            self.resources,
            *self.key,
            secondary or status,
            message=message,
            primary=status,
            extra=extra,
            unless_finished=status == "Failed",
        )
