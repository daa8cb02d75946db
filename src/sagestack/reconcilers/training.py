"""The training reconciler: queues jobs by capacity, starts runs, delivers stops, and after a restart
resumes interrupted jobs from their checkpoints or fails them with a clear reason.

Several servers (``--cluster``): each job is run by the server holding its lease (kind ``training-job``);
a run writes through a :class:`~.base.FencedRecorder`. A server that takes over the lease of a job whose
run died with its server (the job has processes on record) starts it again — from its checkpoints if it
has them, else from scratch — once: the new run holds the new lease generation, so the old one, were it
still alive somewhere, could not write. On a Ray cluster the executor first ends whatever of the old run
is still on the nodes (``end_orphans``), so the job never runs twice at once."""

from __future__ import annotations

import logging
import signal

from ..domain import training_jobs
from ..domain.training_jobs import INTERRUPTED_REASON, MESSAGES, TYPE
from ..execution.container_jobs import end_leftovers
from ..execution.training import kill_tree, shared_executor
from .base import FencedRecorder, Reconciler

log = logging.getLogger("sagestack.training")


LEASE = "training-job"


class TrainingReconciler(Reconciler):
    name = "training"
    ownership = "resource"

    def __init__(self, platform):
        super().__init__(platform)
        self.executor = shared_executor(platform)  # one CPU/memory budget with processing jobs
        self.executor.listen(self._run_finished)
        self._recovered = False

    def _run_finished(self) -> None:
        """A run ended: queued jobs may start, and a tuning job may launch its next child."""
        self.wake()
        tuning = self.platform.get_component("tuning-reconciler")
        if tuning is not None:
            tuning.wake()

    def step(self) -> None:
        leases = self.platform.leases
        if not self._recovered:
            if not leases.clustered:  # one server: whatever the store says ran, ran here
                self.recover()
            self._recovered = True
        resources = self.platform.resources
        for job in resources.in_states(TYPE, ["Stopping"]):
            run = self.executor.get((job.account_id, job.region, job.name))
            if run is not None:
                run.request_stop("stop")
            elif self.lease(LEASE, job) is not None:
                self._orphan_stopped(job)
                self.release(LEASE, job)
        for job in resources.in_states(TYPE, ["InProgress"]):
            if self.platform.stopping:
                return
            key = (job.account_id, job.region, job.name)
            run = self.executor.get(key)
            if run is not None:
                if leases.clustered and not leases.holds(LEASE, f"{key[0]}/{key[1]}/{key[2]}"):
                    run.request_stop("lease")  # another server owns the job now: its writes are fenced
                continue
            lease = self.lease(LEASE, job)
            if lease is None:
                continue  # another live server runs it
            if leases.clustered and (job.data.get("_pids") or job.data.get("SecondaryStatus") != "Starting"):
                self.take_over(job)  # it ran on a server that is gone: start it again, next pass
                continue
            recorder = training_jobs.JobRecorder(resources, job.account_id, job.region, job.name)
            if not self.executor.try_start(job, FencedRecorder(recorder, leases, lease)):
                if leases.clustered:
                    self.release(LEASE, job)  # no room here: another server may have some
                break  # first come, first served: later jobs wait behind this one

    def take_over(self, job) -> None:
        """A job whose run died with its server (``--cluster``): it starts again under this server's
        lease. Its processes died with that server (they are bound to it: execution/entry.py); on a Ray
        cluster the executor makes sure of it on every node first (else: again next pass)."""
        if not self.executor.end_orphans("training", job.account_id, job.region, job.name):
            return
        log.warning("training job %s: its server is gone; running it again here", job.name)
        training_jobs.interrupted(self.platform.resources, job.account_id, job.region, job.name)

    def recover(self) -> None:
        """Jobs the store says were running when the server went down."""
        resources = self.platform.resources
        for job in resources.in_states(TYPE, ["InProgress", "Stopping"]):
            for pid in job.data.get("_pids") or []:
                kill_tree(pid, signal.SIGKILL)
            self.executor.end_orphans("training", job.account_id, job.region, job.name)  # on Ray nodes
            image = (job.data.get("AlgorithmSpecification") or {}).get("TrainingImage", "")
            end_leftovers(self.platform, "training", job, image)
            if job.status == "Stopping":
                self._orphan_stopped(job)
                continue
            if job.data.get("SecondaryStatus") == "Starting" and not job.data.get("_pids"):
                continue  # still queued: nothing was running
            if training_jobs.resumable(job.data):
                training_jobs.interrupted(resources, job.account_id, job.region, job.name)
            else:
                training_jobs.finish(
                    resources,
                    job.account_id,
                    job.region,
                    job.name,
                    "Failed",
                    "Failed",
                    INTERRUPTED_REASON,
                    {"FailureReason": INTERRUPTED_REASON},
                )

    def _orphan_stopped(self, job) -> None:
        training_jobs.finish(
            self.platform.resources,
            job.account_id,
            job.region,
            job.name,
            "Stopped",
            "Stopped",
            MESSAGES["Stopped"],
        )


def start(platform) -> None:
    TrainingReconciler.start(platform)
