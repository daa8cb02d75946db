"""resource_fields: the description members lists filter on, copied out of the JSON into indexed rows
(Application Auto Scaling's ServiceNamespace/ResourceId/ScalableDimension/PolicyName, IAM's Path), and
filled for the resources already stored.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

#: ``FILTERED_FIELDS`` as of this revision (a later change to it comes with its own revision).
_FIELDS = {
    "scalable-target": ("ServiceNamespace", "ResourceId", "ScalableDimension"),
    "scaling-policy": ("ServiceNamespace", "ResourceId", "ScalableDimension", "PolicyName"),
    "scaling-activity": ("ServiceNamespace", "ResourceId", "ScalableDimension"),
    "iam-role": ("Path",),
}
_BATCH = 500


def upgrade() -> None:
    fields = op.create_table(
        "resource_fields",
        sa.Column("resource_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=2048), nullable=False),
        sa.ForeignKeyConstraint(["resource_id"], ["resources.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("resource_id", "name", name="pk_resource_fields"),
    )
    op.create_index("ix_resource_fields_value", "resource_fields", ["name", "value", "resource_id"])
    resources = sa.table(
        "resources",
        sa.column("id", sa.Integer),
        sa.column("resource_type", sa.String),
        sa.column("data", sa.Text),
    )
    conn = op.get_bind()
    last = 0
    while True:  # in batches of ids: a large activity history never sits in memory at once
        rows = conn.execute(
            sa.select(resources.c.id, resources.c.resource_type, resources.c.data)
            .where(resources.c.resource_type.in_(list(_FIELDS)), resources.c.id > last)
            .order_by(resources.c.id)
            .limit(_BATCH)
        ).all()
        if not rows:
            break
        values = []
        for row in rows:
            data = json.loads(row.data)
            values += [
                {"resource_id": row.id, "name": name, "value": str(data[name])}
                for name in _FIELDS[row.resource_type]
                if data.get(name) is not None
            ]
        if values:
            conn.execute(fields.insert(), values)
        last = rows[-1].id


def downgrade() -> None:
    op.drop_index("ix_resource_fields_value", table_name="resource_fields")
    op.drop_table("resource_fields")
