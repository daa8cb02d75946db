"""Schema migrations (Alembic): a fresh database, a data dir made before migrations existed, the migrated
schema against the table definitions (no autogenerate diff) and against the committed snapshot."""

from __future__ import annotations

import importlib.util
import json
import os
import sqlite3
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from sagestack.store import migrations
from sagestack.store.db import Database
from sagestack.store.resources import FieldFilter, ListQuery, ResourceStore
from sagestack.store.schema import load_all_tables

HERE = Path(__file__).resolve().parent
SNAPSHOTS = HERE / "schema"
#: Set to rewrite the snapshots from the migrated schema (``make schema-snapshot``).
UPDATE = os.environ.get("SAGESTACK_UPDATE_SCHEMA_SNAPSHOT") == "1"


def _tables(db) -> set[str]:
    return set(sa.inspect(db.engine).get_table_names())


def test_fresh_database_is_migrated_to_head(blank_db):
    blank_db.create_schema()
    assert migrations.current(blank_db) == migrations.head()
    assert _tables(blank_db) == set(load_all_tables().tables) | {"alembic_version"}
    blank_db.create_schema()  # every start runs it: a no-op at head
    assert migrations.current(blank_db) == migrations.head()


def test_migrated_schema_matches_the_table_definitions(db):
    """What the revisions build is what the store modules declare: autogenerate finds nothing to do."""
    with db.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), load_all_tables()
        )
    assert diff == [], (
        f"the table definitions changed without a migration: {diff} — run `make migration MSG=…`"
    )


def snapshot(engine) -> str:
    """The schema as the database reports it, one line per column, key and index, in a stable order."""
    inspector = sa.inspect(engine)
    lines = []
    for table in sorted(inspector.get_table_names()):
        lines.append(f"table {table}")
        for column in inspector.get_columns(table):
            null = "" if column["nullable"] else " NOT NULL"
            lines.append(f"  column {column['name']} {column['type']}{null}")
        pk = inspector.get_pk_constraint(table)
        if pk["constrained_columns"]:
            lines.append(f"  primary key ({', '.join(pk['constrained_columns'])})")
        for fk in sorted(inspector.get_foreign_keys(table), key=lambda f: f["constrained_columns"]):
            ondelete = (fk.get("options") or {}).get("ondelete")
            lines.append(
                f"  foreign key ({', '.join(fk['constrained_columns'])}) -> {fk['referred_table']} "
                f"({', '.join(fk['referred_columns'])})" + (f" on delete {ondelete}" if ondelete else "")
            )
        for unique in sorted(inspector.get_unique_constraints(table), key=lambda u: u["column_names"]):
            lines.append(f"  unique {unique['name']} ({', '.join(unique['column_names'])})")
        for index in sorted(inspector.get_indexes(table), key=lambda i: i["name"]):
            if index.get("duplicates_constraint"):
                continue
            lines.append(
                f"  index {index['name']} ({', '.join(index['column_names'])})"
                + (" unique" if index["unique"] else "")
            )
    return "\n".join(lines) + "\n"


def test_schema_snapshot(db):
    """The committed snapshot (tests/store/schema/<dialect>.txt) shows every schema change in review."""
    path = SNAPSHOTS / f"{db.engine.dialect.name}.txt"
    text = snapshot(db.engine)
    if UPDATE:
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
    assert path.exists(), f"no snapshot {path}: run `make schema-snapshot`"
    assert text == path.read_text(), (
        f"the migrated schema differs from {path}: run `make schema-snapshot` "
        f"and commit the file with the migration"
    )


def test_downgrade_to_base_and_back(db):
    with db.begin() as conn:
        command.downgrade(migrations.config(conn), "base")
    assert _tables(db) == {"alembic_version"}
    db.create_schema()
    assert migrations.current(db) == migrations.head()
    assert _tables(db) == set(load_all_tables().tables) | {"alembic_version"}


def _baseline_module():
    path = next((migrations.SCRIPT_LOCATION / "versions").glob("0001_*.py"))
    spec = importlib.util.spec_from_file_location("sagestack_baseline", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_pre_migration_database_is_adopted(blank_db):
    """A database the old ``create_all`` made (baseline tables, a ``sagestack_schema`` version table, no
    ``alembic_version``): its rows are kept and it ends at head, with the new list-filter fields filled."""
    old = sa.MetaData()
    for name, columns, indexes in _baseline_module()._tables():
        table = sa.Table(name, old, *columns)
        for index, index_columns in indexes:
            sa.Index(index, *(table.c[c] for c in index_columns))
    version = sa.Table("sagestack_schema", old, sa.Column("version", sa.Integer, nullable=False))
    old.create_all(blank_db.engine)
    resources = old.tables["resources"]
    target = {
        "ServiceNamespace": "sagemaker",
        "ResourceId": "endpoint/e/variant/v",
        "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
        "MinCapacity": 1,
    }
    with blank_db.begin() as conn:
        conn.execute(version.insert().values(version=1))
        conn.execute(
            resources.insert(),
            [
                dict(
                    account_id="111111111111",
                    region="us-east-1",
                    resource_type="scalable-target",
                    name="sagemaker|endpoint/e/variant/v|sagemaker:variant:DesiredInstanceCount",
                    arn="arn:target",
                    status="Registered",
                    created_at=1.0,
                    modified_at=1.0,
                    data=json.dumps(target),
                    version=1,
                ),
                dict(
                    account_id="111111111111",
                    region="global",
                    resource_type="iam-role",
                    name="team-role",
                    arn="arn:role",
                    status=None,
                    created_at=2.0,
                    modified_at=2.0,
                    data=json.dumps({"Path": "/team/"}),
                    version=1,
                ),
                dict(
                    account_id="111111111111",
                    region="us-east-1",
                    resource_type="training-job",
                    name="job",
                    arn="arn:job",
                    status="Completed",
                    created_at=3.0,
                    modified_at=3.0,
                    data="{}",
                    version=1,
                ),
            ],
        )
    assert migrations.current(blank_db) is None

    blank_db.create_schema()

    assert migrations.current(blank_db) == migrations.head()
    assert _tables(blank_db) == set(load_all_tables().tables) | {"alembic_version"}  # sagestack_schema gone
    store = ResourceStore(blank_db)
    assert store.get("111111111111", "us-east-1", "training-job", "job").status == "Completed"
    found, _ = store.list(
        "111111111111",
        "us-east-1",
        "scalable-target",
        ListQuery(fields=(FieldFilter.any_of("ResourceId", ["endpoint/e/variant/v"]),)),
    )
    assert [r.data for r in found] == [target]
    roles, _ = store.list(
        "111111111111", "global", "iam-role", ListQuery(fields=(FieldFilter.starts_with("Path", "/te"),))
    )
    assert [r.name for r in roles] == ["team-role"]


def test_data_dir_of_sagestack_0_1_is_adopted(tmp_path):
    """The metadata.db a pre-migration server wrote (tests/store/data/legacy-0.1-metadata.sql, made by
    make_legacy.py): a server starts on it, everything is still there, and the filtered lists work."""
    from sagestack.local_server import ServerProcess

    data_dir = tmp_path / "data"
    data_dir.mkdir()
    with sqlite3.connect(data_dir / "metadata.db") as conn:
        conn.executescript((HERE / "data" / "legacy-0.1-metadata.sql").read_text())
    server = ServerProcess(data_dir).start()
    try:
        iam = server.client("iam")
        assert [r["RoleName"] for r in iam.list_roles(PathPrefix="/team/")["Roles"]] == ["legacy-team-role"]
        assert {r["RoleName"] for r in iam.list_roles()["Roles"]} >= {"legacy-team-role", "legacy-root-role"}
        aas = server.client("application-autoscaling")
        targets = aas.describe_scalable_targets(
            ServiceNamespace="sagemaker", ResourceIds=["endpoint/legacy-endpoint/variant/B"]
        )
        assert [t["ResourceId"] for t in targets["ScalableTargets"]] == ["endpoint/legacy-endpoint/variant/B"]
        policies = aas.describe_scaling_policies(ServiceNamespace="sagemaker", PolicyNames=["legacy-step"])
        assert [p["ResourceId"] for p in policies["ScalingPolicies"]] == [
            "endpoint/legacy-endpoint/variant/A"
        ]
        assert (
            server.client("sagemaker").describe_model(ModelName="legacy-model")["ModelName"] == "legacy-model"
        )
        listing = server.client("s3").list_objects_v2(
            Bucket="legacy-bucket"
        )  # the index (the bytes were not kept)
        assert [(o["Key"], o["Size"]) for o in listing["Contents"]] == [("data/a.csv", 4)]
    finally:
        server.stop()
    db = Database(f"sqlite:///{data_dir / 'metadata.db'}")
    try:
        assert migrations.current(db) == migrations.head()
        assert "sagestack_schema" not in _tables(db)
    finally:
        db.dispose()


def test_file_names_agree_with_the_revision_graph():
    """A start at head compares with the newest file name instead of loading Alembic: they must agree,
    and the revisions form one line (no branches)."""
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(migrations.config())
    assert scripts.get_heads() == [migrations.shipped_head()]
    for script in scripts.walk_revisions():
        assert Path(script.path).name.startswith(f"{script.revision}_")
