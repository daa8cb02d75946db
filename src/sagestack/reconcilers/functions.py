"""The functions reconciler: prepares a function's code (unpacks the package once) after CreateFunction
or UpdateFunctionCode/Configuration, and moves State Pending → Active and LastUpdateStatus InProgress →
Successful (or Failed, with the reason, when the package cannot be unpacked)."""

from __future__ import annotations

from ..domain import functions
from .base import Reconciler


class FunctionsReconciler(Reconciler):
    name = "functions"
    interval = 1.0

    def step(self) -> None:
        resources = self.platform.resources
        pending = [
            f
            for f in resources.in_states(functions.TYPE, ["Pending", "Active", "Failed"])
            if functions.needs_preparing(f)
        ]
        self.each(pending, self.prepare, "function")

    def prepare(self, function) -> None:
        error = None
        try:
            functions.unpack(function)
        except Exception as exc:  # a package that cannot be unpacked fails the function, with the reason
            error = f"Could not unpack the function's code: {exc}"
        functions.mark_ready(self.platform.resources, function, error)


def start(platform) -> None:
    FunctionsReconciler.start(platform)
