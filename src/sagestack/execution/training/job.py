"""What every stage of a job run shares (training and processing alike): the run handle the executor
tracks, one host's process and ``/opt/ml`` tree, and the error that ends a run with the job's
FailureReason."""

from __future__ import annotations

import subprocess
import threading
from dataclasses import dataclass
from typing import Any

from ...store.resources import Resource
from ..layout import HostLayout
from ..observer import JobObserver
from ..storage import JobStorage


class JobFailed(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass
class HostProcess:
    host: str
    layout: HostLayout
    stream: str
    process: subprocess.Popen | None = None
    reader: threading.Thread | None = None
    #: When the host runs a container (bring your own container): its name and the engine running it.
    container: str | None = None
    engine: Any = None


class StopRequest:
    """Why a run should stop (``stop``: StopTrainingJob; ``MaxRuntimeExceeded``; ``MaxWaitTimeExceeded``),
    set once; ``event`` wakes whoever waits on the run."""

    def __init__(self):
        self.reason: str | None = None
        self.event = threading.Event()

    def request(self, reason: str = "stop") -> None:
        if self.reason is None:
            self.reason = reason
        self.event.set()

    def is_set(self) -> bool:
        return self.event.is_set()


class JobRun:
    """One job's run on its own thread (``_main``, defined by each kind): the handle the shared executor
    tracks for capacity and stops. ``kind`` names the job family and its working-directory folder."""

    kind = "job"

    def __init__(self, platform, job: Resource, cpus: int, executor, observer: JobObserver):
        self.executor = executor
        self.observer = observer
        self.account_id = job.account_id
        self.region = job.region
        self.name = job.name
        self.data = job.data
        self.cpus = cpus
        self.memory_mb = 0  # set by the executor (its share of the memory capacity)
        self.storage = JobStorage(platform, job.account_id, job.region)
        self.stop = StopRequest()
        self.hosts: list[HostProcess] = []
        self.thread = threading.Thread(target=self._main, name=f"{self.kind}-{self.name}", daemon=True)
        self.root = platform.settings.jobs_dir / self.kind / job.account_id / job.region / job.name
        self.platform = platform

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.account_id, self.region, self.name)

    @property
    def stop_reason(self) -> str | None:
        return self.stop.reason

    def start(self) -> None:
        self.thread.start()

    def request_stop(self, reason: str = "stop") -> None:
        self.stop.request(reason)

    def signal_all(self, sig: int) -> None:
        from . import supervision

        supervision.signal_all(self.hosts, sig)

    def _main(self) -> None:  # pragma: no cover - each kind defines it
        raise NotImplementedError
