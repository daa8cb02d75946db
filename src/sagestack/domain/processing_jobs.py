"""Processing jobs: the status machine and the one place a status change is recorded.

Who changes a job's status, and how:

* the handlers: ``CreateProcessingJob`` records ``InProgress``, ``StopProcessingJob`` moves to
  ``Stopping``;
* the executor reports what it observes through a :class:`JobRecorder` the reconciler hands it (the start,
  its processes, then ``Completed`` | ``Failed`` | ``Stopped``);
* the reconciler, after a restart: :func:`finish` (a job whose processes the restart ended fails with
  :data:`INTERRUPTED_REASON`).
"""

from __future__ import annotations

from ..store.resources import Resource
from . import experiments
from .state import StateMachine, mutate, utcnow

TYPE = "processing-job"
LOG_GROUP = "/aws/sagemaker/ProcessingJobs"
METRIC_NAMESPACE = "/aws/sagemaker/ProcessingJobs"

PROCESSING = StateMachine(
    "ProcessingJobStatus",
    {
        "InProgress": {"Completed", "Failed", "Stopping", "Stopped"},
        "Stopping": {"Stopped", "Failed", "Completed"},
        "Completed": set(),
        "Failed": set(),
        "Stopped": set(),
    },
    field="ProcessingJobStatus",
)

INTERRUPTED_REASON = (
    "InternalServerError: the sagestack server stopped while this processing job was running; processing "
    "jobs are not resumed after a restart. Run the job again under a new name."
)

#: The most of /opt/ml/output/message DescribeProcessingJob gives back (AWS: the first 1 KB).
EXIT_MESSAGE_LIMIT = 1024

#: Request members a job's description gives back exactly as sent (no defaults injected).
AS_SENT = ("ProcessingInputs", "ProcessingOutputConfig", "Environment", "NetworkConfig", "ExperimentConfig")


def job_arn(region: str, account_id: str, name: str) -> str:
    # SageMaker lower-cases names inside ARNs.
    return f"arn:aws:sagemaker:{region}:{account_id}:processing-job/{name.lower()}"


def describe_new(params: dict, arn: str, created) -> dict:
    description = {
        "ProcessingJobName": params["ProcessingJobName"],
        "ProcessingJobArn": arn,
        "ProcessingJobStatus": "InProgress",
        "ProcessingResources": params["ProcessingResources"],
        "StoppingCondition": params.get("StoppingCondition") or {"MaxRuntimeInSeconds": 86400},
        "AppSpecification": params["AppSpecification"],
        "RoleArn": params["RoleArn"],
        "CreationTime": created,
        "LastModifiedTime": created,
    }
    for key in AS_SENT:
        if params.get(key) is not None:
            description[key] = params[key]
    return description


def create(
    resources,
    account_id: str,
    region: str,
    params: dict,
    *,
    extra: dict | None = None,
    created_by: dict | None = None,
) -> Resource:
    """Record a new job ``InProgress`` (the processing reconciler runs it) and its trial component;
    ``extra`` members join its description. Raises store.errors.AlreadyExists for a name in use."""
    name = params["ProcessingJobName"]
    arn = job_arn(region, account_id, name)
    description = describe_new(params, arn, utcnow())
    if extra:
        description.update(extra)
    row = resources.create(
        account_id, region, TYPE, name, arn, description, status="InProgress", tag_list=params.get("Tags")
    )
    experiments.create_job_component(resources, account_id, region, TYPE, description, arn, created_by)
    return row


def record(
    resources,
    account_id: str,
    region: str,
    name: str,
    *,
    primary: str | None = None,
    extra: dict | None = None,
    unless_finished: bool = False,
) -> Resource | None:
    """Set ``extra`` members (and move to ``primary`` when given) in one checked write; a terminal
    ``primary`` stamps ``ProcessingEndTime``. ``unless_finished``: leave a finished job alone."""
    final = bool(primary and PROCESSING.terminal(primary))

    def change(job: Resource) -> str | None:
        if unless_finished and PROCESSING.terminal(job.status):
            return None
        stamp = utcnow()
        if extra:
            job.data.update(extra)
        if final:
            job.data.setdefault("ProcessingEndTime", stamp)
        job.data["LastModifiedTime"] = stamp
        return primary

    job = mutate(resources, account_id, region, TYPE, name, change, PROCESSING)
    if (
        primary is not None
        and PROCESSING.terminal(primary)
        and job is not None
        and PROCESSING.terminal(job.status)
    ):
        experiments.job_finished(resources, job)
    return job


def finish(
    resources, account_id: str, region: str, name: str, primary: str, extra: dict | None = None
) -> Resource | None:
    """End a job the executor no longer runs (stopped while queued, or lost in a server restart)."""
    return record(resources, account_id, region, name, primary=primary, extra=extra, unless_finished=True)


class JobRecorder:
    """What a processing run observes, written to its job (the executor's ``JobObserver``)."""

    def __init__(self, resources, account_id: str, region: str, name: str):
        self.resources = resources
        self.key = (account_id, region, name)

    def on_progress(
        self, secondary: str, *, message: str | None = None, extra: dict | None = None
    ) -> dict | None:
        job = record(self.resources, *self.key, extra=extra)
        return job.data if job is not None else None

    def on_processes(self, pids: list[int]) -> None:
        def change(job: Resource) -> None:
            job.data["_pids"] = pids

        mutate(self.resources, *self.key[:2], TYPE, self.key[2], change)

    def on_finished(
        self,
        status: str,
        *,
        secondary: str | None = None,
        message: str | None = None,
        extra: dict | None = None,
    ) -> None:
        record(self.resources, *self.key, primary=status, extra=extra, unless_finished=status == "Failed")
