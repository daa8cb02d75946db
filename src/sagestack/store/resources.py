"""Generic store for SageMaker-style resources (training jobs, models, endpoints, …) and tags.

Each row: account, region, type, name, arn, status, creation/modification times and the resource's
description as JSON. Lists filter, sort and paginate in SQL.

Fields of the description that a list filters on (``FILTERED_FIELDS``: e.g. a scalable target's
``ServiceNamespace`` and ``ResourceId``) are copied out of the JSON into ``resource_fields`` when a
resource is written, so that the filter is an indexed SQL condition applied before the page is cut.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    bindparam,
    cast,
    exists,
    func,
    select,
)

from . import tokens
from .errors import AlreadyExists, ConcurrentModification
from .schema import metadata

resources = Table(
    "resources",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account_id", String(12), nullable=False),
    Column("region", String(32), nullable=False),
    Column("resource_type", String(64), nullable=False),
    Column("name", String(256), nullable=False),
    Column("arn", String(2048), nullable=False),
    Column("status", String(64)),
    Column("created_at", Float, nullable=False),
    Column("modified_at", Float, nullable=False),
    Column("parent", String(256)),  # e.g. the endpoint of an inference component, tuning job of a job
    Column("data", Text, nullable=False),
    Column("version", Integer, nullable=False, default=1),
    UniqueConstraint("account_id", "region", "resource_type", "name", name="uq_resource_name"),
    Index("ix_resources_type_status", "resource_type", "status"),
    Index("ix_resources_arn", "arn"),
)

tags = Table(
    "tags",
    metadata,
    Column("arn", String(2048), nullable=False),
    Column("key", String(128), nullable=False),
    Column("value", String(256), nullable=False),
    UniqueConstraint("arn", "key", name="uq_tag"),
)

resource_fields = Table(
    "resource_fields",
    metadata,
    Column("resource_id", Integer, ForeignKey("resources.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(64), nullable=False),
    Column("value", String(2048), nullable=False),
    PrimaryKeyConstraint("resource_id", "name", name="pk_resource_fields"),
    Index("ix_resource_fields_value", "name", "value", "resource_id"),
)

#: Per resource type, the top-level members of its description that lists filter on (string values).
#: Changing this needs a migration that fills ``resource_fields`` for the rows already stored.
FILTERED_FIELDS: Mapping[str, tuple[str, ...]] = {
    "scalable-target": ("ServiceNamespace", "ResourceId", "ScalableDimension"),
    "scaling-policy": ("ServiceNamespace", "ResourceId", "ScalableDimension", "PolicyName"),
    "scaling-activity": ("ServiceNamespace", "ResourceId", "ScalableDimension"),
    "iam-role": ("Path",),
    "experiment-trial-component": ("_SourceArn",),
    "artifact": ("_SourceUri", "ArtifactType"),
    "action": ("_SourceUri", "ActionType"),
    "context": ("_SourceUri", "ContextType"),
    # a tuning job's child: its objective value, for ListTrainingJobsForHyperParameterTuningJob's
    # SortBy=FinalObjectiveMetricValue (jobs before tuning never have it: nothing to fill in)
    "training-job": ("_ObjectiveValue",),
    # Model Monitor: ListXxxJobDefinitions / ListMonitoringSchedules filters, and "is a definition in use"
    "data-quality-job-definition": ("_EndpointName",),
    "model-quality-job-definition": ("_EndpointName",),
    "model-bias-job-definition": ("_EndpointName",),
    "model-explainability-job-definition": ("_EndpointName",),
    "monitoring-schedule": ("_EndpointName", "_DefinitionKey", "_DefinitionName", "MonitoringType"),
    "monitoring-execution": ("MonitoringScheduleName",),
    "sqs-queue": ("QueueName",),
    "schedule": ("GroupName", "Name", "State"),
}


def filtered_fields(resource_type: str, data: dict) -> dict[str, str]:
    """The values ``resource_fields`` holds for a resource of this type and description."""
    return {
        name: str(data[name]) for name in FILTERED_FIELDS.get(resource_type, ()) if data.get(name) is not None
    }


def _json_default(value: Any):
    if isinstance(value, dt.datetime):
        return {"__ts__": value.timestamp()}
    if isinstance(value, (bytes, bytearray)):
        return value.decode("latin-1")
    raise TypeError(f"not JSON serializable: {type(value)}")


def _json_hook(value: dict):
    if len(value) == 1 and "__ts__" in value:
        return dt.datetime.fromtimestamp(value["__ts__"], dt.timezone.utc)
    return value


def dumps(data: dict) -> str:
    return json.dumps(data, default=_json_default, separators=(",", ":"))


def loads(text: str) -> dict:
    return json.loads(text, object_hook=_json_hook)


@dataclass
class Resource:
    account_id: str
    region: str
    resource_type: str
    name: str
    arn: str
    status: str | None
    created_at: float
    modified_at: float
    parent: str | None
    data: dict
    version: int

    @classmethod
    def from_row(cls, row) -> Resource:
        values = dict(row)
        values.pop("id", None)
        values["data"] = loads(values["data"])
        return cls(**values)


@dataclass(frozen=True)
class FieldFilter:
    """A condition on one of ``FILTERED_FIELDS``: the value is one of ``values``, or starts with
    ``prefix``."""

    name: str
    values: tuple[str, ...] = ()
    prefix: str | None = None

    @classmethod
    def equals(cls, name: str, value: str) -> FieldFilter:
        return cls(name, values=(value,))

    @classmethod
    def any_of(cls, name: str, values: Iterable[str]) -> FieldFilter:
        return cls(name, values=tuple(values))

    @classmethod
    def starts_with(cls, name: str, prefix: str) -> FieldFilter:
        return cls(name, prefix=prefix)


@dataclass(frozen=True)
class ListQuery:
    name_contains: str | None = None
    status_equals: str | None = None
    created_after: float | None = None
    created_before: float | None = None
    modified_after: float | None = None
    modified_before: float | None = None
    parent: str | None = None
    fields: tuple[FieldFilter, ...] = ()
    conditions: tuple = ()  # further SQL conditions on ``resources`` rows (e.g. store.experiments links)
    sort_by: str = "CreationTime"  # "Name" | "CreationTime" | "Status" | "LastModifiedTime"
    sort_order: str = "Descending"
    #: Sort by this ``FILTERED_FIELDS`` member as a number instead (items without it are left out).
    sort_field: str | None = None
    max_results: int = 100
    next_token: str | None = None


_SORT_COLUMNS = {
    "Name": resources.c.name,
    "CreationTime": resources.c.created_at,
    "CreationTimeDescending": resources.c.created_at,
    "Status": resources.c.status,
    "LastModifiedTime": resources.c.modified_at,
}


def _ts(value) -> float | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.timestamp()
    return float(value)


class ResourceStore:
    def __init__(self, db):
        self.db = db

    def _key(self, account_id: str, region: str, resource_type: str, name: str):
        return and_(
            resources.c.account_id == account_id,
            resources.c.region == region,
            resources.c.resource_type == resource_type,
            resources.c.name == name,
        )

    def create(
        self,
        account_id: str,
        region: str,
        resource_type: str,
        name: str,
        arn: str,
        data: dict,
        status: str | None = None,
        parent: str | None = None,
        tag_list: Iterable[dict] | None = None,
    ) -> Resource:
        """Insert a resource and its tags; ``AlreadyExists`` when the name is taken."""
        now = _ts(data.get("CreationTime")) or dt.datetime.now(dt.timezone.utc).timestamp()
        row = dict(
            account_id=account_id,
            region=region,
            resource_type=resource_type,
            name=name,
            arn=arn,
            status=status,
            created_at=now,
            modified_at=now,
            parent=parent,
            data=dumps(data),
            version=1,
        )
        with self.db.begin() as conn:
            found = conn.execute(
                select(resources.c.id).where(self._key(account_id, region, resource_type, name))
            ).first()
            if found:
                raise AlreadyExists(resource_type, name, arn)
            resource_id = conn.execute(resources.insert().values(**row)).inserted_primary_key[0]
            _write_fields(conn, resource_id, filtered_fields(resource_type, data))
            for tag in tag_list or ():
                conn.execute(tags.insert().values(arn=arn, key=tag["Key"], value=tag.get("Value", "")))
        row["data"] = data
        return Resource(**row)

    def get(self, account_id: str, region: str, resource_type: str, name: str) -> Resource | None:
        with self.db.connect() as conn:
            row = (
                conn.execute(
                    _GET,
                    {
                        "account_id": account_id,
                        "region": region,
                        "resource_type": resource_type,
                        "name": name,
                    },
                )
                .mappings()
                .first()
            )
        return Resource.from_row(row) if row else None

    def get_by_arn(self, arn: str) -> Resource | None:
        with self.db.connect() as conn:
            row = conn.execute(select(resources).where(resources.c.arn == arn)).mappings().first()
        return Resource.from_row(row) if row else None

    def update(
        self,
        resource: Resource,
        data: dict | None = None,
        status: str | None = None,
        expect_version: bool = False,
    ) -> Resource:
        """Write back ``data``/``status``; with ``expect_version`` fail if someone else wrote first."""
        now = dt.datetime.now(dt.timezone.utc).timestamp()
        new_data = resource.data if data is None else data
        values = dict(data=dumps(new_data), modified_at=now, version=resource.version + 1)
        if status is not None:
            values["status"] = status
        condition = self._key(resource.account_id, resource.region, resource.resource_type, resource.name)
        if expect_version:
            condition = and_(condition, resources.c.version == resource.version)
        fields = filtered_fields(resource.resource_type, new_data) if data is not None else None
        with self.db.begin() as conn:
            result = conn.execute(resources.update().where(condition).values(**values))
            if result.rowcount and fields is not None and FILTERED_FIELDS.get(resource.resource_type):
                resource_id = conn.execute(
                    select(resources.c.id).where(
                        self._key(resource.account_id, resource.region, resource.resource_type, resource.name)
                    )
                ).scalar_one()
                conn.execute(resource_fields.delete().where(resource_fields.c.resource_id == resource_id))
                _write_fields(conn, resource_id, fields)
        if result.rowcount == 0:
            raise ConcurrentModification(resource.name)
        resource.data = new_data
        resource.status = values.get("status", resource.status)
        resource.modified_at = now
        resource.version += 1
        return resource

    def delete(self, account_id: str, region: str, resource_type: str, name: str) -> bool:
        with self.db.begin() as conn:
            row = conn.execute(
                select(resources.c.id, resources.c.arn).where(
                    self._key(account_id, region, resource_type, name)
                )
            ).first()
            if not row:
                return False
            conn.execute(resource_fields.delete().where(resource_fields.c.resource_id == row.id))
            conn.execute(resources.delete().where(resources.c.id == row.id))
            conn.execute(tags.delete().where(tags.c.arn == row.arn))
        return True

    def list(
        self, account_id: str, region: str, resource_type: str, query: ListQuery = ListQuery()
    ) -> tuple[list[Resource], str | None]:
        condition = and_(
            resources.c.account_id == account_id,
            resources.c.region == region,
            resources.c.resource_type == resource_type,
        )
        if query.name_contains:
            condition = and_(
                condition, func.lower(resources.c.name).contains(query.name_contains.lower(), autoescape=True)
            )
        if query.status_equals:
            condition = and_(condition, resources.c.status == query.status_equals)
        if query.parent is not None:
            condition = and_(condition, resources.c.parent == query.parent)
        for field in query.fields:
            condition = and_(condition, _field_condition(resource_type, field))
        for extra in query.conditions:
            condition = and_(condition, extra)
        for column, value, op in (
            (resources.c.created_at, query.created_after, "gt"),
            (resources.c.created_at, query.created_before, "lt"),
            (resources.c.modified_at, query.modified_after, "gt"),
            (resources.c.modified_at, query.modified_before, "lt"),
        ):
            value = _ts(value)
            if value is not None:
                condition = and_(condition, column > value if op == "gt" else column < value)
        column = _SORT_COLUMNS.get(query.sort_by, resources.c.created_at)
        if query.sort_field is not None:
            if query.sort_field not in FILTERED_FIELDS.get(resource_type, ()):
                raise ValueError(f"{resource_type} does not keep {query.sort_field} in resource_fields")
            column = (
                select(cast(resource_fields.c.value, Float))
                .where(
                    and_(
                        resource_fields.c.resource_id == resources.c.id,
                        resource_fields.c.name == query.sort_field,
                    )
                )
                .scalar_subquery()
            )
            condition = and_(
                condition, _field_condition(resource_type, FieldFilter(query.sort_field, prefix=""))
            )
        descending = query.sort_order != "Ascending"
        order = [
            column.desc() if descending else column.asc(),
            resources.c.id.desc() if descending else resources.c.id.asc(),
        ]
        offset = tokens.decode_offset(query.next_token)["o"]
        limit = max(1, min(int(query.max_results or 100), 1000))
        stmt = select(resources).where(condition).order_by(*order).offset(offset).limit(limit + 1)
        with self.db.connect() as conn:
            rows = conn.execute(stmt).mappings().all()
        items = [Resource.from_row(r) for r in rows[:limit]]
        token = tokens.encode_offset(offset + limit) if len(rows) > limit else None
        return items, token

    def in_states(self, resource_type: str, statuses: Iterable[str]) -> list[Resource]:
        """Every resource of a type in the given states, across accounts (for reconcilers)."""
        with self.db.connect() as conn:
            rows = (
                conn.execute(
                    select(resources)
                    .where(
                        and_(
                            resources.c.resource_type == resource_type, resources.c.status.in_(list(statuses))
                        )
                    )
                    .order_by(resources.c.created_at)
                )
                .mappings()
                .all()
            )
        return [Resource.from_row(r) for r in rows]

    def count_by_status(self) -> list[tuple[str, str | None, int]]:
        """(resource type, status, how many) over every account and region (for ``sagestack status``)."""
        stmt = (
            select(resources.c.resource_type, resources.c.status, func.count())
            .group_by(resources.c.resource_type, resources.c.status)
            .order_by(resources.c.resource_type, resources.c.status)
        )
        with self.db.connect() as conn:
            return [(t, s, int(n)) for t, s, n in conn.execute(stmt).all()]

    # -- tags -------------------------------------------------------------------------------

    def add_tags(self, arn: str, tag_list: Iterable[dict]) -> None:
        with self.db.begin() as conn:
            for tag in tag_list:
                conn.execute(tags.delete().where(and_(tags.c.arn == arn, tags.c.key == tag["Key"])))
                conn.execute(tags.insert().values(arn=arn, key=tag["Key"], value=tag.get("Value", "")))

    def delete_tags(self, arn: str, keys: Iterable[str]) -> None:
        with self.db.begin() as conn:
            conn.execute(tags.delete().where(and_(tags.c.arn == arn, tags.c.key.in_(list(keys)))))

    def list_tags(self, arn: str) -> list[dict]:
        with self.db.connect() as conn:
            rows = conn.execute(
                select(tags.c.key, tags.c.value).where(tags.c.arn == arn).order_by(tags.c.key)
            ).all()
        return [{"Key": k, "Value": v} for k, v in rows]

    def arn_exists(self, arn: str) -> bool:
        with self.db.connect() as conn:
            return conn.execute(select(resources.c.id).where(resources.c.arn == arn)).first() is not None


def _write_fields(conn, resource_id: int, fields: dict[str, str]) -> None:
    if fields:
        conn.execute(
            resource_fields.insert(),
            [{"resource_id": resource_id, "name": name, "value": value} for name, value in fields.items()],
        )


def _field_condition(resource_type: str, field: FieldFilter):
    """``EXISTS`` a matching ``resource_fields`` row for the listed resource (an index seek)."""
    if field.name not in FILTERED_FIELDS.get(resource_type, ()):
        raise ValueError(f"{resource_type} does not keep {field.name} in resource_fields (FILTERED_FIELDS)")
    match = and_(resource_fields.c.resource_id == resources.c.id, resource_fields.c.name == field.name)
    if field.prefix is not None:
        match = and_(match, resource_fields.c.value.startswith(field.prefix, autoescape=True))
    else:
        match = and_(match, resource_fields.c.value.in_(list(field.values)))
    return exists(select(resource_fields.c.resource_id).where(match))


#: Built once: constructing a statement costs more than running it.
_GET = select(resources).where(
    and_(
        resources.c.account_id == bindparam("account_id"),
        resources.c.region == bindparam("region"),
        resources.c.resource_type == bindparam("resource_type"),
        resources.c.name == bindparam("name"),
    )
)
