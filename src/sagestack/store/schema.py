"""The metadata schema. Each resource family's store module declares its tables on ``metadata``;
``load_all_tables`` imports them so that migrations and ``create_all`` see every table."""

from __future__ import annotations

import importlib

from sqlalchemy import MetaData

metadata = MetaData()

#: Store modules that declare tables (each imports ``metadata`` from here).
TABLE_MODULES = (
    "sagestack.store.credentials",
    "sagestack.store.resources",
    "sagestack.store.objects_index",
    "sagestack.store.logs",
    "sagestack.store.metrics",
    "sagestack.store.async_invocations",
    "sagestack.store.experiments",
    "sagestack.store.queues",
    "sagestack.store.leases",
)


def load_all_tables() -> MetaData:
    for module in TABLE_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if not (exc.name and module.startswith(exc.name)):
                raise
    return metadata
