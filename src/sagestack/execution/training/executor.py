"""The local job executor (training and processing runs): runs jobs as local processes within a CPU and memory budget (the
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

    def __init__(self, platform, on_finished: Callable[[], None] | None = None, run_class=TrainingRun):
        self.platform = platform
        #: Called (on the run's thread) whenever a run ends: the reconcilers whose jobs wait for capacity.
        self.listeners: list[Callable[[], None]] = [on_finished] if on_finished is not None else []
        #: The kind of run ``try_start`` makes unless told: built with ``(platform, job, cpus, executor,
        #: observer)``; ``run_class.cluster(data)`` names its instances, ``run_class.kind`` its job kind.
        self.run_class = run_class
        self.capacity = platform.settings.max_cpus or os.cpu_count() or 1
        self.memory_capacity = platform.settings.max_memory_mb or _machine_memory_mb()
        self.runs: dict[tuple, TrainingRun] = {}
        self.lock = threading.Lock()
        self.interrupting = False

    def listen(self, callback: Callable[[], None]) -> None:
        self.listeners.append(callback)

    def needs(self, job: Resource, run_class=None) -> tuple[int, int]:
        """(vCPUs, MiB) the job's instances take here, capped at what the machine has (so that a job
        asking for more than exists runs alone instead of never)."""
        resource = (run_class or self.run_class).cluster(job.data)
        spec = instance_types.spec(resource.get("InstanceType"))
        count = int(resource.get("InstanceCount", 1))
        return (
            max(1, min(spec.vcpus * count, self.capacity)),
            max(1, min(spec.memory_mb * count, self.memory_capacity)),
        )

    def try_start(self, job: Resource, observer: JobObserver, run_class=None) -> bool:
        """Start the job if capacity allows (True), else leave it queued (False)."""
        run_class = run_class or self.run_class
        cpus, memory = self.needs(job, run_class)
        with self.lock:
            key = (run_class.kind, job.account_id, job.region, job.name)
            if key in self.runs:
                return True
            runs = self.runs.values()
            if (
                sum(r.cpus for r in runs) + cpus > self.capacity
                or sum(r.memory_mb for r in runs) + memory > self.memory_capacity
            ):
                return False
            run = run_class(self.platform, job, cpus, self, observer)
            run.memory_mb = memory
            self.runs[key] = run
        run.start()
        return True

    def place(self, run) -> None:
        """Where the run's hosts run: here, as child processes (the Ray executor places them on its
        cluster)."""

    def end_orphans(self, kind: str, account_id: str, region: str, name: str) -> bool:
        """End what is left of a job another server ran and died running, before running it again here.
        Nothing to do for local processes: they died with their server (execution/entry.py)."""
        return True

    def finished(self, run: TrainingRun) -> None:
        with self.lock:
            self.runs.pop((run.kind, *run.key), None)
        for callback in list(self.listeners):
            callback()

    def get(self, key: tuple, kind: str = "training") -> TrainingRun | None:
        """The run of the job ``key`` (account, region, name) of this kind, if it runs."""
        with self.lock:
            return self.runs.get((kind, *key))

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


def shared_executor(platform) -> LocalExecutor:
    """The server's one executor: the runs of every job kind share its CPU and memory budget. Local
    processes unless the ``executor`` setting says ray (execution/ray_executor.py)."""
    if platform.settings.executor == "ray":
        from ..ray_executor import RayExecutor

        return platform.component("ray-executor", RayExecutor)
    return platform.component("local-executor", LocalExecutor)


def _machine_memory_mb() -> int:
    try:
        import psutil

        return int(psutil.virtual_memory().total // (1024 * 1024))
    except ImportError:  # pragma: no cover - psutil is a dependency
        return 1 << 20
