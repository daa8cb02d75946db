"""The transform reconciler: starts runs for InProgress jobs, delivers stops; after a restart, jobs the
store says were running are simply run again (outputs are rewritten whole, so a re-run is safe)."""

from __future__ import annotations

from ..execution.transform import TYPE, TransformExecutor
from .state import TRANSFORM, Reconciler, mutate, utcnow


class TransformReconciler(Reconciler):
    def __init__(self, platform):
        super().__init__(platform)
        self.executor = TransformExecutor(platform)

    def step(self) -> None:
        resources = self.platform.resources
        for job in resources.in_states(TYPE, ["Stopping"]):
            run = self.executor.get((job.account_id, job.region, job.name))
            if run is not None:
                run.request_stop()
            else:
                self._stopped(job)
        for job in resources.in_states(TYPE, ["InProgress"]):
            if self.platform.stopping:
                return
            self.executor.start(job)

    def _stopped(self, job) -> None:
        def change(resource):
            if TRANSFORM.terminal(resource.status):
                return None
            resource.data["TransformEndTime"] = utcnow()
            return "Stopped"

        mutate(self.platform.resources, job.account_id, job.region, TYPE, job.name, change, TRANSFORM,
               "TransformJobStatus")


def start(platform) -> None:
    TransformReconciler.start(platform, "transform")
