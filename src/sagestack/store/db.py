"""The one SQL store: SQLAlchemy Core over SQLite (default, WAL) or PostgreSQL."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine

from .tokens import decode_offset as decode_token  # noqa: F401 - re-exported for the stores
from .tokens import encode_offset as encode_token  # noqa: F401


class Database:
    def __init__(self, url: str):
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        kwargs: dict = {"future": True}
        if self.is_sqlite:
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        else:
            kwargs.update(pool_pre_ping=True, pool_size=10, max_overflow=20)
        self.engine: Engine = create_engine(url, **kwargs)
        if self.is_sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
            event.listen(self.engine, "begin", _sqlite_begin)

    def create_schema(self) -> None:
        """Bring the schema to the newest migration (Alembic ``upgrade head``); safe on every start."""
        from .migrations import upgrade

        upgrade(self)

    @contextlib.contextmanager
    def begin(self) -> Iterator[Connection]:
        """A transaction: committed on success, rolled back on error, always closed."""
        with self.engine.begin() as conn:
            yield conn

    @contextlib.contextmanager
    def connect(self) -> Iterator[Connection]:
        """A connection for reads (on SQLite a plain deferred transaction: no write lock)."""
        with self.engine.connect() as conn:
            yield conn.execution_options(sagestack_read=True)

    def dispose(self) -> None:
        self.engine.dispose()


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (see _sqlite_begin)
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin(conn) -> None:
    # Every ``Database.begin()`` may write: take the write lock up front so two writers never
    # deadlock upgrading a read lock. Reads (``Database.connect()``) begin deferred.
    if conn.get_execution_options().get("sagestack_read"):
        conn.exec_driver_sql("BEGIN")
    else:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
