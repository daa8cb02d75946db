"""Restarts on the same data dir (TERM and KILL): buckets and objects come back byte-identical; an
upload cut off by a crash leaves no object, no index row and no file."""

from __future__ import annotations

import hashlib
import os
import socket
import time

import botocore.exceptions
from boto3.s3.transfer import TransferConfig

from s3_helpers import object_files


def _snapshot(s3) -> dict:
    out = {}
    for bucket in sorted(b["Name"] for b in s3.list_buckets()["Buckets"]):
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for entry in page.get("Contents", []):
                got = s3.get_object(Bucket=bucket, Key=entry["Key"])
                out[(bucket, entry["Key"])] = (
                    hashlib.sha256(got["Body"].read()).hexdigest(),
                    got["ETag"],
                    got["ContentType"],
                    tuple(sorted(got["Metadata"].items())),
                )
    return out


def test_restart_term_then_kill_mid_upload(fresh_server, tmp_path):
    s3 = fresh_server.client("s3")
    s3.create_bucket(Bucket="durable-one")
    s3.create_bucket(Bucket="durable-two")
    s3.put_object(
        Bucket="durable-one", Key="a/b.txt", Body=b"bytes", ContentType="text/plain", Metadata={"k": "v"}
    )
    s3.put_object(Bucket="durable-two", Key="empty", Body=b"")
    s3.put_object(Bucket="durable-two", Key="over", Body=b"first")
    s3.put_object(Bucket="durable-two", Key="over", Body=b"second")
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(11 * 1024 * 1024))
    s3.upload_file(
        str(big),
        "durable-one",
        "mp/big.bin",
        Config=TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024),
    )
    s3.copy_object(Bucket="durable-two", Key="copy", CopySource={"Bucket": "durable-one", "Key": "a/b.txt"})
    s3.put_bucket_tagging(Bucket="durable-one", Tagging={"TagSet": [{"Key": "t", "Value": "1"}]})
    before = _snapshot(s3)
    assert len(before) == 5

    fresh_server.restart()
    s3 = fresh_server.client("s3")
    assert _snapshot(s3) == before
    assert s3.get_bucket_tagging(Bucket="durable-one")["TagSet"] == [{"Key": "t", "Value": "1"}]

    # a PUT in flight when the server is SIGKILLed
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    key, secret = fresh_server.credentials()
    body = b"z" * 2_000_000
    request = AWSRequest(
        method="PUT",
        url=f"{fresh_server.url}/durable-one/partial",
        data=body,
        headers={"Content-Length": str(len(body))},
    )
    request.headers["X-Amz-Content-SHA256"] = hashlib.sha256(body).hexdigest()
    S3SigV4Auth(Credentials(key, secret), "s3", "us-east-1").add_auth(request)
    sock = socket.create_connection(("127.0.0.1", fresh_server.port), timeout=10)
    head = f"PUT /durable-one/partial HTTP/1.1\r\nHost: 127.0.0.1:{fresh_server.port}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in request.headers.items()) + "\r\n"
    sock.sendall(head.encode() + body[:1_500_000])
    tmp = fresh_server.data_dir / "objects" / ".tmp"
    deadline = time.time() + 10
    while time.time() < deadline and not any(p.is_file() for p in tmp.rglob("*")):
        time.sleep(0.02)
    assert any(p.is_file() for p in tmp.rglob("*")), "the upload never started staging"
    fresh_server.restart(sig="KILL")
    sock.close()

    s3 = fresh_server.client("s3")
    assert _snapshot(s3) == before
    try:
        s3.head_object(Bucket="durable-one", Key="partial")
        raise AssertionError("a cut-off upload became visible")
    except botocore.exceptions.ClientError as exc:
        assert exc.response["Error"]["Code"] == "404"
    # nothing stray: no temp files, and exactly one stored file per object (the overwritten one's
    # old file is gone; the copy shares its source's bytes through a second name)
    files = object_files(fresh_server.data_dir)
    assert not [p for p in files if ".tmp" in p.parts]
    assert len(files) == len(before)
    from sqlalchemy import text

    from sagestack.store.db import Database

    db = Database(f"sqlite:///{fresh_server.data_dir / 'metadata.db'}")
    with db.connect() as conn:
        rows = conn.execute(text("select bucket, key from s3_objects order by bucket, key")).fetchall()
        uploads = conn.execute(text("select count(*) from s3_uploads")).scalar_one()
    db.dispose()
    assert sorted(tuple(r) for r in rows) == sorted(before) and uploads == 0
