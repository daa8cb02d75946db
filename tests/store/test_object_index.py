"""The object index's single-transaction write (bucket owner, old row, the configuration the write was
planned against, insert or update), on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import threading
import uuid

import pytest
from sqlalchemy import select

from sagestack.store.objects_index import ConfigKey, IndexConflict, ObjectIndex, ObjectInfo, s3_objects
from sagestack.store.resources import ResourceStore

ACCOUNT = "111111111111"


def _info(bucket: str, key: str, path: str, etag: str = "e1") -> ObjectInfo:
    return ObjectInfo(
        bucket=bucket,
        key=key,
        size=1,
        etag=etag,
        content_type="binary/octet-stream",
        last_modified=dt.datetime.now(dt.timezone.utc),
        storage_path=path,
    )


def _rows(db, bucket: str) -> list[tuple]:
    with db.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                select(s3_objects.c.key, s3_objects.c.storage_path).where(s3_objects.c.bucket == bucket)
            )
        ]


def test_write_checks_bucket_owner_and_old_row_in_one_transaction(db):
    index = ObjectIndex(db)
    bucket = f"b-{uuid.uuid4().hex[:8]}"
    with pytest.raises(IndexConflict) as missing:
        index.put_object(_info(bucket, "k", "p0"))
    assert missing.value.reason == "no_bucket"
    index.create_bucket(bucket, ACCOUNT, "us-east-1")
    assert index.put_object(_info(bucket, "k", "p1"), owners=(ACCOUNT,)) is None
    with pytest.raises(IndexConflict) as other:
        index.put_object(_info(bucket, "k", "p2"), owners=("222222222222",))
    assert other.value.reason == "not_owner"
    with pytest.raises(IndexConflict) as exists:
        index.put_object(_info(bucket, "k", "p2"), if_none_match=True)
    assert exists.value.reason == "exists"
    with pytest.raises(IndexConflict) as etag:
        index.put_object(_info(bucket, "k", "p2"), if_match="nope")
    assert etag.value.reason == "etag"
    with pytest.raises(IndexConflict) as absent:
        index.put_object(_info(bucket, "other", "p3"), if_match="*")
    assert absent.value.reason == "missing"
    assert _rows(db, bucket) == [("k", "p1")]
    # a replacement returns the file it no longer references
    assert index.put_object(_info(bucket, "k", "p2", "e2"), if_match="e1") == "p1"
    assert _rows(db, bucket) == [("k", "p2")]


def test_write_refused_when_the_configuration_it_was_planned_against_changed(db):
    index, resources = ObjectIndex(db), ResourceStore(db)
    bucket = f"b-{uuid.uuid4().hex[:8]}"
    index.create_bucket(bucket, ACCOUNT, "us-east-1")
    key = ConfigKey(ACCOUNT, "global", "s3-bucket-encryption", bucket)
    assert index.config(key) is None
    assert index.put_object(_info(bucket, "a", "p1"), config=(key, None)) is None
    # the row appears behind the index's back: its remembered sight is stale until a write checks it
    rule = {"Rule": {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}}
    resources.create(ACCOUNT, "global", "s3-bucket-encryption", bucket, f"arn:aws:s3:::{bucket}", rule)
    assert index.config(key) is None
    with pytest.raises(IndexConflict) as changed:
        index.put_object(_info(bucket, "b", "p2"), config=(key, None))
    assert changed.value.reason == "config" and changed.value.detail == rule
    assert _rows(db, bucket) == [("a", "p1")]  # nothing stored
    assert index.config(key) == rule  # the refused write refreshed the sight
    assert index.put_object(_info(bucket, "b", "p2"), config=(key, rule)) is None
    resources.delete(ACCOUNT, "global", "s3-bucket-encryption", bucket)
    assert index.config(key, fresh=True) is None
    assert sorted(_rows(db, bucket)) == [("a", "p1"), ("b", "p2")]


def test_concurrent_writes_each_in_its_own_transaction(db):
    index = ObjectIndex(db)
    bucket = f"b-{uuid.uuid4().hex[:8]}"
    index.create_bucket(bucket, ACCOUNT, "us-east-1")
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(15):
                index.put_object(_info(bucket, f"w{n}/k{i % 5}", f"p{n}-{i}"), owners=(ACCOUNT,))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(_rows(db, bucket)) == sorted(
        (f"w{n}/k{k}", f"p{n}-{10 + k}") for n in range(4) for k in range(5)
    )
