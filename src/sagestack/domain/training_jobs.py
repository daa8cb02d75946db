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

from ..store.resources import Resource
from . import experiments
from .state import StateMachine, mutate, utcnow

TYPE = "training-job"
LOG_GROUP = "/aws/sagemaker/TrainingJobs"
METRIC_NAMESPACE = "/aws/sagemaker/TrainingJobs"

TRAINING = StateMachine("TrainingJobStatus", {
    "InProgress": {"Completed", "Failed", "Stopping", "Stopped"},
    "Stopping": {"Stopped", "Failed", "Completed"},
    "Completed": set(), "Failed": set(), "Stopped": set(),
}, field="TrainingJobStatus")

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
    "had none.")


def new_transitions(created: dt.datetime) -> list[dict]:
    """A new job's ``SecondaryStatusTransitions``: ``Starting``, open."""
    return [{"Status": "Starting", "StartTime": created, "StatusMessage": MESSAGES["Starting"]}]


def enter(data: dict, status: str, stamp: dt.datetime, message: str | None = None, *,
          closed: bool = False) -> None:
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


def record(resources, account_id: str, region: str, name: str, secondary: str, *,
           message: str | None = None, primary: str | None = None, extra: dict | None = None,
           unless_finished: bool = False) -> Resource | None:
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
        return primary

    job = mutate(resources, account_id, region, TYPE, name, change, TRAINING)
    if final and job is not None and TRAINING.terminal(job.status):
        experiments.job_finished(resources, job)
    return job


def finish(resources, account_id: str, region: str, name: str, primary: str, secondary: str, message: str,
           extra: dict | None = None) -> Resource | None:
    """End a job the executor no longer runs (stopped while queued, or lost in a server restart)."""
    return record(resources, account_id, region, name, secondary, message=message, primary=primary, extra=extra,
                  unless_finished=True)


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

    def on_progress(self, secondary: str, *, message: str | None = None, extra: dict | None = None
                    ) -> dict | None:
        job = record(self.resources, *self.key, secondary, message=message, extra=extra)
        return job.data if job is not None else None

    def on_processes(self, pids: list[int]) -> None:
        def change(job: Resource) -> None:
            job.data["_pids"] = pids
            return None

        mutate(self.resources, *self.key[:2], TYPE, self.key[2], change)

    def on_finished(self, status: str, *, secondary: str | None = None, message: str | None = None,
                    extra: dict | None = None) -> None:
        record(self.resources, *self.key, secondary or status, message=message, primary=status,
               extra=extra, unless_finished=status == "Failed")
