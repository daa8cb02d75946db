"""The inference-experiment control loop: an experiment follows the endpoint update it started.

    Creating / Updating → Running    (the endpoint is InService on the experiment's generation)
                        → Cancelled  (the endpoint update failed; StatusReason quotes it)
    Running             → Stopping   (Schedule.EndTime passed: shadows removed, production kept)
    Stopping            → Completed | Cancelled (DesiredState) once the endpoint is InService again
"""

from __future__ import annotations

import logging

from ..services.sagemaker.common import now
from ..services.sagemaker.endpoints import TYPE as ENDPOINT_TYPE
from ..services.sagemaker.endpoints import start_update
from ..services.sagemaker.inference_experiments import TYPE
from ..store.resources import ConcurrentModification

log = logging.getLogger("sagestack.reconcilers.inference_experiments")
WATCHED = ("Creating", "Updating", "Running", "Stopping")
INTERVAL = 1.0


class ExperimentReconciler:
    def __init__(self, platform):
        self.resources = platform.resources

    def step(self) -> None:
        for row in self.resources.in_states(TYPE, WATCHED):
            try:
                self.reconcile(row)
            except ConcurrentModification:
                continue
            except Exception:
                log.exception("reconciling inference experiment %s failed", row.name)

    def write(self, row, status: str, **changes) -> None:
        data = dict(row.data, LastModifiedTime=now())
        data.update({k: v for k, v in changes.items() if v is not None})
        self.resources.update(row, data, status=status, expect_version=True)

    def reconcile(self, row) -> None:
        data = row.data
        endpoint = self.resources.get(row.account_id, row.region, ENDPOINT_TYPE, data["EndpointName"])
        if endpoint is None:
            self.write(row, "Cancelled", StatusReason="The endpoint was deleted.", CompletionTime=now())
            return
        wanted = int(data.get("_generation", 0))
        applied = int(endpoint.data.get("_generation", 1)) >= wanted
        settled = endpoint.status == "InService" and not endpoint.data.get("_pending")
        if row.status in ("Creating", "Updating", "Stopping") and settled:
            if not applied:
                self.write(row, "Cancelled", CompletionTime=now(),
                           StatusReason=endpoint.data.get("FailureReason") or "The endpoint update did not apply.")
            elif row.status == "Stopping":
                self.write(row, data.get("_desired") or "Completed", CompletionTime=now())
            else:
                self.write(row, "Running")
            return
        if row.status == "Running" and settled:
            end = (data.get("Schedule") or {}).get("EndTime")
            if end is not None and now() >= end:
                plan = {k: v for k, v in endpoint.data["_plan"].items() if k != "ShadowVariants"}
                start_update(self.resources, endpoint, plan, in_place=True)
                self.write(row, "Stopping", _generation=int(endpoint.data["_pending"]["generation"]),
                           _desired="Completed", StatusReason="The experiment reached the end of its schedule.")


def start(platform) -> None:
    platform.add_loop("inference-experiments", ExperimentReconciler(platform).step, INTERVAL)
