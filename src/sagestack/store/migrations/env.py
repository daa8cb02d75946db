"""Alembic's entry point for our revisions: online only, on the connection ``upgrade`` passes in (or an
engine on ``sqlalchemy.url``), compared against every table the store modules declare."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from sagestack.store.schema import load_all_tables


def _run(connection) -> None:
    context.configure(
        connection=connection, target_metadata=load_all_tables(), render_as_batch=True, compare_type=True
    )
    with context.begin_transaction():
        context.run_migrations()


def _main() -> None:
    if context.is_offline_mode():
        raise SystemExit("sagestack migrations run online only (they inspect the database).")
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(context.config.get_main_option("sqlalchemy.url"))
    try:
        with engine.begin() as conn:
            _run(conn)
    finally:
        engine.dispose()


_main()
