"""SageMaker control plane: one module per resource family, merged into one dispatch table."""

from __future__ import annotations

import importlib

from ..errors import resource_error
from ..registry import OperationTable

#: Resource-family modules; each exposes ``ops = OperationTable("sagemaker")``.
FAMILY_MODULES = (
    "training_jobs",
    "tags",
    "models",
    "endpoint_configs",
    "endpoints",
    "transform_jobs",
    "inference_experiments",
    "processing_jobs",
    "experiments",
    "trial_components",
    "search",
    "lineage",
    "lineage_entities",
    "model_packages",
    "tuning_jobs",
    "pipelines",
    "monitoring_job_definitions",
    "monitoring_schedules",
)


def _build() -> OperationTable:
    table = OperationTable("sagemaker", errors=resource_error)
    for name in FAMILY_MODULES:
        module_name = f"{__name__}.{name}"
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue
            raise
        table.merge(module.ops)
    return table


OPERATIONS = _build()
