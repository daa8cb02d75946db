"""The inference-experiment control loop: an experiment follows the endpoint update it started (the
status machine: ``domain/inference_experiments.py``)."""

from __future__ import annotations

from ..domain import inference_experiments as experiments
from ..domain.endpoints import TYPE as ENDPOINT_TYPE
from ..domain.endpoints import start_update, without_shadows
from ..domain.inference_experiments import TYPE, WATCHED
from ..domain.state import utcnow
from .base import Reconciler


class ExperimentReconciler(Reconciler):
    name = "inference-experiments"
    interval = 1.0

    def __init__(self, platform):
        super().__init__(platform)
        self.resources = platform.resources

    def step(self) -> None:
        self.each(self.resources.in_states(TYPE, WATCHED), self.reconcile, "inference experiment")

    def write(self, row, status: str, **changes) -> None:
        experiments.write(self.resources, row, status, **changes)

    def reconcile(self, row) -> None:
        data = row.data
        endpoint = self.resources.get(row.account_id, row.region, ENDPOINT_TYPE, data["EndpointName"])
        if endpoint is None:
            self.write(row, "Cancelled", StatusReason="The endpoint was deleted.", CompletionTime=utcnow())
            return
        wanted = int(data.get("_generation", 0))
        applied = int(endpoint.data.get("_generation", 1)) >= wanted
        settled = endpoint.status == "InService" and not endpoint.data.get("_pending")
        if row.status in ("Creating", "Updating", "Stopping") and settled:
            if not applied:
                self.write(
                    row,
                    "Cancelled",
                    CompletionTime=utcnow(),
                    StatusReason=endpoint.data.get("FailureReason") or "The endpoint update did not apply.",
                )
            elif row.status == "Stopping":
                self.write(row, data.get("_desired") or "Completed", CompletionTime=utcnow())
            else:
                self.write(row, "Running")
            return
        if row.status == "Running" and settled:
            end = (data.get("Schedule") or {}).get("EndTime")
            if end is not None and utcnow() >= end:
                start_update(self.resources, endpoint, without_shadows(endpoint.data["_plan"]), in_place=True)
                self.write(
                    row,
                    "Stopping",
                    _generation=int(endpoint.data["_pending"]["generation"]),
                    _desired="Completed",
                    StatusReason="The experiment reached the end of its schedule.",
                )


def start(platform) -> None:
    ExperimentReconciler.start(platform)
