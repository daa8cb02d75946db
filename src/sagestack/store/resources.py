"""Generic store for SageMaker-style resources (training jobs, models, endpoints, …) and tags.

Each row: account, region, type, name, arn, status, creation/modification times and the resource's
description as JSON. Lists filter, sort and paginate in SQL.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Column,
    Float,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    bindparam,
    func,
    select,
)

from ..protocol.errors import ServiceError
from .db import decode_token, encode_token
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
class ListQuery:
    name_contains: str | None = None
    status_equals: str | None = None
    created_after: float | None = None
    created_before: float | None = None
    modified_after: float | None = None
    modified_before: float | None = None
    parent: str | None = None
    sort_by: str = "CreationTime"  # "Name" | "CreationTime" | "Status" | "LastModifiedTime"
    sort_order: str = "Descending"
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
        return and_(resources.c.account_id == account_id, resources.c.region == region,
                    resources.c.resource_type == resource_type, resources.c.name == name)

    def create(self, account_id: str, region: str, resource_type: str, name: str, arn: str,
               data: dict, status: str | None = None, parent: str | None = None,
               tag_list: Iterable[dict] | None = None, exists_message: str | None = None) -> Resource:
        now = _ts(data.get("CreationTime")) or dt.datetime.now(dt.timezone.utc).timestamp()
        row = dict(account_id=account_id, region=region, resource_type=resource_type, name=name, arn=arn,
                   status=status, created_at=now, modified_at=now, parent=parent, data=dumps(data),
                   version=1)
        with self.db.begin() as conn:
            found = conn.execute(select(resources.c.id).where(
                self._key(account_id, region, resource_type, name))).first()
            if found:
                raise ServiceError("ValidationException" if exists_message is None else "ResourceInUse",
                                   exists_message or f"Cannot create already existing {resource_type} "
                                   f"\"{arn}\".")
            conn.execute(resources.insert().values(**row))
            for tag in tag_list or ():
                conn.execute(tags.insert().values(arn=arn, key=tag["Key"], value=tag.get("Value", "")))
        row["data"] = data
        return Resource(**row)

    def get(self, account_id: str, region: str, resource_type: str, name: str) -> Resource | None:
        with self.db.connect() as conn:
            row = conn.execute(_GET, {"account_id": account_id, "region": region,
                                      "resource_type": resource_type, "name": name}).mappings().first()
        return Resource.from_row(row) if row else None

    def get_by_arn(self, arn: str) -> Resource | None:
        with self.db.connect() as conn:
            row = conn.execute(select(resources).where(resources.c.arn == arn)).mappings().first()
        return Resource.from_row(row) if row else None

    def update(self, resource: Resource, data: dict | None = None, status: str | None = None,
               expect_version: bool = False) -> Resource:
        """Write back ``data``/``status``; with ``expect_version`` fail if someone else wrote first."""
        now = dt.datetime.now(dt.timezone.utc).timestamp()
        new_data = resource.data if data is None else data
        values = dict(data=dumps(new_data), modified_at=now, version=resource.version + 1)
        if status is not None:
            values["status"] = status
        condition = self._key(resource.account_id, resource.region, resource.resource_type, resource.name)
        if expect_version:
            condition = and_(condition, resources.c.version == resource.version)
        with self.db.begin() as conn:
            result = conn.execute(resources.update().where(condition).values(**values))
        if result.rowcount == 0:
            raise ConcurrentModification(resource.name)
        resource.data = new_data
        resource.status = values.get("status", resource.status)
        resource.modified_at = now
        resource.version += 1
        return resource

    def delete(self, account_id: str, region: str, resource_type: str, name: str) -> bool:
        with self.db.begin() as conn:
            row = conn.execute(select(resources.c.arn).where(
                self._key(account_id, region, resource_type, name))).first()
            if not row:
                return False
            conn.execute(resources.delete().where(self._key(account_id, region, resource_type, name)))
            conn.execute(tags.delete().where(tags.c.arn == row[0]))
        return True

    def list(self, account_id: str, region: str, resource_type: str,
             query: ListQuery = ListQuery()) -> tuple[list[Resource], str | None]:
        condition = and_(resources.c.account_id == account_id, resources.c.region == region,
                         resources.c.resource_type == resource_type)
        if query.name_contains:
            condition = and_(condition, func.lower(resources.c.name).contains(query.name_contains.lower(),
                                                                              autoescape=True))
        if query.status_equals:
            condition = and_(condition, resources.c.status == query.status_equals)
        if query.parent is not None:
            condition = and_(condition, resources.c.parent == query.parent)
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
        descending = query.sort_order != "Ascending"
        order = [column.desc() if descending else column.asc(),
                 resources.c.id.desc() if descending else resources.c.id.asc()]
        offset = decode_token(query.next_token)["o"]
        limit = max(1, min(int(query.max_results or 100), 1000))
        stmt = select(resources).where(condition).order_by(*order).offset(offset).limit(limit + 1)
        with self.db.connect() as conn:
            rows = conn.execute(stmt).mappings().all()
        items = [Resource.from_row(r) for r in rows[:limit]]
        token = encode_token(offset + limit) if len(rows) > limit else None
        return items, token

    def in_states(self, resource_type: str, statuses: Iterable[str]) -> list[Resource]:
        """Every resource of a type in the given states, across accounts (for reconcilers)."""
        with self.db.connect() as conn:
            rows = conn.execute(select(resources).where(and_(
                resources.c.resource_type == resource_type,
                resources.c.status.in_(list(statuses)))).order_by(resources.c.created_at)).mappings().all()
        return [Resource.from_row(r) for r in rows]

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
            rows = conn.execute(select(tags.c.key, tags.c.value).where(tags.c.arn == arn)
                                .order_by(tags.c.key)).all()
        return [{"Key": k, "Value": v} for k, v in rows]

    def arn_exists(self, arn: str) -> bool:
        with self.db.connect() as conn:
            return conn.execute(select(resources.c.id).where(resources.c.arn == arn)).first() is not None


class ConcurrentModification(Exception):
    pass


#: Built once: constructing a statement costs more than running it.
_GET = select(resources).where(and_(
    resources.c.account_id == bindparam("account_id"), resources.c.region == bindparam("region"),
    resources.c.resource_type == bindparam("resource_type"), resources.c.name == bindparam("name")))
