"""The transform reconciler: starts runs for InProgress jobs, delivers stops; after a restart, jobs the
store says were running are simply run again (outputs are rewritten whole, so a re-run is safe)."""

from __future__ import annotations

from ..domain import transform_jobs
from ..domain.transform_jobs import TYPE
from ..execution.transform import TransformExecutor
from ..serving.controller import serving_controller
from .base import Reconciler


class TransformReconciler(Reconciler):
    name = "transform"

    def __init__(self, platform):
        super().__init__(platform)
        self.executor = TransformExecutor(platform, workers=lambda: serving_controller(platform))

    def step(self) -> None:
        resources = self.platform.resources
        for job in resources.in_states(TYPE, ["Stopping"]):
            run = self.executor.get((job.account_id, job.region, job.name))
            if run is not None:
                run.request_stop()
            else:
                transform_jobs.finish(resources, job.account_id, job.region, job.name, "Stopped")
        for job in resources.in_states(TYPE, ["InProgress"]):
            if self.platform.stopping:
                return
            self.executor.start(
                job, transform_jobs.JobRecorder(resources, job.account_id, job.region, job.name)
            )


def start(platform) -> None:
    TransformReconciler.start(platform)
