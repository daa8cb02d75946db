"""The transform reconciler: starts runs for InProgress jobs, delivers stops; after a restart, jobs the
store says were running are simply run again (outputs are rewritten whole, so a re-run is safe) — and
so, with several servers (``--cluster``), are the jobs of a server that died: the server holding a job's
lease (kind ``transform-job``) runs it."""

from __future__ import annotations

from ..domain import transform_jobs
from ..domain.transform_jobs import TYPE
from ..execution.transform import TransformExecutor
from ..serving.controller import serving_controller
from .base import FencedRecorder, Reconciler

LEASE = "transform-job"


class TransformReconciler(Reconciler):
    name = "transform"
    ownership = "resource"

    def __init__(self, platform):
        super().__init__(platform)
        self.executor = TransformExecutor(platform, workers=lambda: serving_controller(platform))

    def step(self) -> None:
        resources = self.platform.resources
        leases = self.platform.leases
        for job in resources.in_states(TYPE, ["Stopping"]):
            run = self.executor.get((job.account_id, job.region, job.name))
            if run is not None:
                run.request_stop()
            elif self.lease(LEASE, job) is not None:
                transform_jobs.finish(resources, job.account_id, job.region, job.name, "Stopped")
                self.release(LEASE, job)
        for job in resources.in_states(TYPE, ["InProgress"]):
            if self.platform.stopping:
                return
            if self.executor.get((job.account_id, job.region, job.name)) is not None:
                continue
            lease = self.lease(LEASE, job)
            if lease is None:
                continue  # another live server runs it
            recorder = transform_jobs.JobRecorder(resources, job.account_id, job.region, job.name)
            self.executor.start(job, FencedRecorder(recorder, leases, lease))


def start(platform) -> None:
    TransformReconciler.start(platform)
