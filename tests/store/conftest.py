"""The store tests run on SQLite and, when SAGESTACK_TEST_DATABASE_URL names a server, on PostgreSQL."""

from __future__ import annotations

import os

import pytest

from helpers import drop_all_tables
from sagestack.store.db import Database

PG_URL = os.environ.get("SAGESTACK_TEST_DATABASE_URL")


def _backends():
    yield pytest.param("sqlite", id="sqlite")
    yield pytest.param("postgres", id="postgres", marks=pytest.mark.postgres)


@pytest.fixture(params=list(_backends()))
def blank_db(request, tmp_path):
    """An empty database (no tables at all)."""
    if request.param == "sqlite":
        database = Database(f"sqlite:///{tmp_path / 'meta.db'}")
    else:
        if not PG_URL:
            pytest.skip(
                "no PostgreSQL server: set SAGESTACK_TEST_DATABASE_URL (CI starts one with .ci/postgres.sh)"
            )
        drop_all_tables(PG_URL)
        database = Database(PG_URL)
    yield database
    database.dispose()


@pytest.fixture
def db(blank_db):
    """A database migrated to the newest revision."""
    blank_db.create_schema()
    return blank_db
