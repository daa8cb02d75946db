"""The training reconciler: queues jobs by capacity, starts runs, delivers stops, and after a restart
resumes interrupted jobs from their checkpoints or fails them with a clear reason."""

from __future__ import annotations

import logging
import os
import signal
import threading

from ..execution import instances
from ..execution.training import MESSAGES, TYPE, TrainingRun, kill_tree
from .state import TRAINING, Reconciler, mutate, utcnow

log = logging.getLogger("sagestack.training")


class LocalExecutor:
    """Runs jobs as local processes within a CPU budget (the machine's cores unless configured)."""

    def __init__(self, platform):
        self.platform = platform
        self.capacity = platform.settings.max_cpus or os.cpu_count() or 1
        self.memory_capacity = platform.settings.max_memory_mb or _machine_memory_mb()
        self.runs: dict[tuple, TrainingRun] = {}
        self.lock = threading.Lock()
        self.interrupting = False

    def needs(self, job) -> tuple[int, int]:
        """(vCPUs, MiB) the job's instances take here, capped at what the machine has (so that a job
        asking for more than exists runs alone instead of never)."""
        resource = job.data["ResourceConfig"]
        spec = instances.spec(resource.get("InstanceType"))
        count = int(resource.get("InstanceCount", 1))
        return (max(1, min(spec.vcpus * count, self.capacity)),
                max(1, min(spec.memory_mb * count, self.memory_capacity)))

    def try_start(self, job) -> bool:
        cpus, memory = self.needs(job)
        with self.lock:
            key = (job.account_id, job.region, job.name)
            if key in self.runs:
                return True
            runs = self.runs.values()
            if sum(r.cpus for r in runs) + cpus > self.capacity or \
                    sum(r.memory_mb for r in runs) + memory > self.memory_capacity:
                return False
            run = TrainingRun(self.platform, job, cpus, self)
            run.memory_mb = memory
            self.runs[key] = run
        run.start()
        return True

    def finished(self, run: TrainingRun) -> None:
        with self.lock:
            self.runs.pop(run.key, None)
        reconciler = self.platform.get_component("training-reconciler")
        if reconciler is not None:
            reconciler.wake()

    def get(self, key: tuple) -> TrainingRun | None:
        with self.lock:
            return self.runs.get(key)

    def shutdown(self) -> None:
        """Server stopping: end the job processes; their jobs resume or fail at the next start."""
        self.interrupting = True
        with self.lock:
            runs = list(self.runs.values())
        for run in runs:
            run._signal_all(signal.SIGTERM)
        for run in runs:
            run.thread.join(timeout=10)
            run._signal_all(signal.SIGKILL)


def _machine_memory_mb() -> int:
    try:
        import psutil

        return int(psutil.virtual_memory().total // (1024 * 1024))
    except ImportError:  # pragma: no cover - psutil is a dependency
        return 1 << 20


class TrainingReconciler(Reconciler):
    def __init__(self, platform):
        super().__init__(platform)
        self.executor = LocalExecutor(platform)
        self._recovered = False

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
            if not self.executor.try_start(job):
                break  # first come, first served: later jobs wait behind this one

    def recover(self) -> None:
        """Jobs the store says were running when the server went down."""
        for job in self.platform.resources.in_states(TYPE, ["InProgress", "Stopping"]):
            for pid in job.data.get("_pids") or []:
                kill_tree(pid, signal.SIGKILL)
            if job.status == "Stopping":
                self._orphan_stopped(job)
                continue
            if job.data.get("SecondaryStatus") == "Starting" and not job.data.get("_pids"):
                continue  # still queued: nothing was running
            resumable = bool(job.data.get("CheckpointConfig")) or bool(job.data.get("EnableManagedSpotTraining"))
            retries = (job.data.get("RetryStrategy") or {}).get("MaximumRetryAttempts", 0)
            if resumable or int(job.data.get("_attempts", 1)) <= retries:
                self._interrupted(job)
            else:
                self._fail_interrupted(job)

    def _interrupted(self, job) -> None:
        def change(resource):
            stamp = utcnow()
            data = resource.data
            transitions = data.setdefault("SecondaryStatusTransitions", [])
            if transitions and "EndTime" not in transitions[-1]:
                transitions[-1]["EndTime"] = stamp
            transitions.append({"Status": "Interrupted", "StartTime": stamp, "EndTime": stamp,
                                "StatusMessage": MESSAGES["Interrupted"]})
            transitions.append({"Status": "Starting", "StartTime": stamp,
                                "StatusMessage": MESSAGES["Restarting"]})
            data["SecondaryStatus"] = "Starting"
            data["LastModifiedTime"] = stamp
            data["_pids"] = []
            data["_attempts"] = int(data.get("_attempts", 1)) + 1
            return None

        mutate(self.platform.resources, job.account_id, job.region, TYPE, job.name, change)

    def _fail_interrupted(self, job) -> None:
        reason = ("InternalServerError: the sagestack server stopped while this job was running. Jobs with a "
                  "CheckpointConfig (or managed spot training) resume from their last checkpoint after a "
                  "restart; this one had none.")
        self._terminal(job, "Failed", "Failed", reason, {"FailureReason": reason})

    def _orphan_stopped(self, job) -> None:
        self._terminal(job, "Stopped", "Stopped", MESSAGES["Stopped"], {})

    def _terminal(self, job, primary: str, secondary: str, message: str, extra: dict) -> None:
        def change(resource):
            if TRAINING.terminal(resource.status):
                return None
            stamp = utcnow()
            data = resource.data
            transitions = data.setdefault("SecondaryStatusTransitions", [])
            if transitions and "EndTime" not in transitions[-1]:
                transitions[-1]["EndTime"] = stamp
            transitions.append({"Status": secondary, "StartTime": stamp, "EndTime": stamp,
                                "StatusMessage": message[:1024]})
            data.update(extra)
            data["SecondaryStatus"] = secondary
            data["TrainingEndTime"] = stamp
            data["LastModifiedTime"] = stamp
            return primary

        mutate(self.platform.resources, job.account_id, job.region, TYPE, job.name, change, TRAINING,
               "TrainingJobStatus")


def start(platform) -> None:
    TrainingReconciler.start(platform, "training")
