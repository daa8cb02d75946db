"""The processing reconciler: queues jobs by capacity, starts runs, delivers stops, and after a restart
fails the jobs whose processes the restart ended (with a reason that says so) — never leaving one
InProgress. The executor is the server's one local executor (execution.training.shared_executor), shared
with training jobs, running ProcessingRuns.

Several servers (``--cluster``): the server holding a job's lease (kind ``processing-job``) runs it; one
that takes over a job whose run died with its server fails it the same way a restart does."""

from __future__ import annotations

import signal

from ..domain import processing_jobs
from ..domain.processing_jobs import INTERRUPTED_REASON, TYPE
from ..execution.container_jobs import end_leftovers
from ..execution.processing import ProcessingRun
from ..execution.training import kill_tree, shared_executor
from .base import FencedRecorder, Reconciler

LEASE = "processing-job"


class ProcessingReconciler(Reconciler):
    name = "processing"
    ownership = "resource"

    def __init__(self, platform):
        super().__init__(platform)
        self.executor = shared_executor(platform)  # one CPU/memory budget with training jobs
        self.executor.listen(self.wake)
        self._recovered = False

    def step(self) -> None:
        leases = self.platform.leases
        if not self._recovered:
            if not leases.clustered:  # one server: whatever the store says ran, ran here
                self.recover()
            self._recovered = True
        resources = self.platform.resources
        for job in resources.in_states(TYPE, ["Stopping"]):
            run = self.executor.get((job.account_id, job.region, job.name), "processing")
            if run is not None:
                run.request_stop("stop")
            elif self.lease(LEASE, job) is not None:
                processing_jobs.finish(resources, job.account_id, job.region, job.name, "Stopped")
                self.release(LEASE, job)
        for job in resources.in_states(TYPE, ["InProgress"]):
            if self.platform.stopping:
                return
            run = self.executor.get((job.account_id, job.region, job.name), "processing")
            if run is not None:
                if leases.clustered and not leases.holds(LEASE, f"{job.account_id}/{job.region}/{job.name}"):
                    run.request_stop("lease")
                continue
            lease = self.lease(LEASE, job)
            if lease is None:
                continue  # another live server runs it
            if leases.clustered and (job.data.get("ProcessingStartTime") or job.data.get("_pids")):
                if not self.executor.end_orphans("processing", job.account_id, job.region, job.name):
                    continue  # some Ray node could not be asked yet: again next pass
                self.fail_interrupted(job)  # it ran on a server that is gone
                self.release(LEASE, job)
                continue
            recorder = processing_jobs.JobRecorder(resources, job.account_id, job.region, job.name)
            if not self.executor.try_start(job, FencedRecorder(recorder, leases, lease), ProcessingRun):
                if leases.clustered:
                    self.release(LEASE, job)  # no room here: another server may have some
                break  # first come, first served: later jobs wait behind this one

    def fail_interrupted(self, job) -> None:
        processing_jobs.finish(
            self.platform.resources,
            job.account_id,
            job.region,
            job.name,
            "Failed",
            {"FailureReason": INTERRUPTED_REASON},
        )

    def recover(self) -> None:
        """Jobs the store says were running when the server went down."""
        resources = self.platform.resources
        for job in resources.in_states(TYPE, ["InProgress", "Stopping"]):
            for pid in job.data.get("_pids") or []:
                kill_tree(pid, signal.SIGKILL)
            self.executor.end_orphans("processing", job.account_id, job.region, job.name)  # on Ray nodes
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
