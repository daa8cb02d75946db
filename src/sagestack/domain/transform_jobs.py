"""Batch transform jobs: the status machine and the one place a status change is recorded.

``CreateTransformJob`` records ``InProgress``; ``StopTransformJob`` moves to ``Stopping``; the executor
reports its start and its outcome through a :class:`JobRecorder` the reconciler hands it
(``Completed`` | ``Failed`` | ``Stopped``); the reconciler ends a stopped job nothing runs (:func:`finish`).
"""

from __future__ import annotations

from ..store.resources import Resource
from . import experiments
from .state import StateMachine, mutate, utcnow

TYPE = "transform-job"
LOG_GROUP = "/aws/sagemaker/TransformJobs"

TRANSFORM = StateMachine(
    "TransformJobStatus",
    {
        "InProgress": {"Completed", "Failed", "Stopping", "Stopped"},
        "Stopping": {"Stopped", "Failed", "Completed"},
        "Completed": set(),
        "Failed": set(),
        "Stopped": set(),
    },
    field="TransformJobStatus",
)


def record(
    resources, account_id: str, region: str, name: str, status: str | None, extra: dict | None = None
) -> Resource | None:
    """Set ``extra`` on a job that has not finished and move it to ``status`` (None: keep it); a terminal
    status stamps ``TransformEndTime``. A finished job is left alone."""
    final = status is not None and TRANSFORM.terminal(status)

    def change(job: Resource) -> str | None:
        if TRANSFORM.terminal(job.status):
            return None
        stamp = utcnow()
        job.data.update(extra or {})
        job.data["LastModifiedTime"] = stamp
        if final:
            job.data["TransformEndTime"] = stamp
        return status

    job = mutate(resources, account_id, region, TYPE, name, change, TRANSFORM)
    if final and job is not None and TRANSFORM.terminal(job.status):
        experiments.job_finished(resources, job)
    return job


def finish(resources, account_id: str, region: str, name: str, status: str) -> Resource | None:
    """End a job the executor no longer runs (stopped while nothing ran it)."""
    return record(resources, account_id, region, name, status)


class JobRecorder:
    """What a transform run observes, written to its job (the executor's ``JobObserver``)."""

    def __init__(self, resources, account_id: str, region: str, name: str):
        self.resources = resources
        self.key = (account_id, region, name)

    def on_progress(
        self, secondary: str | None = None, *, message: str | None = None, extra: dict | None = None
    ) -> dict | None:
        job = record(self.resources, *self.key, None, extra)
        return job.data if job is not None else None

    def on_processes(self, pids: list[int]) -> None:
        """Transform workers are the serving controller's; nothing to record."""

    def on_finished(
        self,
        status: str,
        *,
        secondary: str | None = None,
        message: str | None = None,
        extra: dict | None = None,
    ) -> None:
        record(self.resources, *self.key, status, extra)


# -- data capture (DataCaptureConfig) ----------------------------------------------------------------


def capture_manifest(uris: list[str]) -> bytes:
    """A capture manifest as batch transform writes it: ``[{"prefix": "s3://…/"}, "rel", …]`` with the
    longest common folder of the listed objects as the prefix."""
    import json
    import os

    common = os.path.commonprefix(uris)
    prefix = common[: common.rfind("/") + 1] if "/" in common[5:] else common
    if len(prefix) <= len("s3://") or prefix.count("/") < 3:  # at least s3://bucket/
        prefix = "/".join(uris[0].split("/")[:3]) + "/" if uris else "s3://"
    return json.dumps([{"prefix": prefix}, *[u[len(prefix) :] for u in uris]]).encode()


def capture_manifest_uris(destination: str, started, name: str) -> tuple[str, str]:
    """Where a job's input and output capture manifests go: ``<dest>/input/yyyy/mm/dd/hh/<name>.json`` and
    ``<dest>/output/…``, the hour being the job's start (UTC)."""
    import datetime as dt

    hour = started.astimezone(dt.timezone.utc).strftime("%Y/%m/%d/%H")
    base = destination.rstrip("/")
    return f"{base}/input/{hour}/{name}.json", f"{base}/output/{hour}/{name}.json"
