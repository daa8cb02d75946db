"""The local training executor: runs jobs as local processes within a CPU and memory budget (the
machine's unless configured), first come, first served."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable

from ...domain import instance_types
from ...store.resources import Resource
from ..observer import JobObserver
from .run import TrainingRun


class LocalExecutor:
    """``on_finished`` is called (on the run's thread) whenever a run ends, so that the caller can start
    the jobs waiting for capacity."""

    def __init__(self, platform, on_finished: Callable[[], None] | None = None):
        self.platform = platform
        self.on_finished = on_finished
        self.capacity = platform.settings.max_cpus or os.cpu_count() or 1
        self.memory_capacity = platform.settings.max_memory_mb or _machine_memory_mb()
        self.runs: dict[tuple, TrainingRun] = {}
        self.lock = threading.Lock()
        self.interrupting = False

    def needs(self, job: Resource) -> tuple[int, int]:
        """(vCPUs, MiB) the job's instances take here, capped at what the machine has (so that a job
        asking for more than exists runs alone instead of never)."""
        resource = job.data["ResourceConfig"]
        spec = instance_types.spec(resource.get("InstanceType"))
        count = int(resource.get("InstanceCount", 1))
        return (max(1, min(spec.vcpus * count, self.capacity)),
                max(1, min(spec.memory_mb * count, self.memory_capacity)))

    def try_start(self, job: Resource, observer: JobObserver) -> bool:
        """Start the job if capacity allows (True), else leave it queued (False)."""
        cpus, memory = self.needs(job)
        with self.lock:
            key = (job.account_id, job.region, job.name)
            if key in self.runs:
                return True
            runs = self.runs.values()
            if sum(r.cpus for r in runs) + cpus > self.capacity or \
                    sum(r.memory_mb for r in runs) + memory > self.memory_capacity:
                return False
            run = TrainingRun(self.platform, job, cpus, self, observer)
            run.memory_mb = memory
            self.runs[key] = run
        run.start()
        return True

    def finished(self, run: TrainingRun) -> None:
        with self.lock:
            self.runs.pop(run.key, None)
        if self.on_finished is not None:
            self.on_finished()

    def get(self, key: tuple) -> TrainingRun | None:
        with self.lock:
            return self.runs.get(key)

    def shutdown(self) -> None:
        """Server stopping: end the job processes; their jobs resume or fail at the next start."""
        self.interrupting = True
        with self.lock:
            runs = list(self.runs.values())
        for run in runs:
            run.signal_all(signal.SIGTERM)
        for run in runs:
            run.thread.join(timeout=10)
            run.signal_all(signal.SIGKILL)


def _machine_memory_mb() -> int:
    try:
        import psutil

        return int(psutil.virtual_memory().total // (1024 * 1024))
    except ImportError:  # pragma: no cover - psutil is a dependency
        return 1 << 20
