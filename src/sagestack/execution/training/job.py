"""What every stage of a job run shares (training and processing alike): the run handle the executor
tracks, one host's process and ``/opt/ml`` tree, and the error that ends a run with the job's
FailureReason."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Callable
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
    """One host of a job: its name (algo-N), ``/opt/ml`` tree, log stream and process. ``launcher``: where
    the process runs (None: a child process of the server; the Ray executor sets one that starts it in an
    actor on a cluster node, see execution/ray_executor.py); ``peers``: every host's address (algo-N →
    IP) when the hosts are on different machines."""

    host: str
    layout: HostLayout
    stream: str
    process: subprocess.Popen | None = None
    reader: threading.Thread | None = None
    #: When the host runs a container (bring your own container): its name and the engine running it.
    container: str | None = None
    engine: Any = None
    #: Starts the host's process elsewhere (a Ray node); None: a child of the server.
    launcher: Callable[..., Any] | None = None
    peers: dict[str, str] | None = None

    @property
    def remote(self) -> bool:
        """The process runs elsewhere (its pid means nothing on this machine)."""
        return bool(getattr(self.process, "remote", False))

    @property
    def lost(self) -> str | None:
        """Why the host's machine went away mid-job (a Ray node died), if it did."""
        return getattr(self.process, "lost", None)


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

    def local_pids(self) -> list[int]:
        """The pids of the run's processes on this machine (what a restarted server may end)."""
        return [h.process.pid for h in self.hosts if h.process and not h.remote]

    def signal_all(self, sig: int) -> None:
        from . import supervision

        supervision.signal_all(self.hosts, sig)

    def _main(self) -> None:  # pragma: no cover - each kind defines it
        raise NotImplementedError
