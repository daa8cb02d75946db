"""The metadata store: the same tests on SQLite and on PostgreSQL (when a server is available)."""

from __future__ import annotations

import datetime as dt
import threading

import pytest

from sagestack.store.errors import AlreadyExists, InvalidToken
from sagestack.store.resources import ConcurrentModification, FieldFilter, ListQuery, ResourceStore


def _make(store, name, status="InProgress", when=None, account="111111111111"):
    data = {"Name": name, "CreationTime": when or dt.datetime.now(dt.timezone.utc)}
    return store.create(account, "us-east-1", "training-job", name, f"arn:{name}", data, status=status)


def test_create_get_update_delete(db):
    store = ResourceStore(db)
    created = _make(store, "job-a")
    got = store.get("111111111111", "us-east-1", "training-job", "job-a")
    assert got.data["Name"] == "job-a" and got.status == "InProgress"
    assert isinstance(got.data["CreationTime"], dt.datetime)
    with pytest.raises(AlreadyExists) as info:
        _make(store, "job-a")
    assert (info.value.kind, info.value.name, info.value.arn) == ("training-job", "job-a", "arn:job-a")
    store.update(got, data={**got.data, "Extra": 1}, status="Completed")
    again = store.get("111111111111", "us-east-1", "training-job", "job-a")
    assert again.status == "Completed" and again.data["Extra"] == 1
    assert store.get("222222222222", "us-east-1", "training-job", "job-a") is None  # per account
    assert store.delete("111111111111", "us-east-1", "training-job", "job-a")
    assert not store.delete("111111111111", "us-east-1", "training-job", "job-a")
    assert created.arn == "arn:job-a"


def test_optimistic_concurrency(db):
    store = ResourceStore(db)
    _make(store, "job-b")
    first = store.get("111111111111", "us-east-1", "training-job", "job-b")
    second = store.get("111111111111", "us-east-1", "training-job", "job-b")
    store.update(first, status="Stopping", expect_version=True)
    with pytest.raises(ConcurrentModification):
        store.update(second, status="Completed", expect_version=True)


def test_list_filters_sort_paginate_in_sql(db):
    store = ResourceStore(db)
    base = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    for i in range(25):
        _make(
            store,
            f"model-{i:02d}",
            status="Completed" if i % 2 else "Failed",
            when=base + dt.timedelta(minutes=i),
        )
    _make(store, "other-1", when=base)
    names, token = [], None
    while True:
        items, token = store.list(
            "111111111111",
            "us-east-1",
            "training-job",
            ListQuery(
                name_contains="MODEL",
                status_equals="Completed",
                sort_by="Name",
                sort_order="Ascending",
                max_results=5,
                next_token=token,
            ),
        )
        names += [i.name for i in items]
        assert len(items) == 5 or token is None  # pages are full until the last one
        if not token:
            break
    assert names == [f"model-{i:02d}" for i in range(25) if i % 2]
    items, _ = store.list(
        "111111111111",
        "us-east-1",
        "training-job",
        ListQuery(created_after=base + dt.timedelta(minutes=20), sort_by="CreationTime"),
    )
    assert [i.name for i in items] == [f"model-{i:02d}" for i in range(24, 20, -1)]
    with pytest.raises(InvalidToken):
        store.list("111111111111", "us-east-1", "training-job", ListQuery(next_token="garbage!"))


def test_tags(db):
    store = ResourceStore(db)
    _make(store, "tagged")
    store.add_tags("arn:tagged", [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}])
    store.add_tags("arn:tagged", [{"Key": "a", "Value": "3"}])
    assert store.list_tags("arn:tagged") == [{"Key": "a", "Value": "3"}, {"Key": "b", "Value": "2"}]
    store.delete_tags("arn:tagged", ["a"])
    assert store.list_tags("arn:tagged") == [{"Key": "b", "Value": "2"}]


def test_concurrent_writers(db):
    store = ResourceStore(db)
    errors = []

    def writer(offset):
        try:
            for i in range(20):
                _make(store, f"c-{offset}-{i}")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    items, _ = store.list("111111111111", "us-east-1", "training-job", ListQuery(max_results=1000))
    assert len(items) == 80


def test_field_filters_apply_before_the_page_is_cut(db):
    """Filters on description members (FILTERED_FIELDS) are SQL conditions: full pages, every match."""
    store = ResourceStore(db)
    for i in range(12):
        data = {
            "ServiceNamespace": "sagemaker",
            "ResourceId": f"endpoint/e{i % 3}/variant/v",
            "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
        }
        store.create("111111111111", "us-east-1", "scalable-target", f"t{i:02d}", f"arn:t{i}", data)
    wanted = ("endpoint/e0/variant/v", "endpoint/e2/variant/v")
    names, token = [], None
    while True:
        items, token = store.list(
            "111111111111",
            "us-east-1",
            "scalable-target",
            ListQuery(
                fields=(
                    FieldFilter.equals("ServiceNamespace", "sagemaker"),
                    FieldFilter.any_of("ResourceId", wanted),
                ),
                sort_by="Name",
                sort_order="Ascending",
                max_results=3,
                next_token=token,
            ),
        )
        assert len(items) == 3 or token is None
        names += [i.name for i in items]
        if token is None:
            break
    assert names == [f"t{i:02d}" for i in range(12) if i % 3 in (0, 2)]
    prefixed, _ = store.list(
        "111111111111",
        "us-east-1",
        "scalable-target",
        ListQuery(fields=(FieldFilter.starts_with("ResourceId", "endpoint/e1/"),), max_results=100),
    )
    assert sorted(i.name for i in prefixed) == ["t01", "t04", "t07", "t10"]
    # LIKE wildcards in a prefix are literal
    none, _ = store.list(
        "111111111111",
        "us-east-1",
        "scalable-target",
        ListQuery(fields=(FieldFilter.starts_with("ResourceId", "endpoint/e_"),)),
    )
    assert none == []
    # an update re-indexes the fields; a delete removes them
    moved = store.get("111111111111", "us-east-1", "scalable-target", "t01")
    store.update(moved, data=dict(moved.data, ResourceId="endpoint/e9/variant/v"), expect_version=True)
    found, _ = store.list(
        "111111111111",
        "us-east-1",
        "scalable-target",
        ListQuery(fields=(FieldFilter.equals("ResourceId", "endpoint/e9/variant/v"),)),
    )
    assert [i.name for i in found] == ["t01"]
    assert store.delete("111111111111", "us-east-1", "scalable-target", "t01")
    found, _ = store.list(
        "111111111111",
        "us-east-1",
        "scalable-target",
        ListQuery(fields=(FieldFilter.equals("ResourceId", "endpoint/e9/variant/v"),)),
    )
    assert found == []
    with pytest.raises(ValueError, match="FILTERED_FIELDS"):
        store.list(
            "111111111111", "us-east-1", "training-job", ListQuery(fields=(FieldFilter.equals("X", "y"),))
        )
