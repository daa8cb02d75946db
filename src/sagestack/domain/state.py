"""Status machines as data, and safe read-modify-write of a resource's description.

Every resource family declares its machine once, in its ``domain`` module (``TRAINING`` in
:mod:`.training_jobs`, ``ENDPOINT`` in :mod:`.endpoints`, …); handlers, reconcilers and executors change
status only through :func:`mutate` (or :meth:`StateMachine.check` before a write), so an illegal
transition raises wherever it is attempted.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable

from ..store.resources import ConcurrentModification, Resource


class IllegalTransition(Exception):
    pass


class StateMachine:
    """``transitions``: status → the statuses it may move to (a status with none is terminal).
    ``field``: the description member that mirrors the status (``TrainingJobStatus``), if any."""

    def __init__(self, name: str, transitions: dict[str, set[str]], field: str | None = None):
        self.name = name
        self.transitions = transitions
        self.field = field

    def check(self, current: str | None, new: str) -> None:
        if current == new:
            return
        allowed = self.transitions.get(current or "", set())
        if new not in allowed:
            raise IllegalTransition(f"{self.name}: {current} → {new} is not allowed")

    def terminal(self, status: str | None) -> bool:
        return not self.transitions.get(status or "", set())


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def mutate(
    resources,
    account_id: str,
    region: str,
    resource_type: str,
    name: str,
    change: Callable[[Resource], str | None],
    machine: StateMachine | None = None,
    status_field: str | None = None,
    attempts: int = 20,
) -> Resource | None:
    """Re-read the resource, apply ``change`` (which edits ``resource.data`` in place and returns the
    new status or None), check the transition and write with an optimistic version check."""
    status_field = status_field or (machine.field if machine is not None else None)
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


def write_status(
    resources,
    machine: StateMachine,
    row: Resource,
    status: str,
    stamp_field: str | None,
    stamp: dt.datetime,
    **changes,
) -> Resource:
    """One optimistic write of ``row`` to ``status``: members set to None are removed, the others set, and
    ``stamp_field`` (``LastModifiedTime``) stamped; raises ConcurrentModification when the row moved on."""
    machine.check(row.status, status)
    data = dict(row.data)
    for name, value in changes.items():
        if value is None:
            data.pop(name, None)
        else:
            data[name] = value
    if stamp_field:
        data[stamp_field] = stamp
    if machine.field:
        data[machine.field] = status
    return resources.update(row, data, status=status, expect_version=True)


def strip_empty(value):
    """Drop None and empty structures/lists recursively (SDK v3 rejects empty required-less {})."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            item = strip_empty(item)
            if item is None or item == {}:
                continue
            out[key] = item
        return out
    if isinstance(value, list):
        return [strip_empty(v) for v in value]
    return value
