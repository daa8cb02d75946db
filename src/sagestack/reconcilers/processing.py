"""The processing reconciler: queues jobs by capacity, starts runs, delivers stops, and after a restart
fails the jobs whose processes the restart ended (with a reason that says so) — never leaving one
InProgress. The executor is the server's one local executor (execution.training.shared_executor), shared
with training jobs, running ProcessingRuns."""

from __future__ import annotations

import signal

from ..domain import processing_jobs
from ..domain.processing_jobs import INTERRUPTED_REASON, TYPE
from ..execution.container_jobs import end_leftovers
from ..execution.processing import ProcessingRun
from ..execution.training import kill_tree, shared_executor
from .base import Reconciler


class ProcessingReconciler(Reconciler):
    name = "processing"

    def __init__(self, platform):
        super().__init__(platform)
        self.executor = shared_executor(platform)  # one CPU/memory budget with training jobs
        self.executor.listen(self.wake)
        self._recovered = False

    def step(self) -> None:
        if not self._recovered:
            self.recover()
            self._recovered = True
        resources = self.platform.resources
        for job in resources.in_states(TYPE, ["Stopping"]):
            run = self.executor.get((job.account_id, job.region, job.name), "processing")
            if run is not None:
                run.request_stop("stop")
            else:
                processing_jobs.finish(resources, job.account_id, job.region, job.name, "Stopped")
        for job in resources.in_states(TYPE, ["InProgress"]):
            if self.platform.stopping:
                return
            if self.executor.get((job.account_id, job.region, job.name), "processing") is not None:
                continue
            recorder = processing_jobs.JobRecorder(resources, job.account_id, job.region, job.name)
            if not self.executor.try_start(job, recorder, ProcessingRun):
                break  # first come, first served: later jobs wait behind this one

    def recover(self) -> None:
        """Jobs the store says were running when the server went down."""
        resources = self.platform.resources
        for job in resources.in_states(TYPE, ["InProgress", "Stopping"]):
            for pid in job.data.get("_pids") or []:
                kill_tree(pid, signal.SIGKILL)
            image = (job.data.get("AppSpecification") or {}).get("ImageUri", "")
            end_leftovers(self.platform, "processing", job, image)
            if job.status == "Stopping":
                processing_jobs.finish(resources, job.account_id, job.region, job.name, "Stopped")
            elif job.data.get("ProcessingStartTime") or job.data.get("_pids"):
                processing_jobs.finish(
                    resources,
                    job.account_id,
                    job.region,
                    job.name,
                    "Failed",
                    {"FailureReason": INTERRUPTED_REASON},
                )
            # else: still queued, nothing ran; it starts now


def start(platform) -> None:
    ProcessingReconciler.start(platform)
