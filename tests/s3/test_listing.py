"""Listing: 2,500 keys across pages with a delimiter, V1 markers, start-after, encoding-type=url."""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor

import botocore.exceptions
import pytest

# 25 "directories" of 96 keys each plus 100 top-level keys: 2,500 keys in all
KEYS = sorted(
    [f"dir{d:02d}/part-{i:04d}.csv" for d in range(25) for i in range(96)]
    + [f"top-{i:04d}.txt" for i in range(100)]
)


@pytest.fixture(scope="module")
def listed(server, tmp_path_factory):
    import uuid

    s3 = server.client("s3")
    name = f"list-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    # seed through the object layer's bulk import (2,500 HTTP PUTs would dominate the suite's time),
    # into the running server's store; a few keys also go through the API
    from sagestack.objects import ObjectStore
    from sagestack.store.db import Database
    from sagestack.store.objects_index import ObjectIndex

    directory = tmp_path_factory.mktemp("tree")
    for key in KEYS[5:]:
        path = directory / key
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(key.encode())
    db = Database(server.database_url or f"sqlite:///{server.data_dir / 'metadata.db'}")
    store = ObjectStore(server.data_dir / "objects", ObjectIndex(db))
    assert len(store.put_tree("000000000000", name, "", directory)) == len(KEYS) - 5
    shutil.rmtree(store.tmp_dir, ignore_errors=True)
    db.dispose()
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda key: s3.put_object(Bucket=name, Key=key, Body=key.encode()), KEYS[:5]))
    return name


def test_2500_keys_paged_without_delimiter(s3, listed):
    seen, token, pages = [], None, 0
    while True:
        kwargs = {"ContinuationToken": token} if token else {}
        page = s3.list_objects_v2(Bucket=listed, MaxKeys=1000, **kwargs)
        pages += 1
        seen += [o["Key"] for o in page["Contents"]]
        assert page["KeyCount"] == len(page["Contents"])
        if not page["IsTruncated"]:
            assert "NextContinuationToken" not in page
            break
        token = page["NextContinuationToken"]
    assert pages == 3 and seen == KEYS
    sizes = {o["Key"]: o["Size"] for o in s3.list_objects_v2(Bucket=listed, Prefix="top-00")["Contents"]}
    assert sizes["top-0001.txt"] == len("top-0001.txt")


def test_delimiter_rollup_across_small_pages(s3, listed):
    prefixes, keys, token, pages = [], [], None, 0
    while True:
        kwargs = {"ContinuationToken": token} if token else {}
        page = s3.list_objects_v2(Bucket=listed, Delimiter="/", MaxKeys=7, **kwargs)
        pages += 1
        prefixes += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
        keys += [o["Key"] for o in page.get("Contents", [])]
        assert page["KeyCount"] <= 7
        if not page["IsTruncated"]:
            break
        assert page["KeyCount"] == 7  # pages are full until the last one
        token = page["NextContinuationToken"]
    assert prefixes == [f"dir{d:02d}/" for d in range(25)]
    assert keys == [k for k in KEYS if "/" not in k]
    assert pages == -(-125 // 7)


def test_paginator_prefix_and_delimiter(s3, listed):
    paginator = s3.get_paginator("list_objects_v2")
    keys = [
        o["Key"]
        for page in paginator.paginate(
            Bucket=listed, Prefix="dir03/", Delimiter="/", PaginationConfig={"PageSize": 10}
        )
        for o in page["Contents"]
    ]
    assert keys == [k for k in KEYS if k.startswith("dir03/")]
    page = s3.list_objects_v2(Bucket=listed, Prefix="dir", Delimiter="-")
    assert [p["Prefix"] for p in page["CommonPrefixes"]] == [f"dir{d:02d}/part-" for d in range(25)]
    assert s3.list_objects_v2(Bucket=listed, Prefix="nothing/")["KeyCount"] == 0


def test_start_after_and_v1_marker(s3, listed):
    page = s3.list_objects_v2(Bucket=listed, StartAfter="dir24/part-0093.csv", MaxKeys=5)
    assert [o["Key"] for o in page["Contents"]] == KEYS[KEYS.index("dir24/part-0093.csv") + 1 :][:5]
    page = s3.list_objects_v2(Bucket=listed, StartAfter="dir05/part-0000.csv", Delimiter="/", MaxKeys=2)
    assert [p["Prefix"] for p in page["CommonPrefixes"]] == ["dir06/", "dir07/"]
    # V1: marker / NextMarker with a delimiter, and the paginator without
    page = s3.list_objects(Bucket=listed, Delimiter="/", MaxKeys=30)
    assert page["IsTruncated"] and page["NextMarker"] == "top-0004.txt"
    page2 = s3.list_objects(Bucket=listed, Delimiter="/", Marker=page["NextMarker"], MaxKeys=1000)
    assert page2["Contents"][0]["Key"] == "top-0005.txt" and not page2["IsTruncated"]
    assert page["Contents"][0]["Owner"]["ID"]
    keys = [
        o["Key"]
        for p in s3.get_paginator("list_objects").paginate(Bucket=listed, PaginationConfig={"PageSize": 900})
        for o in p["Contents"]
    ]
    assert keys == KEYS


def test_encoding_type_url_and_odd_keys(s3, bucket):
    odd = ["a b/c+d.txt", "ümlaut/ß.bin", "x%2Fy/z", "q?x=1&y=2", "tab\tkey"]
    for key in odd:
        s3.put_object(Bucket=bucket, Key=key, Body=b"1")
    # botocore asks for encoding-type=url itself and decodes the answer
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert listed == sorted(odd, key=lambda k: k.encode())
    page = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in page["CommonPrefixes"]] == ["a b/", "x%2Fy/", "ümlaut/"]
    assert [o["Key"] for o in s3.list_objects(Bucket=bucket, Prefix="ü")["Contents"]] == ["ümlaut/ß.bin"]


def test_listing_errors(s3, bucket):
    with pytest.raises(botocore.exceptions.ClientError) as info:
        s3.list_objects_v2(Bucket=bucket, ContinuationToken="%%%not-a-token")
    assert info.value.response["Error"]["Code"] == "InvalidArgument"
    page = s3.list_objects_v2(Bucket=bucket, MaxKeys=0)
    assert page["KeyCount"] == 0 and page["MaxKeys"] == 0
