"""How an executor reports what it observes: through an observer its caller (the reconciler) passes in.

Executors never write a job's status themselves and never import the layers above them; the
reconciler hands each run an object with these methods (the ``JobRecorder`` of the job's ``domain``
module), which records the change through the job's status machine.
"""

from __future__ import annotations

from typing import Protocol


class JobObserver(Protocol):
    def on_progress(
        self, secondary: str, *, message: str | None = None, extra: dict | None = None
    ) -> dict | None:
        """The run reached a new stage (a training job's SecondaryStatus; ``extra`` description members
        to set). Returns the job's description as now stored, or None when the job is gone."""

    def on_processes(self, pids: list[int]) -> None:
        """The run's processes (so that after a server crash they can be found and ended)."""

    def on_finished(
        self,
        status: str,
        *,
        secondary: str | None = None,
        message: str | None = None,
        extra: dict | None = None,
    ) -> None:
        """The run's outcome: ``Completed``, ``Failed`` or ``Stopped`` (with the SecondaryStatus that says
        why, its message, and description members such as FailureReason or the timings)."""
