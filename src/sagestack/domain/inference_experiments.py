"""Inference experiments (shadow tests): the status machine and the variant statuses derived from it.

An experiment is an in-place update of its endpoint; its status follows that update::

    Creating / Updating → Running    (the endpoint is InService on the experiment's generation)
                        → Cancelled  (the endpoint update failed, or the endpoint was deleted)
    Running             → Updating   (UpdateInferenceExperiment changed the shadows)
                        → Stopping   (StopInferenceExperiment, or Schedule.EndTime passed)
    Stopping            → Completed | Cancelled (DesiredState) once the endpoint is InService again
"""

from __future__ import annotations

from ..store.resources import Resource
from .state import StateMachine, utcnow, write_status

TYPE = "inference-experiment"
KIND = "inference experiment"

EXPERIMENT = StateMachine(
    "InferenceExperimentStatus",
    {
        "Creating": {"Running", "Cancelled", "Stopping"},
        "Created": {"Running", "Updating", "Stopping", "Cancelled"},
        "Updating": {"Running", "Cancelled", "Stopping"},
        "Starting": {"Running", "Cancelled", "Stopping"},
        "Running": {"Updating", "Stopping", "Cancelled"},
        "Stopping": {"Completed", "Cancelled"},
        "Completed": set(),
        "Cancelled": set(),
    },
)

#: The statuses the experiment reconciler acts on.
WATCHED = ("Creating", "Updating", "Running", "Stopping")
#: The statuses StopInferenceExperiment / UpdateInferenceExperiment accept.
STOPPABLE = ("Running", "Created", "Creating", "Updating")
UPDATABLE = ("Running", "Created")


def write(resources, row: Resource, status: str, **changes) -> Resource:
    """Move the experiment to ``status`` (checked), setting ``changes`` and LastModifiedTime;
    ConcurrentModification when someone wrote it first."""
    return write_status(resources, EXPERIMENT, row, status, "LastModifiedTime", utcnow(), **changes)


def variant_status(status: str, data: dict, variant: str) -> str:
    """A model variant's status in DescribeInferenceExperiment, from the experiment's."""
    if status in ("Creating", "Updating", "Starting", "Created"):
        return "Creating" if status != "Updating" else "Updating"
    if status in ("Completed", "Cancelled", "Stopping"):
        action = (data.get("_actions") or {}).get(variant, "Retain")
        if action == "Remove":
            return "Deleting" if status == "Stopping" else "Deleted"
    return "InService"
