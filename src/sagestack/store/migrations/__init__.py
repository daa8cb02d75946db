"""Schema migrations: Alembic revisions shipped inside the package, run programmatically.

``upgrade(db)`` brings a database (SQLite or PostgreSQL) to the newest revision; the server calls it at
start. No ``alembic.ini`` is needed: the configuration is built here, and Alembic runs on the caller's
connection inside one transaction (SQLite and PostgreSQL both roll DDL back on failure). Concurrent
starts against one database serialize on SQLite's write lock (``BEGIN IMMEDIATE``) or a PostgreSQL
advisory lock.

A data dir made before migrations existed (tables created by ``create_all``, a ``sagestack_schema``
version table, no ``alembic_version``) is adopted by the baseline revision: it creates only the tables
that are missing and drops the old version table.

New revisions: ``make migration MSG="what changed"`` (see docs/development.md).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from sqlalchemy import inspect, text

SCRIPT_LOCATION = Path(__file__).resolve().parent
#: Key of the PostgreSQL advisory lock held while migrating (any constant unique to sagestack).
_PG_LOCK_KEY = 0x5A6E_57AC


def config(connection=None, url: str | None = None):
    """An Alembic ``Config`` for our scripts, running on ``connection`` (or a new engine on ``url``)."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(SCRIPT_LOCATION))
    cfg.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    if url is not None:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["connection"] = connection
    return cfg


def head() -> str:
    """The newest revision the shipped scripts define."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(config()).get_current_head()


def current(db) -> str | None:
    """The revision the database is at (None: not under migrations yet)."""
    from alembic.runtime.migration import MigrationContext

    with db.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def shipped_head() -> str | None:
    """The newest revision by file name (``NNNN_slug.py``, ``revision = "NNNN"``; ``make migration`` names
    them so): lets a start at head skip importing Alembic. A test checks it agrees with ``head()``."""
    numbers = sorted(p.name[:4] for p in (SCRIPT_LOCATION / "versions").glob("[0-9][0-9][0-9][0-9]_*.py"))
    return numbers[-1] if numbers else None


def _stored_revision(db) -> str | None:
    with db.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        rows = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    return rows[0] if len(rows) == 1 else None


def upgrade(db, revision: str = "head") -> str | None:
    """Migrate ``db`` to ``revision`` (default: the newest) in one transaction; returns where it is now."""
    if revision == "head":
        stored = _stored_revision(db)
        if stored is not None and stored == shipped_head():
            return stored  # the usual start: nothing to do, no Alembic import
    from alembic import command

    with db.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
        command.upgrade(config(conn), revision)
    return current(db)


def _revision(message: str) -> None:
    """Autogenerate a revision: the difference between the models and a fresh database at head."""
    from alembic import command

    from ..db import Database

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'migrate.db'}"
        db = Database(url)
        try:
            upgrade(db)
            with db.begin() as conn:
                command.revision(config(conn), message=message, autogenerate=True, rev_id=_next_rev_id())
        finally:
            db.dispose()


def _next_rev_id() -> str:
    return f"{int(shipped_head() or 0) + 1:04d}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sagestack.store.migrations", description="sagestack schema migrations (Alembic)"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    rev = sub.add_parser("revision", help="autogenerate a new revision from the table definitions")
    rev.add_argument("-m", "--message", required=True)
    up = sub.add_parser("upgrade", help="migrate a database to the newest revision")
    up.add_argument("url", help="SQLAlchemy URL, e.g. sqlite:////path/metadata.db")
    sub.add_parser("heads", help="print the newest revision")
    args = parser.parse_args(argv)
    if args.command == "revision":
        _revision(args.message)
    elif args.command == "upgrade":
        from ..db import Database

        db = Database(args.url)
        try:
            print(upgrade(db))
        finally:
            db.dispose()
    else:
        print(head())
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
