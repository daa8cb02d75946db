"""What every stage of a training run shares: one host's process and ``/opt/ml`` tree, and the error that
ends a run with the job's FailureReason."""

from __future__ import annotations

import subprocess
import threading
from dataclasses import dataclass

from ..layout import HostLayout


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
