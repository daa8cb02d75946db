"""The one shape of a control loop.

A :class:`Reconciler` is a platform component (``<name>-reconciler``) whose ``step()`` moves resources
toward the state the store records. It runs on its own thread every ``interval`` seconds (the platform's
``reconcile_interval`` unless the class says otherwise); a handler that recorded a change calls
``wake()`` so the next pass starts at once. :meth:`Reconciler.each` is how a pass visits items: a
resource someone else wrote meanwhile is looked at again next pass, and one failing item never stops
the others (nor the loop: the platform logs a failing pass and runs the next).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from ..store.resources import ConcurrentModification

log = logging.getLogger("sagestack.reconcilers")


class Reconciler:
    #: The loop's name (thread ``loop-<name>``, component ``<name>-reconciler``).
    name: str = ""
    #: Seconds between passes; None: the platform's ``reconcile_interval``.
    interval: float | None = None

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

        def loop_step() -> None:
            if platform.stopping:
                return
            started = time.monotonic()
            try:
                reconciler.step()
            finally:  # a failing pass waits too (the platform logs it)
                reconciler.wait(max(0.0, interval - (time.monotonic() - started)))

        platform.add_loop(name, loop_step, 0.0)
        return reconciler
