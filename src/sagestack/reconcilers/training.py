"""The training reconciler: queues jobs by capacity, starts runs, delivers stops, and after a restart
resumes interrupted jobs from their checkpoints or fails them with a clear reason."""

from __future__ import annotations

import logging
import signal

from ..domain import training_jobs
from ..domain.training_jobs import INTERRUPTED_REASON, MESSAGES, TYPE
from ..execution.training import kill_tree, shared_executor
from .base import Reconciler

log = logging.getLogger("sagestack.training")


class TrainingReconciler(Reconciler):
    name = "training"

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
        if not self._recovered:
            self.recover()
            self._recovered = True
        resources = self.platform.resources
        for job in resources.in_states(TYPE, ["Stopping"]):
            run = self.executor.get((job.account_id, job.region, job.name))
            if run is not None:
                run.request_stop("stop")
            else:
                self._orphan_stopped(job)
        for job in resources.in_states(TYPE, ["InProgress"]):
            if self.platform.stopping:
                return
            key = (job.account_id, job.region, job.name)
            if self.executor.get(key) is not None:
                continue
            recorder = training_jobs.JobRecorder(resources, job.account_id, job.region, job.name)
            if not self.executor.try_start(job, recorder):
                break  # first come, first served: later jobs wait behind this one

    def recover(self) -> None:
        """Jobs the store says were running when the server went down."""
        resources = self.platform.resources
        for job in resources.in_states(TYPE, ["InProgress", "Stopping"]):
            for pid in job.data.get("_pids") or []:
                kill_tree(pid, signal.SIGKILL)
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
