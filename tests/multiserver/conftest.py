"""Several sagestack servers on one database: a fresh PostgreSQL database per test module."""

from __future__ import annotations

import os
import uuid

import pytest

PG_URL = os.environ.get("SAGESTACK_TEST_DATABASE_URL")


def _admin(url: str):
    from sqlalchemy import create_engine

    base, _, _ = url.rpartition("/")
    return create_engine(base + "/postgres", isolation_level="AUTOCOMMIT", future=True)


@pytest.fixture(scope="module")
def pg_database():
    """The URL of a new, empty PostgreSQL database (dropped after the module)."""
    if not PG_URL:
        pytest.skip(
            "no PostgreSQL server: set SAGESTACK_TEST_DATABASE_URL (CI starts one with .ci/postgres.sh)"
        )
    from sqlalchemy import text

    name = f"sagestack_ms_{uuid.uuid4().hex[:10]}"
    engine = _admin(PG_URL)
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    base, _, _ = PG_URL.rpartition("/")
    yield f"{base}/{name}"
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()
