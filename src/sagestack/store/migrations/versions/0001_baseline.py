"""Baseline: the schema as the store modules declared it before migrations (sagestack 0.1).

Also adopts a data dir made before migrations existed: tables that are already there (created by the
old ``create_all``) are kept as they are, missing ones are created, and the old ``sagestack_schema``
version table gives way to ``alembic_version``.

Revision ID: 0001
Revises:
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

#: S3 keys sort as UTF-8 bytes: PostgreSQL needs the "C" collation for that, SQLite's BINARY does it.
_KEY = sa.String(length=1024).with_variant(sa.String(length=1024, collation="C"), "postgresql")


def _tables() -> list[tuple[str, list, list[tuple[str, list[str]]]]]:
    """(table, columns and constraints, indexes), parents before children."""
    return [
        (
            "credentials",
            [
                sa.Column("access_key_id", sa.String(length=128), nullable=False),
                sa.Column("secret_access_key", sa.String(length=128), nullable=False),
                sa.Column("account_id", sa.String(length=12), nullable=False),
                sa.Column("principal_arn", sa.String(length=2048), nullable=False),
                sa.Column("session_token", sa.String(length=2048), nullable=True),
                sa.Column("expires_at", sa.Float(), nullable=True),
                sa.Column("created_at", sa.Float(), nullable=False),
                sa.PrimaryKeyConstraint("access_key_id"),
            ],
            [],
        ),
        (
            "resources",
            [
                sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
                sa.Column("account_id", sa.String(length=12), nullable=False),
                sa.Column("region", sa.String(length=32), nullable=False),
                sa.Column("resource_type", sa.String(length=64), nullable=False),
                sa.Column("name", sa.String(length=256), nullable=False),
                sa.Column("arn", sa.String(length=2048), nullable=False),
                sa.Column("status", sa.String(length=64), nullable=True),
                sa.Column("created_at", sa.Float(), nullable=False),
                sa.Column("modified_at", sa.Float(), nullable=False),
                sa.Column("parent", sa.String(length=256), nullable=True),
                sa.Column("data", sa.Text(), nullable=False),
                sa.Column("version", sa.Integer(), nullable=False),
                sa.PrimaryKeyConstraint("id"),
                sa.UniqueConstraint("account_id", "region", "resource_type", "name", name="uq_resource_name"),
            ],
            [("ix_resources_arn", ["arn"]), ("ix_resources_type_status", ["resource_type", "status"])],
        ),
        (
            "tags",
            [
                sa.Column("arn", sa.String(length=2048), nullable=False),
                sa.Column("key", sa.String(length=128), nullable=False),
                sa.Column("value", sa.String(length=256), nullable=False),
                sa.UniqueConstraint("arn", "key", name="uq_tag"),
            ],
            [],
        ),
        (
            "s3_buckets",
            [
                sa.Column("name", sa.String(length=63), nullable=False),
                sa.Column("account_id", sa.String(length=12), nullable=False),
                sa.Column("region", sa.String(length=32), nullable=False),
                sa.Column("created_at", sa.Float(), nullable=False),
                sa.Column("tags", sa.Text(), nullable=True),
                sa.PrimaryKeyConstraint("name"),
            ],
            [("ix_s3_buckets_account", ["account_id"])],
        ),
        (
            "s3_objects",
            [
                sa.Column("bucket", sa.String(length=63), nullable=False),
                sa.Column("key", _KEY, nullable=False),
                sa.Column("size", sa.BigInteger(), nullable=False),
                sa.Column("etag", sa.String(length=64), nullable=False),
                sa.Column("content_type", sa.String(length=256), nullable=False),
                sa.Column("metadata", sa.Text(), nullable=False),
                sa.Column("headers", sa.Text(), nullable=False),
                sa.Column("checksums", sa.Text(), nullable=False),
                sa.Column("sse", sa.Text(), nullable=False),
                sa.Column("tags", sa.Text(), nullable=False),
                sa.Column("parts", sa.Text(), nullable=True),
                sa.Column("last_modified", sa.Float(), nullable=False),
                sa.Column("storage_path", sa.String(length=512), nullable=False),
                sa.ForeignKeyConstraint(["bucket"], ["s3_buckets.name"]),
                sa.PrimaryKeyConstraint("bucket", "key"),
            ],
            [],
        ),
        (
            "s3_uploads",
            [
                sa.Column("upload_id", sa.String(length=128), nullable=False),
                sa.Column("bucket", sa.String(length=63), nullable=False),
                sa.Column("key", _KEY, nullable=False),
                sa.Column("account_id", sa.String(length=12), nullable=False),
                sa.Column("initiated", sa.Float(), nullable=False),
                sa.Column("content_type", sa.String(length=256), nullable=False),
                sa.Column("metadata", sa.Text(), nullable=False),
                sa.Column("headers", sa.Text(), nullable=False),
                sa.Column("sse", sa.Text(), nullable=False),
                sa.Column("tags", sa.Text(), nullable=False),
                sa.Column("checksum_algorithm", sa.String(length=16), nullable=True),
                sa.Column("checksum_type", sa.String(length=16), nullable=True),
                sa.ForeignKeyConstraint(["bucket"], ["s3_buckets.name"]),
                sa.PrimaryKeyConstraint("upload_id"),
            ],
            [("ix_s3_uploads_bucket_key", ["bucket", "key", "initiated"])],
        ),
        (
            "s3_parts",
            [
                sa.Column("upload_id", sa.String(length=128), nullable=False),
                sa.Column("part_number", sa.Integer(), nullable=False),
                sa.Column("size", sa.BigInteger(), nullable=False),
                sa.Column("etag", sa.String(length=64), nullable=False),
                sa.Column("checksums", sa.Text(), nullable=False),
                sa.Column("last_modified", sa.Float(), nullable=False),
                sa.Column("storage_path", sa.String(length=512), nullable=False),
                sa.ForeignKeyConstraint(["upload_id"], ["s3_uploads.upload_id"]),
                sa.PrimaryKeyConstraint("upload_id", "part_number"),
            ],
            [],
        ),
        (
            "log_groups",
            [
                sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
                sa.Column("account_id", sa.String(length=12), nullable=False),
                sa.Column("region", sa.String(length=32), nullable=False),
                sa.Column("name", sa.String(length=512), nullable=False),
                sa.Column("created_at", sa.BigInteger(), nullable=False),
                sa.Column("retention_days", sa.Integer(), nullable=True),
                sa.Column("kms_key_id", sa.String(length=256), nullable=True),
                sa.Column("log_group_class", sa.String(length=32), nullable=False),
                sa.Column("tags", sa.Text(), nullable=True),
                sa.PrimaryKeyConstraint("id"),
                sa.UniqueConstraint("account_id", "region", "name", name="uq_log_group"),
            ],
            [],
        ),
        (
            "log_streams",
            [
                sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
                sa.Column("group_id", sa.Integer(), nullable=False),
                sa.Column("name", sa.String(length=512), nullable=False),
                sa.Column("created_at", sa.BigInteger(), nullable=False),
                sa.Column("first_event_ts", sa.BigInteger(), nullable=True),
                sa.Column("last_event_ts", sa.BigInteger(), nullable=True),
                sa.Column("last_ingestion_time", sa.BigInteger(), nullable=True),
                sa.Column("sequence", sa.BigInteger(), nullable=False),
                sa.Column("stored_bytes", sa.BigInteger(), nullable=False),
                sa.ForeignKeyConstraint(["group_id"], ["log_groups.id"], ondelete="CASCADE"),
                sa.PrimaryKeyConstraint("id"),
                sa.UniqueConstraint("group_id", "name", name="uq_log_stream"),
            ],
            [("ix_log_streams_last_event", ["group_id", "last_event_ts"])],
        ),
        (
            "log_events",
            [
                sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
                sa.Column("stream_id", sa.Integer(), nullable=False),
                sa.Column("timestamp", sa.BigInteger(), nullable=False),
                sa.Column("ingestion_time", sa.BigInteger(), nullable=False),
                sa.Column("message", sa.Text(), nullable=False),
                sa.ForeignKeyConstraint(["stream_id"], ["log_streams.id"], ondelete="CASCADE"),
                sa.PrimaryKeyConstraint("id"),
            ],
            [("ix_log_events_stream_ts", ["stream_id", "timestamp", "id"])],
        ),
        (
            "metrics",
            [
                sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
                sa.Column("account_id", sa.String(length=12), nullable=False),
                sa.Column("region", sa.String(length=32), nullable=False),
                sa.Column("namespace", sa.String(length=255), nullable=False),
                sa.Column("name", sa.String(length=255), nullable=False),
                sa.Column("dims_key", sa.Text(), nullable=False),
                sa.Column("dimensions", sa.Text(), nullable=False),
                sa.Column("last_seen", sa.Float(), nullable=False),
                sa.PrimaryKeyConstraint("id"),
                sa.UniqueConstraint(
                    "account_id", "region", "namespace", "name", "dims_key", name="uq_metric"
                ),
            ],
            [],
        ),
        (
            "metric_dimensions",
            [
                sa.Column("metric_id", sa.Integer(), nullable=False),
                sa.Column("name", sa.String(length=255), nullable=False),
                sa.Column("value", sa.String(length=1024), nullable=False),
                sa.ForeignKeyConstraint(["metric_id"], ["metrics.id"], ondelete="CASCADE"),
            ],
            [("ix_metric_dimensions", ["name", "value", "metric_id"])],
        ),
        (
            "metric_points",
            [
                sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
                sa.Column("metric_id", sa.Integer(), nullable=False),
                sa.Column("ts", sa.BigInteger(), nullable=False),
                sa.Column("sample_count", sa.Float(), nullable=False),
                sa.Column("sum", sa.Float(), nullable=False),
                sa.Column("minimum", sa.Float(), nullable=False),
                sa.Column("maximum", sa.Float(), nullable=False),
                sa.Column("unit", sa.String(length=32), nullable=False),
                sa.Column("single", sa.Boolean(), nullable=False),
                sa.ForeignKeyConstraint(["metric_id"], ["metrics.id"], ondelete="CASCADE"),
                sa.PrimaryKeyConstraint("id"),
            ],
            [("ix_metric_points_metric_ts", ["metric_id", "ts"])],
        ),
        (
            "metric_alarms",
            [
                sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
                sa.Column("account_id", sa.String(length=12), nullable=False),
                sa.Column("region", sa.String(length=32), nullable=False),
                sa.Column("name", sa.String(length=255), nullable=False),
                sa.Column("state", sa.String(length=32), nullable=False),
                sa.Column("updated_at", sa.Float(), nullable=False),
                sa.Column("data", sa.Text(), nullable=False),
                sa.PrimaryKeyConstraint("id"),
                sa.UniqueConstraint("account_id", "region", "name", name="uq_metric_alarm"),
            ],
            [],
        ),
        (
            "alarm_history",
            [
                sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
                sa.Column("account_id", sa.String(length=12), nullable=False),
                sa.Column("region", sa.String(length=32), nullable=False),
                sa.Column("alarm_name", sa.String(length=255), nullable=False),
                sa.Column("alarm_type", sa.String(length=32), nullable=False),
                sa.Column("ts", sa.Float(), nullable=False),
                sa.Column("item_type", sa.String(length=32), nullable=False),
                sa.Column("summary", sa.Text(), nullable=False),
                sa.Column("data", sa.Text(), nullable=False),
                sa.PrimaryKeyConstraint("id"),
            ],
            [("ix_alarm_history", ["account_id", "region", "alarm_name", "ts"])],
        ),
        (
            "async_invocations",
            [
                sa.Column("id", sa.String(length=64), nullable=False),
                sa.Column("account_id", sa.String(length=12), nullable=False),
                sa.Column("region", sa.String(length=32), nullable=False),
                sa.Column("endpoint", sa.String(length=63), nullable=False),
                sa.Column("inference_id", sa.String(length=64), nullable=False),
                sa.Column("input_location", sa.String(length=2048), nullable=False),
                sa.Column("output_location", sa.String(length=2048), nullable=False),
                sa.Column("failure_location", sa.String(length=2048), nullable=False),
                sa.Column("content_type", sa.String(length=1024), nullable=True),
                sa.Column("accept", sa.String(length=1024), nullable=True),
                sa.Column("custom_attributes", sa.String(length=1024), nullable=True),
                sa.Column("status", sa.String(length=16), nullable=False),
                sa.Column("created_at", sa.Float(), nullable=False),
                sa.Column("expires_at", sa.Float(), nullable=False),
                sa.Column("timeout_s", sa.Float(), nullable=False),
                sa.Column("attempts", sa.Integer(), nullable=False),
                sa.Column("last_error", sa.Text(), nullable=True),
                sa.PrimaryKeyConstraint("id"),
            ],
            [("ix_async_invocations_queue", ["account_id", "region", "endpoint", "status", "created_at"])],
        ),
    ]


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    for name, columns, indexes in _tables():
        if name in existing:  # made by create_all before migrations: kept as it is
            continue
        op.create_table(name, *columns)
        for index, index_columns in indexes:
            op.create_index(index, name, index_columns)
    if "sagestack_schema" in existing:  # the version table of the pre-Alembic upgrade steps
        op.drop_table("sagestack_schema")


def downgrade() -> None:
    for name, _columns, _indexes in reversed(_tables()):
        op.drop_table(name)
