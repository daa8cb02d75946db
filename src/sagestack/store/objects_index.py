"""The object index: S3 buckets, objects, multipart uploads and parts in the SQL store.

The bytes live elsewhere (``sagestack.objects`` keeps them on disk); each row names its file by a path
relative to the objects directory. Listing is served from here: prefix, start-after and delimiter
roll-up are pushed into ordered SQL range scans (``key >= …`` seeks on the primary key), so a page is
never sliced before it is filtered. Keys compare as UTF-8 bytes, as S3 orders them: SQLite's default
BINARY collation does that, PostgreSQL gets ``COLLATE "C"``.

Rows leave this module as plain dataclasses (``BucketInfo``, ``ObjectInfo``, ``UploadInfo``,
``PartInfo``).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    and_,
    bindparam,
    func,
    select,
)

from .resources import loads as _resource_loads
from .resources import resources as _resources
from .schema import metadata

UTC = dt.timezone.utc

#: S3 keys sort as UTF-8 bytes; PostgreSQL needs the "C" collation for that, SQLite's BINARY does it.
KeyType = String(1024).with_variant(String(1024, collation="C"), "postgresql")

s3_buckets = Table(
    "s3_buckets",
    metadata,
    Column("name", String(63), primary_key=True),
    Column("account_id", String(12), nullable=False),
    Column("region", String(32), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("tags", Text),  # JSON object, NULL when the bucket has no tag set
    Index("ix_s3_buckets_account", "account_id"),
)

s3_objects = Table(
    "s3_objects",
    metadata,
    Column("bucket", String(63), ForeignKey("s3_buckets.name"), primary_key=True),
    Column("key", KeyType, primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("etag", String(64), nullable=False),  # unquoted: md5 hex, or "<md5 of part md5s>-N"
    Column("content_type", String(256), nullable=False),
    Column("metadata", Text, nullable=False),  # JSON: user metadata (x-amz-meta-*)
    Column("headers", Text, nullable=False),  # JSON: stored system headers (Content-Encoding, …)
    Column("checksums", Text, nullable=False),  # JSON: {"crc32": b64, …} and "type"
    Column("sse", Text, nullable=False),  # JSON: {"ServerSideEncryption": …, "SSEKMSKeyId": …}
    Column("tags", Text, nullable=False),  # JSON object
    Column("parts", Text),  # JSON list of part sizes for multipart objects
    Column("last_modified", Float, nullable=False),
    Column("storage_path", String(512), nullable=False),
)

s3_uploads = Table(
    "s3_uploads",
    metadata,
    Column("upload_id", String(128), primary_key=True),
    Column("bucket", String(63), ForeignKey("s3_buckets.name"), nullable=False),
    Column("key", KeyType, nullable=False),
    Column("account_id", String(12), nullable=False),
    Column("initiated", Float, nullable=False),
    Column("content_type", String(256), nullable=False),
    Column("metadata", Text, nullable=False),
    Column("headers", Text, nullable=False),
    Column("sse", Text, nullable=False),
    Column("tags", Text, nullable=False),
    Column("checksum_algorithm", String(16)),
    Column("checksum_type", String(16)),
    Index("ix_s3_uploads_bucket_key", "bucket", "key", "initiated"),
)

s3_parts = Table(
    "s3_parts",
    metadata,
    Column("upload_id", String(128), ForeignKey("s3_uploads.upload_id"), primary_key=True),
    Column("part_number", Integer, primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("etag", String(64), nullable=False),
    Column("checksums", Text, nullable=False),
    Column("last_modified", Float, nullable=False),
    Column("storage_path", String(512), nullable=False),
)


# -- domain objects ---------------------------------------------------------------------------


def _time(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, UTC)


@dataclass(frozen=True)
class BucketInfo:
    name: str
    account_id: str
    region: str
    created: dt.datetime
    tags: dict[str, str] | None = None


@dataclass(frozen=True)
class ObjectInfo:
    """One stored object. ``etag`` is unquoted; ``quoted_etag`` is what S3 puts on the wire."""

    bucket: str
    key: str
    size: int
    etag: str
    content_type: str
    last_modified: dt.datetime
    storage_path: str  # relative to the objects directory
    metadata: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)  # CacheControl, ContentEncoding, …
    checksums: dict[str, str] = field(default_factory=dict)  # algorithm (lower case) → base64
    checksum_type: str | None = None  # FULL_OBJECT | COMPOSITE
    sse: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    parts: list[int] | None = None  # part sizes, multipart objects only
    #: Envelope of an object stored encrypted (``objects.encryption``); kept in the sse column's JSON.
    encryption: dict[str, Any] | None = None

    @property
    def quoted_etag(self) -> str:
        return f'"{self.etag}"'


@dataclass(frozen=True)
class UploadInfo:
    upload_id: str
    bucket: str
    key: str
    account_id: str
    initiated: dt.datetime
    content_type: str
    metadata: dict[str, str]
    headers: dict[str, str]
    sse: dict[str, Any]
    tags: dict[str, str]
    checksum_algorithm: str | None
    checksum_type: str | None
    encryption: dict[str, Any] | None = None  # the parts' envelope (kept in the sse column's JSON)


@dataclass(frozen=True)
class PartInfo:
    part_number: int
    size: int
    etag: str
    checksums: dict[str, str]
    last_modified: dt.datetime
    storage_path: str


@dataclass(frozen=True)
class ListPage:
    """One page of a listing: entries in key order, ``last`` the marker to resume after."""

    objects: list[ObjectInfo]
    prefixes: list[str]
    truncated: bool
    last: str | None


@dataclass(frozen=True)
class UploadPage:
    """One page of ListMultipartUploads: uploads in (key, initiation) order and common prefixes; when
    truncated, the markers to resume after (``next_upload_id`` None when a common prefix ends the page)."""

    uploads: list[UploadInfo]
    prefixes: list[str]
    truncated: bool
    next_key: str | None
    next_upload_id: str | None


class IndexConflict(Exception):
    """A write refused by a condition checked inside its transaction (``reason`` says which)."""

    def __init__(self, reason: str, detail: Any = None):
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


class _SqlAlchemyTx:
    """``RawTransaction``'s two methods on a SQLAlchemy connection (a write inside a larger one)."""

    def __init__(self, conn):
        self._conn = conn

    def execute(self, statement, params: dict) -> None:
        self._conn.execute(statement, params)

    def first(self, statement, params: dict):
        return self._conn.execute(statement, params).first()


@dataclass(frozen=True)
class ConfigKey:
    """Names one row of the generic resources table that a write depends on (a bucket's default
    encryption)."""

    account_id: str
    region: str
    resource_type: str
    name: str

    def params(self) -> dict[str, str]:
        return {
            "c_account": self.account_id,
            "c_region": self.region,
            "c_type": self.resource_type,
            "c_name": self.name,
        }


def successor(text: str) -> str | None:
    """The smallest string greater than every string starting with ``text`` (None: no bound)."""
    chars = list(text)
    while chars:
        code = ord(chars[-1]) + 1
        if code == 0xD800:
            code = 0xE000  # surrogates cannot be stored
        if code <= 0x10FFFF:
            chars[-1] = chr(code)
            return "".join(chars)
        chars.pop()
    return None


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


ENVELOPE = "__envelope__"  # the sse JSON member holding the encryption envelope


def _sse_dumps(sse: dict, encryption: dict | None) -> str:
    return _dumps({**sse, ENVELOPE: encryption} if encryption else sse)


def _sse_loads(text: str) -> tuple[dict, dict | None]:
    sse = json.loads(text)
    return sse, sse.pop(ENVELOPE, None)


def _object(row) -> ObjectInfo:
    checksums = json.loads(row["checksums"])
    kind = checksums.pop("type", None)
    sse, encryption = _sse_loads(row["sse"])
    return ObjectInfo(
        bucket=row["bucket"],
        key=row["key"],
        size=row["size"],
        etag=row["etag"],
        content_type=row["content_type"],
        last_modified=_time(row["last_modified"]),
        storage_path=row["storage_path"],
        metadata=json.loads(row["metadata"]),
        headers=json.loads(row["headers"]),
        checksums=checksums,
        checksum_type=kind,
        sse=sse,
        tags=json.loads(row["tags"]),
        parts=json.loads(row["parts"]) if row["parts"] else None,
        encryption=encryption,
    )


# The hot statements (every PutObject), built once: parameters go apart from the statement, so each
# call reuses one cached compiled form instead of building and cache-keying a new statement.
_GET_BUCKET = select(s3_buckets).where(s3_buckets.c.name == bindparam("w_name"))
_BUCKET_EXISTS = select(s3_buckets.c.name).where(s3_buckets.c.name == bindparam("w_name"))


def _write_check_statement(with_config: bool):
    """The bucket's owner and the key's current row (its file and ETag) in one query — and, with
    ``with_config``, one resources row's data (the configuration the write was planned against)."""
    o = s3_objects.alias("o")
    columns = [s3_buckets.c.account_id, o.c.storage_path, o.c.etag]
    if with_config:
        r = _resources.c
        columns.append(
            select(r.data)
            .where(r.account_id == bindparam("c_account"))
            .where(r.region == bindparam("c_region"))
            .where(r.resource_type == bindparam("c_type"))
            .where(r.name == bindparam("c_name"))
            .scalar_subquery()
            .label("config")
        )
    return (
        select(*columns)
        .select_from(
            s3_buckets.outerjoin(o, and_(o.c.bucket == s3_buckets.c.name, o.c.key == bindparam("w_key")))
        )
        .where(s3_buckets.c.name == bindparam("w_bucket"))
    )


_WRITE_CHECK = _write_check_statement(False)
_WRITE_CHECK_CONFIG = _write_check_statement(True)
_CONFIG_DATA = select(_resources.c.data).where(
    and_(
        _resources.c.account_id == bindparam("c_account"),
        _resources.c.region == bindparam("c_region"),
        _resources.c.resource_type == bindparam("c_type"),
        _resources.c.name == bindparam("c_name"),
    )
)
#: How many configuration rows an index remembers (``ObjectIndex.config``) before starting over.
CONFIG_MEMORY = 4096
_INSERT_OBJECT = s3_objects.insert()
_UPDATE_OBJECT = (
    s3_objects.update()
    .where(s3_objects.c.bucket == bindparam("w_bucket"))
    .where(s3_objects.c.key == bindparam("w_key"))
)


def _object_row(info: ObjectInfo) -> dict:
    checksums = dict(info.checksums)
    if info.checksum_type:
        checksums["type"] = info.checksum_type
    return {
        "bucket": info.bucket,
        "key": info.key,
        "size": info.size,
        "etag": info.etag,
        "content_type": info.content_type,
        "metadata": _dumps(info.metadata),
        "headers": _dumps(info.headers),
        "checksums": _dumps(checksums),
        "sse": _sse_dumps(info.sse, info.encryption),
        "tags": _dumps(info.tags),
        "parts": _dumps(info.parts) if info.parts else None,
        "last_modified": info.last_modified.timestamp(),
        "storage_path": info.storage_path,
    }


def _upload(row) -> UploadInfo:
    sse, encryption = _sse_loads(row["sse"])
    return UploadInfo(
        upload_id=row["upload_id"],
        bucket=row["bucket"],
        key=row["key"],
        account_id=row["account_id"],
        initiated=_time(row["initiated"]),
        content_type=row["content_type"],
        metadata=json.loads(row["metadata"]),
        headers=json.loads(row["headers"]),
        sse=sse,
        tags=json.loads(row["tags"]),
        checksum_algorithm=row["checksum_algorithm"],
        checksum_type=row["checksum_type"],
        encryption=encryption,
    )


def _part(row) -> PartInfo:
    return PartInfo(
        part_number=row["part_number"],
        size=row["size"],
        etag=row["etag"],
        checksums=json.loads(row["checksums"]),
        last_modified=_time(row["last_modified"]),
        storage_path=row["storage_path"],
    )


class ObjectIndex:
    """SQL access for buckets, objects and multipart uploads. Writes that replace or remove a file
    return the storage paths that are no longer referenced, for the caller to delete after commit."""

    def __init__(self, db):
        self.db = db
        # the last data seen of configuration rows (a bucket's default encryption) read by ``config``
        # or checked by a write: a guess to plan the next write with, never trusted — each write that
        # relies on it checks it again in its own transaction (``put_object(config=...)``)
        self._configs: dict[ConfigKey, dict | None] = {}

    # -- configuration rows a write depends on ------------------------------------------------

    def config(self, key: ConfigKey, *, fresh: bool = False) -> dict | None:
        """The data of the resources row ``key`` (None: no such row), as last seen by this index;
        read from the store when not seen yet or when ``fresh``. A write planned from it passes
        ``config=(key, data)`` to ``put_object``, which refuses it if the row changed since."""
        if not fresh and key in self._configs:
            return self._configs[key]
        with self.db.connect() as conn:
            text = conn.execute(_CONFIG_DATA, key.params()).scalar()
        return self._remember(key, _resource_loads(text) if text is not None else None)

    def _remember(self, key: ConfigKey, data: dict | None) -> dict | None:
        if len(self._configs) >= CONFIG_MEMORY:
            self._configs.clear()
        self._configs[key] = data
        return data

    # -- buckets ----------------------------------------------------------------------------

    def create_bucket(self, name: str, account_id: str, region: str) -> BucketInfo:
        """Insert a bucket; raises ``IndexConflict("exists", BucketInfo)`` when the name is taken."""
        now = dt.datetime.now(UTC).timestamp()
        with self.db.begin() as conn:
            row = conn.execute(select(s3_buckets).where(s3_buckets.c.name == name)).mappings().first()
            if row is not None:
                raise IndexConflict("exists", self._bucket(row))
            conn.execute(
                s3_buckets.insert().values(name=name, account_id=account_id, region=region, created_at=now)
            )
        return BucketInfo(name, account_id, region, _time(now))

    @staticmethod
    def _bucket(row) -> BucketInfo:
        return BucketInfo(
            row["name"],
            row["account_id"],
            row["region"],
            _time(row["created_at"]),
            json.loads(row["tags"]) if row["tags"] else None,
        )

    def get_bucket(self, name: str) -> BucketInfo | None:
        with self.db.connect() as conn:
            row = conn.execute(_GET_BUCKET, {"w_name": name}).mappings().first()
        return self._bucket(row) if row else None

    def list_buckets(
        self, account_id: str, prefix: str = "", after: str | None = None, limit: int | None = None
    ) -> list[BucketInfo]:
        query = select(s3_buckets).where(s3_buckets.c.account_id == account_id)
        if prefix:
            query = query.where(s3_buckets.c.name.startswith(prefix, autoescape=True))
        if after:
            query = query.where(s3_buckets.c.name > after)
        query = query.order_by(s3_buckets.c.name)
        if limit:
            query = query.limit(limit)
        with self.db.connect() as conn:
            return [self._bucket(r) for r in conn.execute(query).mappings()]

    def delete_bucket(self, name: str) -> None:
        """Raises ``IndexConflict("not_empty")`` while objects or uploads remain, ``("missing")``."""
        with self.db.begin() as conn:
            if conn.execute(select(s3_buckets.c.name).where(s3_buckets.c.name == name)).first() is None:
                raise IndexConflict("missing")
            for table in (s3_objects, s3_uploads):
                if conn.execute(select(table.c.bucket).where(table.c.bucket == name).limit(1)).first():
                    raise IndexConflict("not_empty")
            conn.execute(s3_buckets.delete().where(s3_buckets.c.name == name))

    def set_bucket_tags(self, name: str, tags: dict[str, str] | None) -> bool:
        with self.db.begin() as conn:
            result = conn.execute(
                s3_buckets.update()
                .where(s3_buckets.c.name == name)
                .values(tags=_dumps(tags) if tags is not None else None)
            )
        return bool(result.rowcount)

    # -- objects ----------------------------------------------------------------------------

    def get_object(self, bucket: str, key: str) -> ObjectInfo | None:
        with self.db.connect() as conn:
            row = (
                conn.execute(
                    select(s3_objects).where(s3_objects.c.bucket == bucket).where(s3_objects.c.key == key)
                )
                .mappings()
                .first()
            )
        return _object(row) if row else None

    def lookup(self, bucket: str, key: str) -> tuple[BucketInfo | None, ObjectInfo | None]:
        """The bucket and the object in one query (a bucket LEFT JOIN its object row)."""
        with self.db.connect() as conn:
            row = conn.execute(_LOOKUP, {"bucket": bucket, "key": key}).mappings().first()
        if row is None:
            return None, None
        info = BucketInfo(
            row["b_name"],
            row["b_account"],
            row["b_region"],
            _time(row["b_created"]),
            json.loads(row["b_tags"]) if row["b_tags"] else None,
        )
        return info, (_object(row) if row["key"] is not None else None)

    def _write_object(
        self,
        tx,
        info: ObjectInfo,
        if_match: str | None,
        if_none_match: bool,
        owners: tuple[str, ...] = (),
        config: tuple[ConfigKey, dict | None] | None = None,
    ) -> str | None:
        """``tx``: a ``RawTransaction`` or a SQLAlchemy connection (``_SqlAlchemyTx``)."""
        params = {"w_bucket": info.bucket, "w_key": info.key}
        if config is not None:
            params.update(config[0].params())
        found = tx.first(_WRITE_CHECK_CONFIG if config is not None else _WRITE_CHECK, params)
        if found is None:
            raise IndexConflict("no_bucket")
        account_id, old_path, old_etag = found[0], found[1], found[2]
        if any(owner != account_id for owner in owners):
            raise IndexConflict("not_owner")
        if config is not None:
            current = _resource_loads(found[3]) if found[3] is not None else None
            if current != config[1]:
                self._remember(config[0], current)
                raise IndexConflict("config", current)
        exists = old_path is not None
        if if_none_match and exists:
            raise IndexConflict("exists")
        if if_match is not None:
            if not exists:
                raise IndexConflict("missing")
            if if_match not in ("*", old_etag):
                raise IndexConflict("etag")
        row = _object_row(info)
        if not exists:
            tx.execute(_INSERT_OBJECT, row)
            return None
        row["w_bucket"], row["w_key"] = info.bucket, info.key
        tx.execute(_UPDATE_OBJECT, row)
        return old_path if old_path != info.storage_path else None

    def put_object(
        self,
        info: ObjectInfo,
        *,
        if_match: str | None = None,
        if_none_match: bool = False,
        owners: tuple[str, ...] = (),
        config: tuple[ConfigKey, dict | None] | None = None,
    ) -> str | None:
        """Insert or replace an object row; return the replaced row's storage path (or None).

        Raises ``IndexConflict`` with reason ``no_bucket``, ``not_owner`` (the bucket's account is not
        every one of ``owners``: the ownership check done in the same transaction as the write),
        ``exists`` (``if_none_match``), ``missing`` or ``etag`` (``if_match``, unquoted ETag or ``*``),
        ``config`` (``config=(key, data)``: the write was planned against that resources row's data and
        the row now holds something else, the conflict's detail). One transaction of two statements
        on the DBAPI cursor (every small PutObject comes here)."""
        with self.db.raw_begin() as tx:
            return self._write_object(tx, info, if_match, if_none_match, owners, config)

    def put_objects(self, infos: list[ObjectInfo]) -> list[str]:
        """Insert or replace many object rows in one transaction; return the replaced storage paths."""
        if not infos:
            return []
        c = s3_objects.c
        with self.db.begin() as conn:
            buckets = {info.bucket for info in infos}
            found = {
                r[0] for r in conn.execute(select(s3_buckets.c.name).where(s3_buckets.c.name.in_(buckets)))
            }
            if found != buckets:
                raise IndexConflict("no_bucket")
            existing: dict[tuple[str, str], str] = {}
            for bucket in buckets:
                keys = [info.key for info in infos if info.bucket == bucket]
                for start in range(0, len(keys), 500):
                    rows = conn.execute(
                        select(c.key, c.storage_path)
                        .where(c.bucket == bucket)
                        .where(c.key.in_(keys[start : start + 500]))
                    )
                    existing.update({(bucket, key): path for key, path in rows})
            fresh = [_object_row(i) for i in infos if (i.bucket, i.key) not in existing]
            if fresh:
                conn.execute(s3_objects.insert(), fresh)
            for info in infos:
                if (info.bucket, info.key) in existing:
                    conn.execute(
                        s3_objects.update()
                        .where(c.bucket == info.bucket)
                        .where(c.key == info.key)
                        .values(**_object_row(info))
                    )
        return [path for (bucket, key), path in existing.items()]

    def update_object_tags(self, bucket: str, key: str, tags: dict[str, str]) -> bool:
        with self.db.begin() as conn:
            result = conn.execute(
                s3_objects.update()
                .where(s3_objects.c.bucket == bucket)
                .where(s3_objects.c.key == key)
                .values(tags=_dumps(tags))
            )
        return bool(result.rowcount)

    def delete_objects(self, bucket: str, keys: list[str]) -> list[str]:
        """Delete rows; return the storage paths of those that existed."""
        paths: list[str] = []
        with self.db.begin() as conn:
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                where = and_(s3_objects.c.bucket == bucket, s3_objects.c.key.in_(chunk))
                paths += [r[0] for r in conn.execute(select(s3_objects.c.storage_path).where(where))]
                conn.execute(s3_objects.delete().where(where))
        return paths

    def count_objects(self, bucket: str) -> int:
        with self.db.connect() as conn:
            return conn.execute(
                select(func.count()).select_from(s3_objects).where(s3_objects.c.bucket == bucket)
            ).scalar_one()

    def referenced(self, storage_paths: list[str]) -> set[str]:
        """Which of these storage paths some object or part row still names (hard-linked copies)."""
        if not storage_paths:
            return set()
        with self.db.connect() as conn:
            found = {
                r[0]
                for r in conn.execute(
                    select(s3_objects.c.storage_path).where(s3_objects.c.storage_path.in_(storage_paths))
                )
            }
            found |= {
                r[0]
                for r in conn.execute(
                    select(s3_parts.c.storage_path).where(s3_parts.c.storage_path.in_(storage_paths))
                )
            }
        return found

    def list_page(
        self,
        bucket: str,
        prefix: str = "",
        delimiter: str | None = None,
        after: str | None = None,
        max_keys: int = 1000,
    ) -> ListPage:
        """Objects and common prefixes after ``after`` (exclusive), in key order, at most ``max_keys``.

        With a delimiter, each run of keys sharing a common prefix is skipped by seeking past it.
        """
        delimiter = delimiter or None
        upper = successor(prefix) if prefix else None
        start, inclusive = prefix, True
        if after is not None and after >= prefix:
            start, inclusive = after, False
            if delimiter and after.startswith(prefix):
                cut = after.find(delimiter, len(prefix))
                if cut >= 0:  # ``after`` sits inside a common prefix already returned: skip the rest
                    nxt = successor(after[: cut + len(delimiter)])
                    if nxt is None:
                        return ListPage([], [], False, None)
                    start, inclusive = nxt, True
        objects: list[ObjectInfo] = []
        prefixes: list[str] = []
        count, last, last_prefix = 0, None, None
        batch = min(max(max_keys + 1, 64), 1000)
        c = s3_objects.c
        with self.db.connect() as conn:
            while True:
                query = select(s3_objects).where(c.bucket == bucket)
                query = query.where(c.key >= start if inclusive else c.key > start)
                if upper is not None:
                    query = query.where(c.key < upper)
                rows = conn.execute(query.order_by(c.key).limit(batch)).mappings().all()
                for row in rows:
                    key = row["key"]
                    if not key.startswith(prefix):
                        continue
                    if delimiter:
                        cut = key.find(delimiter, len(prefix))
                        if cut >= 0:
                            common = key[: cut + len(delimiter)]
                            if common == last_prefix:
                                continue
                            if count >= max_keys:
                                return ListPage(objects, prefixes, True, last)
                            prefixes.append(common)
                            count, last, last_prefix = count + 1, common, common
                            continue
                    if count >= max_keys:
                        return ListPage(objects, prefixes, True, last)
                    objects.append(_object(row))
                    count, last = count + 1, key
                if len(rows) < batch:
                    return ListPage(objects, prefixes, False, last)
                tail = rows[-1]["key"]
                if last_prefix is not None and tail.startswith(last_prefix):
                    nxt = successor(last_prefix)
                    if nxt is None:
                        return ListPage(objects, prefixes, False, last)
                    start, inclusive = nxt, True
                else:
                    start, inclusive = tail, False

    def iter_objects(self, bucket: str, prefix: str = "", batch: int = 1000) -> Iterator[ObjectInfo]:
        after: str | None = None
        while True:
            page = self.list_page(bucket, prefix, None, after, batch)
            yield from page.objects
            if not page.truncated:
                return
            after = page.last

    # -- multipart uploads ------------------------------------------------------------------

    def create_upload(self, upload: UploadInfo) -> None:
        with self.db.begin() as conn:
            if (
                conn.execute(select(s3_buckets.c.name).where(s3_buckets.c.name == upload.bucket)).first()
                is None
            ):
                raise IndexConflict("no_bucket")
            conn.execute(
                s3_uploads.insert().values(
                    upload_id=upload.upload_id,
                    bucket=upload.bucket,
                    key=upload.key,
                    account_id=upload.account_id,
                    initiated=upload.initiated.timestamp(),
                    content_type=upload.content_type,
                    metadata=_dumps(upload.metadata),
                    headers=_dumps(upload.headers),
                    sse=_sse_dumps(upload.sse, upload.encryption),
                    tags=_dumps(upload.tags),
                    checksum_algorithm=upload.checksum_algorithm,
                    checksum_type=upload.checksum_type,
                )
            )

    def get_upload(self, upload_id: str) -> UploadInfo | None:
        with self.db.connect() as conn:
            row = (
                conn.execute(select(s3_uploads).where(s3_uploads.c.upload_id == upload_id)).mappings().first()
            )
        return _upload(row) if row else None

    def put_part(self, upload_id: str, part: PartInfo) -> str | None:
        """Record a part (replacing one with the same number); return the replaced file's path.
        Raises ``IndexConflict("no_upload")`` when the upload was completed or aborted meanwhile."""
        row = {
            "size": part.size,
            "etag": part.etag,
            "checksums": _dumps(part.checksums),
            "last_modified": part.last_modified.timestamp(),
            "storage_path": part.storage_path,
        }
        c = s3_parts.c
        with self.db.begin() as conn:
            if (
                conn.execute(
                    select(s3_uploads.c.upload_id).where(s3_uploads.c.upload_id == upload_id)
                ).first()
                is None
            ):
                raise IndexConflict("no_upload")
            old = conn.execute(
                select(c.storage_path)
                .where(c.upload_id == upload_id)
                .where(c.part_number == part.part_number)
            ).first()
            if old is None:
                conn.execute(
                    s3_parts.insert().values(upload_id=upload_id, part_number=part.part_number, **row)
                )
                return None
            conn.execute(
                s3_parts.update()
                .where(c.upload_id == upload_id)
                .where(c.part_number == part.part_number)
                .values(**row)
            )
            return old[0]

    def list_parts(self, upload_id: str, after: int = 0, limit: int | None = None) -> list[PartInfo]:
        c = s3_parts.c
        query = (
            select(s3_parts)
            .where(c.upload_id == upload_id)
            .where(c.part_number > after)
            .order_by(c.part_number)
        )
        if limit is not None:
            query = query.limit(limit)
        with self.db.connect() as conn:
            return [_part(r) for r in conn.execute(query).mappings()]

    def complete_upload(
        self, upload_id: str, info: ObjectInfo, *, if_match: str | None = None, if_none_match: bool = False
    ) -> list[str]:
        """Publish the object and drop the upload in one transaction; return the storage paths no
        longer referenced (every part file and the replaced object's file)."""
        with self.db.begin() as conn:
            if (
                conn.execute(
                    select(s3_uploads.c.upload_id).where(s3_uploads.c.upload_id == upload_id)
                ).first()
                is None
            ):
                raise IndexConflict("no_upload")
            old = self._write_object(_SqlAlchemyTx(conn), info, if_match, if_none_match)
            paths = [
                r[0]
                for r in conn.execute(
                    select(s3_parts.c.storage_path).where(s3_parts.c.upload_id == upload_id)
                )
            ]
            conn.execute(s3_parts.delete().where(s3_parts.c.upload_id == upload_id))
            conn.execute(s3_uploads.delete().where(s3_uploads.c.upload_id == upload_id))
        return paths + ([old] if old else [])

    def abort_upload(self, upload_id: str) -> list[str] | None:
        """Drop an upload and its parts; return the part files' paths (None: no such upload)."""
        with self.db.begin() as conn:
            if (
                conn.execute(
                    select(s3_uploads.c.upload_id).where(s3_uploads.c.upload_id == upload_id)
                ).first()
                is None
            ):
                return None
            paths = [
                r[0]
                for r in conn.execute(
                    select(s3_parts.c.storage_path).where(s3_parts.c.upload_id == upload_id)
                )
            ]
            conn.execute(s3_parts.delete().where(s3_parts.c.upload_id == upload_id))
            conn.execute(s3_uploads.delete().where(s3_uploads.c.upload_id == upload_id))
        return paths

    def list_uploads(
        self,
        bucket: str,
        prefix: str = "",
        delimiter: str | None = None,
        key_marker: str | None = None,
        upload_id_marker: str | None = None,
        max_uploads: int = 1000,
    ) -> UploadPage:
        """Uploads after the markers, in (key, initiation) order, at most ``max_uploads`` entries (uploads
        and common prefixes together). As ``list_page`` does for objects, each run of keys under one common
        prefix is skipped by seeking past it, so a page is cut only after the roll-up."""
        delimiter = delimiter or None
        c = s3_uploads.c
        order = (c.key, c.initiated, c.upload_id)
        upper = successor(prefix) if prefix else None
        start = c.key >= prefix  # where the next batch starts
        if key_marker:
            start = c.key > key_marker
            cut = (
                key_marker.find(delimiter, len(prefix)) if delimiter and key_marker.startswith(prefix) else -1
            )
            if cut >= 0:  # the marker is a common prefix already returned: skip the rest of it
                nxt = successor(key_marker[: cut + len(delimiter)])
                if nxt is None:
                    return UploadPage([], [], False, None, None)
                start = c.key >= nxt
            elif upload_id_marker:
                with self.db.connect() as conn:  # the stored float: a datetime would round it
                    initiated = conn.execute(
                        select(c.initiated).where(c.upload_id == upload_id_marker, c.key == key_marker)
                    ).scalar()
                if initiated is not None:
                    start = _after(order, (key_marker, initiated, upload_id_marker))
        uploads: list[UploadInfo] = []
        prefixes: list[str] = []
        last: UploadInfo | str | None = None
        batch = min(max(max_uploads + 1, 64), 1000)
        with self.db.connect() as conn:
            while True:
                query = select(s3_uploads).where(c.bucket == bucket, start)
                if prefix:
                    query = query.where(c.key >= prefix)
                if upper is not None:
                    query = query.where(c.key < upper)
                rows = conn.execute(query.order_by(*order).limit(batch)).mappings().all()
                seek = None
                for row in rows:
                    if len(uploads) + len(prefixes) >= max_uploads:
                        if last is None or isinstance(last, str):  # (None: MaxUploads=0)
                            return UploadPage(uploads, prefixes, True, last, None)
                        return UploadPage(uploads, prefixes, True, last.key, last.upload_id)
                    cut = row["key"].find(delimiter, len(prefix)) if delimiter else -1
                    if cut >= 0:
                        last = row["key"][: cut + len(delimiter)]
                        prefixes.append(last)
                        seek = successor(last)
                        break  # go on after everything under that common prefix
                    last = _upload(row)
                    uploads.append(last)
                else:
                    if len(rows) < batch:
                        return UploadPage(uploads, prefixes, False, None, None)
                    tail = rows[-1]
                    start = _after(order, (tail["key"], tail["initiated"], tail["upload_id"]))
                    continue
                if seek is None:
                    return UploadPage(uploads, prefixes, False, None, None)
                start = c.key >= seek


def _after(columns, values):
    """Rows after ``values`` in the order of ``columns`` (a keyset condition every dialect runs)."""
    (column, value), rest = (columns[0], values[0]), (columns[1:], values[1:])
    if not rest[0]:
        return column > value
    return (column > value) | and_(column == value, _after(*rest))


def _lookup_statement():
    o = s3_objects.alias("o")
    return (
        select(
            s3_buckets.c.name.label("b_name"),
            s3_buckets.c.account_id.label("b_account"),
            s3_buckets.c.region.label("b_region"),
            s3_buckets.c.created_at.label("b_created"),
            s3_buckets.c.tags.label("b_tags"),
            *o.c,
        )
        .select_from(
            s3_buckets.outerjoin(o, and_(o.c.bucket == s3_buckets.c.name, o.c.key == bindparam("key")))
        )
        .where(s3_buckets.c.name == bindparam("bucket"))
    )


#: Built once (statement construction costs more than the query itself); immutable.
_LOOKUP = _lookup_statement()
