"""Schema migrations: versioned steps applied in order, recorded in ``sagestack_schema``.

Version 1 creates every table the store modules declare; later versions add ``ALTER``-style steps
here. Works the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

from sqlalchemy import Column, Integer, MetaData, Table, select

_version_meta = MetaData()
schema_version = Table("sagestack_schema", _version_meta, Column("version", Integer, nullable=False))


def _v1(db, conn) -> None:
    from .schema import metadata

    metadata.create_all(conn, checkfirst=True)


STEPS = [(1, _v1)]
CURRENT = STEPS[-1][0]


def upgrade(db) -> int:
    from .schema import metadata

    with db.begin() as conn:
        _version_meta.create_all(conn, checkfirst=True)
        row = conn.execute(select(schema_version.c.version)).first()
        current = row[0] if row else 0
        for version, step in STEPS:
            if version > current:
                step(db, conn)
                current = version
        # New tables declared by store modules are created even without a numbered step.
        metadata.create_all(conn, checkfirst=True)
        if row is None:
            conn.execute(schema_version.insert().values(version=current))
        else:
            conn.execute(schema_version.update().values(version=current))
    return current
