"""What starts with the server: the control loops and background work, in this order.

Each entry is a module exposing ``start(platform)``; a module not present yet is skipped. The server
(``server.build_app``) runs :func:`start_all` before the platform starts its loops: the platform itself
knows nothing of the layers above it.
"""

from __future__ import annotations

import importlib

STARTUP_MODULES = (
    "sagestack.reconcilers.training",
    "sagestack.reconcilers.tuning",
    "sagestack.reconcilers.processing",
    "sagestack.reconcilers.monitoring",
    "sagestack.reconcilers.endpoints",
    "sagestack.reconcilers.transform",
    "sagestack.reconcilers.retention",
    "sagestack.reconcilers.alarms",
    "sagestack.reconcilers.autoscaling",
    "sagestack.reconcilers.inference_experiments",
    "sagestack.services.calls",
    "sagestack.reconcilers.pipelines",
    "sagestack.reconcilers.functions",
    "sagestack.reconcilers.schedules",
)


def start_all(platform) -> None:
    for module_name in STARTUP_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                continue
            raise
        module.start(platform)
    platform.start()
