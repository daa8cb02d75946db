"""Subsystems that start with the server (reconcilers, serving controller, …).

Each entry is a module exposing ``start(platform)``; a module not present yet is skipped.
"""

from __future__ import annotations

import importlib

STARTUP_MODULES = (
    "sagestack.reconcilers.training",
    "sagestack.reconcilers.endpoints",
    "sagestack.reconcilers.transform",
    "sagestack.services.logs.retention",
    "sagestack.autoscaling.loop",
    "sagestack.reconcilers.inference_experiments",
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
