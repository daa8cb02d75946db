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
        # statements compiled for ``RawTransaction`` (built-once module statements: a bounded set)
        self._compiled: dict[tuple, tuple[str, tuple[str, ...] | None]] = {}
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

    @contextlib.contextmanager
    def raw_begin(self) -> Iterator[RawTransaction]:
        """A write transaction straight on the DBAPI connection (see ``RawTransaction``): committed on
        success, rolled back on error, the connection back in the pool either way. For the hottest
        writes only; everything else uses ``begin``."""
        dbapi = self.engine.raw_connection()
        try:
            cursor = dbapi.cursor()
            if self.is_sqlite:
                cursor.execute("BEGIN IMMEDIATE")  # as _sqlite_begin does for ``begin``
            try:
                yield RawTransaction(self, cursor)
                if self.is_sqlite:
                    cursor.execute("COMMIT")
                else:
                    dbapi.commit()
            except BaseException:
                dbapi.rollback()
                raise
            finally:
                cursor.close()
        finally:
            dbapi.close()

    def compiled(self, statement, names: frozenset[str]) -> tuple[str, tuple[str, ...] | None]:
        """``statement`` compiled once for this database's dialect with parameters ``names``: its SQL
        and, for a positional parameter style, the parameters' order."""
        key = (statement, names)
        found = self._compiled.get(key)
        if found is None:
            compiled = statement.compile(dialect=self.engine.dialect, column_keys=sorted(names))
            order = tuple(compiled.positiontup) if self.engine.dialect.positional else None
            found = self._compiled[key] = (str(compiled), order)
        return found

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


class RawTransaction:
    """Statements run on the DBAPI cursor, each compiled once per database (``Database.compiled``):
    none of SQLAlchemy's per-call execution machinery (events, result objects, type processing), so
    only for statements whose parameters and results are plain str / int / float / None."""

    def __init__(self, db: Database, cursor):
        self._db = db
        self._cursor = cursor

    def execute(self, statement, params: dict) -> None:
        sql, order = self._db.compiled(statement, frozenset(params))
        self._cursor.execute(sql, params if order is None else tuple(params[name] for name in order))

    def first(self, statement, params: dict) -> tuple | None:
        """The first row (a tuple) of a query, or None."""
        self.execute(statement, params)
        return self._cursor.fetchone()
