"""The remote object backend (objects/remote.py): a server whose objects' bytes live in a second
sagestack reached through --objects-url; the first keeps S3's semantics (the index is its own)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from sagestack.local_server import ServerProcess

pytestmark = [pytest.mark.slow]


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    remote = ServerProcess(tmp_path_factory.mktemp("remote") / "data").start()
    key, secret = remote.credentials()
    front = ServerProcess(
        tmp_path_factory.mktemp("front") / "data",
        extra_env={
            "SAGESTACK_OBJECTS_URL": f"s3://blobs/front?endpoint_url={remote.url}",
            "SAGESTACK_OBJECTS_ACCESS_KEY": key,
            "SAGESTACK_OBJECTS_SECRET_KEY": secret,
        },
    ).start()
    yield front, remote
    front.stop()
    remote.stop()


def _remote_keys(remote) -> list[str]:
    pages = remote.client("s3").get_paginator("list_objects_v2").paginate(Bucket="blobs", Prefix="front/")
    return [o["Key"] for page in pages for o in page.get("Contents", [])]


def test_objects_round_trip_with_their_bytes_in_the_remote(servers):
    front, remote = servers
    s3 = front.client("s3")
    s3.create_bucket(Bucket="remote-rt")
    before = set(_remote_keys(remote))
    body = b"0123456789" * 1000
    put = s3.put_object(Bucket="remote-rt", Key="a/b.bin", Body=body, Metadata={"who": "me"})
    assert put["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
    added = set(_remote_keys(remote)) - before
    assert len(added) == 1  # one stored file, in the remote bucket under the prefix
    assert remote.client("s3").get_object(Bucket="blobs", Key=added.pop())["Body"].read() == body
    got = s3.get_object(Bucket="remote-rt", Key="a/b.bin")
    assert got["Body"].read() == body and got["Metadata"] == {"who": "me"}
    assert s3.get_object(Bucket="remote-rt", Key="a/b.bin", Range="bytes=5-14")["Body"].read() == body[5:15]
    s3.copy_object(Bucket="remote-rt", Key="a/copy.bin", CopySource={"Bucket": "remote-rt", "Key": "a/b.bin"})
    assert s3.get_object(Bucket="remote-rt", Key="a/copy.bin")["Body"].read() == body
    listing = s3.list_objects_v2(Bucket="remote-rt", Prefix="a/", Delimiter="/")
    assert [o["Key"] for o in listing["Contents"]] == ["a/b.bin", "a/copy.bin"]
    s3.put_object(Bucket="remote-rt", Key="a/b.bin", Body=b"replaced")  # the old file goes from the remote
    assert s3.get_object(Bucket="remote-rt", Key="a/b.bin")["Body"].read() == b"replaced"
    s3.delete_objects(Bucket="remote-rt", Delete={"Objects": [{"Key": "a/b.bin"}, {"Key": "a/copy.bin"}]})
    assert set(_remote_keys(remote)) == before  # nothing left behind
    with pytest.raises(s3.exceptions.NoSuchKey):
        s3.get_object(Bucket="remote-rt", Key="a/b.bin")


def test_multipart_upload_and_presigned_urls(servers):
    front, _ = servers
    s3 = front.client("s3")
    s3.create_bucket(Bucket="remote-mp")
    upload = s3.create_multipart_upload(Bucket="remote-mp", Key="big.bin")
    parts = [b"a" * (5 * 1024 * 1024), b"b" * 1024]
    etags = [
        s3.upload_part(
            Bucket="remote-mp", Key="big.bin", UploadId=upload["UploadId"], PartNumber=n + 1, Body=data
        )["ETag"]
        for n, data in enumerate(parts)
    ]
    s3.complete_multipart_upload(
        Bucket="remote-mp",
        Key="big.bin",
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"ETag": e, "PartNumber": n + 1} for n, e in enumerate(etags)]},
    )
    head = s3.head_object(Bucket="remote-mp", Key="big.bin")
    assert head["ContentLength"] == len(parts[0]) + len(parts[1]) and head["ETag"].endswith('-2"')
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "remote-mp", "Key": "big.bin"})
    assert url.startswith(front.url)  # signed by the front server, for its own clients
    with urllib.request.urlopen(url) as response:
        assert response.read() == parts[0] + parts[1]


def test_a_bad_objects_url_is_refused_at_start(tmp_path):
    server = ServerProcess(tmp_path / "data", extra_env={"SAGESTACK_OBJECTS_URL": "http://not-s3/bucket"})
    with pytest.raises(RuntimeError, match="SAGESTACK_OBJECTS_URL"):
        server.start()


def test_the_objects_url_names_bucket_prefix_endpoint_and_region():
    from sagestack.objects.remote import RemoteConfig, RemoteObjectsError
    from sagestack.settings import Settings, SettingsError

    config = RemoteConfig.parse(
        "s3://blobs/a/b/?endpoint_url=http://127.0.0.1:9000&region=eu-west-1", "k", "s"
    )
    assert (config.bucket, config.prefix, config.endpoint_url, config.region) == (
        "blobs",
        "a/b/",
        "http://127.0.0.1:9000",
        "eu-west-1",
    )
    assert RemoteConfig.parse("s3://blobs", region="us-west-2").prefix == ""
    assert RemoteConfig.parse("s3://blobs", region="us-west-2").region == "us-west-2"
    for bad in ("http://blobs/x", "s3:///x", "s3://blobs?endpoint=http://x"):
        with pytest.raises(RemoteObjectsError):
            RemoteConfig.parse(bad)
    settings = Settings.from_env({"SAGESTACK_OBJECTS_URL": "s3://blobs/p", "SAGESTACK_CLUSTER": "yes"})
    assert settings.objects_url == "s3://blobs/p" and settings.cluster and settings.lease_seconds == 5.0
    with pytest.raises(SettingsError, match="SAGESTACK_OBJECTS_URL"):
        Settings.from_env({"SAGESTACK_OBJECTS_URL": "/local/dir"})


def test_the_s3_suite_passes_with_the_bytes_in_a_remote_store(tmp_path):
    """Issue #26: the whole S3 test suite (tests/s3) against a server whose objects' bytes live in a
    second sagestack (the shared ``server`` fixture's SAGESTACK_TEST_REMOTE_OBJECTS=1 mode), in a pytest
    of its own so that only its server has the remote backend."""
    root = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["SAGESTACK_TEST_REMOTE_OBJECTS"] = "1"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-n",
            "0",
            "--basetemp",
            str(tmp_path / "run"),
            "tests/s3",
        ],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    tail = result.stdout[-3000:] + result.stderr[-2000:]
    assert result.returncode == 0, tail
    summary = result.stdout.strip().splitlines()[-1]
    assert " passed" in summary and "failed" not in summary and "error" not in summary, summary
