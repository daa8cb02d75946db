"""The one shape of a control loop.

A :class:`Reconciler` is a platform component (``<name>-reconciler``) whose ``step()`` moves resources
toward the state the store records. It runs on its own thread every ``interval`` seconds (the platform's
``reconcile_interval`` unless the class says otherwise); a handler that recorded a change calls
``wake()`` so the next pass starts at once. :meth:`Reconciler.each` is how a pass visits items: a
resource someone else wrote meanwhile is looked at again next pass, and one failing item never stops
the others (nor the loop: the platform logs a failing pass and runs the next).

Several servers on one database (``--cluster``): a loop whose ``ownership`` is ``"loop"`` runs on one
server at a time (it holds the lease ``loop/<name>``; the others wait and take over when it expires); a
loop whose ``ownership`` is ``"resource"`` runs everywhere and acts on a resource only while it holds that
resource's lease (:meth:`Reconciler.lease`). With one server every lease is ours and costs nothing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from ..store.leases import Lease, LeaseLost
from ..store.resources import ConcurrentModification

log = logging.getLogger("sagestack.reconcilers")


class Reconciler:
    #: The loop's name (thread ``loop-<name>``, component ``<name>-reconciler``).
    name: str = ""
    #: Seconds between passes; None: the platform's ``reconcile_interval``.
    interval: float | None = None
    #: "loop": one server at a time runs this loop; "resource": every server runs it and each acts only
    #: on the resources whose lease it holds.
    ownership: str = "loop"

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

    def each(self, items: Iterable[Any], action: Callable[[Any], Any], what: str) -> None:
        """``action(item)`` for every item; ConcurrentModification skips the item until the next pass,
        any other error is logged (naming ``what`` and the item) and the pass goes on."""
        for item in items:
            try:
                action(item)
            except ConcurrentModification:
                continue  # a handler wrote first; look again next pass
            except Exception:
                log.exception("reconciling %s %s failed", what, getattr(item, "name", item))

    def lease(self, kind: str, row) -> Lease | None:
        """The lease on ``row`` (a resource) if this server holds it or just took it; None: another live
        server owns it, leave it alone."""
        return self.platform.leases.acquire(kind, lease_name(row))

    def release(self, kind: str, row) -> None:
        self.platform.leases.release(kind, lease_name(row))

    def on_start(self) -> None:
        """Called once, before the first pass is scheduled (attach subsystems, register shutdown)."""

    @classmethod
    def start(cls, platform, name: str | None = None) -> Reconciler:
        """Build the platform's instance (component ``<name>-reconciler``) and run its loop."""
        name = name or cls.name
        reconciler = platform.component(f"{name}-reconciler", cls)
        executor = getattr(reconciler, "executor", None)
        if executor is not None:
            platform.on_shutdown(executor.shutdown)
        platform.on_shutdown(reconciler.wake)  # a loop waiting for its next pass ends at once
        reconciler.on_start()
        interval = cls.interval if cls.interval is not None else platform.settings.reconcile_interval

        leases = platform.leases
        exclusive = cls.ownership == "loop" and leases.clustered

        def loop_step() -> None:
            if platform.stopping:
                return
            started = time.monotonic()
            try:
                if exclusive and leases.acquire("loop", name) is None:
                    return  # another server runs this loop; it takes over if that one dies
                reconciler.step()
            finally:  # a failing pass waits too (the platform logs it)
                reconciler.wait(max(0.0, interval - (time.monotonic() - started)))

        platform.add_loop(name, loop_step, 0.0)
        return reconciler


def lease_name(row) -> str:
    return f"{row.account_id}/{row.region}/{row.name}"


class FencedRecorder:
    """A run's observer that writes only while its job's lease is still ours at the generation the run
    started under (the fencing token): a server that lost the lease — cut off, paused past the lease
    time — never writes over the new owner's run. A write refused this way is dropped (``lost`` is set;
    ``on_progress`` answers None, as for a job that is gone, so the run ends)."""

    def __init__(self, recorder, leases, lease: Lease):
        self.recorder = recorder
        self.leases = leases
        self.lease = lease
        self.lost = False

    def _fenced(self) -> bool:
        if self.lost:
            return False
        try:
            self.leases.check(self.lease.kind, self.lease.name, self.lease.generation)
        except LeaseLost as exc:
            log.warning("%s: not writing (%s)", self.lease.name, exc)
            self.lost = True
            return False
        return True

    def on_progress(self, secondary: str, *, message: str | None = None, extra: dict | None = None):
        if not self._fenced():
            return None
        return self.recorder.on_progress(secondary, message=message, extra=extra)

    def on_processes(self, pids: list[int]) -> None:
        if self._fenced():
            self.recorder.on_processes(pids)

    def on_finished(self, status: str, **kwargs) -> None:
        if self._fenced():
            self.recorder.on_finished(status, **kwargs)
            self.leases.release(self.lease.kind, self.lease.name)

    def __getattr__(self, name: str):
        """Other observer calls (e.g. ``on_lost``: a cluster node died) exist when the recorder has them,
        fenced the same way; the lease is given back when the run ends in one."""
        call = getattr(self.recorder, name)
        if not name.startswith("on_") or not callable(call):
            return call

        def fenced(*args, **kwargs):
            if self._fenced():
                call(*args, **kwargs)
                if name == "on_lost":
                    self.leases.release(self.lease.kind, self.lease.name)

        return fenced
