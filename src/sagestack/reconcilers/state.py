"""Status machines as data, and safe read-modify-write of a resource's description."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable

from ..store.resources import ConcurrentModification, Resource


class IllegalTransition(Exception):
    pass


class StateMachine:
    def __init__(self, name: str, transitions: dict[str, set[str]]):
        self.name = name
        self.transitions = transitions

    def check(self, current: str | None, new: str) -> None:
        if current == new:
            return
        allowed = self.transitions.get(current or "", set())
        if new not in allowed:
            raise IllegalTransition(f"{self.name}: {current} → {new} is not allowed")

    def terminal(self, status: str | None) -> bool:
        return not self.transitions.get(status or "", set())


TRAINING = StateMachine("TrainingJobStatus", {
    "InProgress": {"Completed", "Failed", "Stopping", "Stopped"},
    "Stopping": {"Stopped", "Failed", "Completed"},
    "Completed": set(), "Failed": set(), "Stopped": set(),
})

TRANSFORM = StateMachine("TransformJobStatus", {
    "InProgress": {"Completed", "Failed", "Stopping", "Stopped"},
    "Stopping": {"Stopped", "Failed", "Completed"},
    "Completed": set(), "Failed": set(), "Stopped": set(),
})


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def mutate(resources, account_id: str, region: str, resource_type: str, name: str,
           change: Callable[[Resource], str | None], machine: StateMachine | None = None,
           status_field: str | None = None, attempts: int = 20) -> Resource | None:
    """Re-read the resource, apply ``change`` (which edits ``resource.data`` in place and returns the
    new status or None), check the transition and write with an optimistic version check."""
    for _ in range(attempts):
        resource = resources.get(account_id, region, resource_type, name)
        if resource is None:
            return None
        new_status = change(resource)
        if new_status is not None and machine is not None:
            machine.check(resource.status, new_status)
            if status_field:
                resource.data[status_field] = new_status
        try:
            return resources.update(resource, data=resource.data, status=new_status, expect_version=True)
        except ConcurrentModification:
            time.sleep(0.01)
    raise ConcurrentModification(name)


class Reconciler:
    """A control loop: ``step()`` moves resources toward their desired state; handlers ``wake()`` it
    after recording a change, otherwise it runs every ``reconcile_interval`` seconds."""

    def __init__(self, platform):
        self.platform = platform
        self._wake = threading.Event()

    def wake(self) -> None:
        self._wake.set()

    def wait(self, timeout: float) -> None:
        self._wake.wait(timeout)
        self._wake.clear()

    def step(self) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    @classmethod
    def start(cls, platform, name: str) -> Reconciler:
        """Build the platform's instance (component ``<name>-reconciler``) and run its loop."""
        reconciler = platform.component(f"{name}-reconciler", cls)
        executor = getattr(reconciler, "executor", None)
        if executor is not None:
            platform.on_shutdown(executor.shutdown)

        def loop_step() -> None:
            reconciler.step()
            reconciler.wait(platform.settings.reconcile_interval)

        platform.add_loop(name, loop_step, 0.0)
        return reconciler
