"""Buckets: create/head/delete/list/location, naming and location rules, ownership, tagging."""

from __future__ import annotations

import uuid

import botocore.exceptions
import pytest

from s3_helpers import raw_request


def _code(info) -> str:
    return info.value.response["Error"]["Code"]


def test_bucket_lifecycle(s3):
    name = f"life-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=name)
    assert s3.head_bucket(Bucket=name)["BucketRegion"] == "us-east-1"
    assert name in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert s3.get_bucket_location(Bucket=name)["LocationConstraint"] is None
    s3.create_bucket(Bucket=name)  # us-east-1: repeating a create by the owner succeeds
    s3.put_object(Bucket=name, Key="k", Body=b"x")
    with pytest.raises(botocore.exceptions.ClientError) as info:
        s3.delete_bucket(Bucket=name)
    assert _code(info) == "BucketNotEmpty"
    assert info.value.response["Error"]["BucketName"] == name
    s3.delete_object(Bucket=name, Key="k")
    s3.delete_bucket(Bucket=name)
    with pytest.raises(botocore.exceptions.ClientError) as info:
        s3.head_bucket(Bucket=name)
    assert _code(info) == "404"
    with pytest.raises(botocore.exceptions.ClientError) as info:
        s3.list_objects_v2(Bucket=name)
    assert _code(info) == "NoSuchBucket"
    assert info.value.response["Error"]["BucketName"] == name


@pytest.mark.parametrize(
    "name",
    [
        "ab",
        "UpperCase",
        "a" * 64,
        "bad..dots",
        "-leading",
        "192.168.1.1",
        "under_score",
        "xn--punycode",
        "name-s3alias",
    ],
)
def test_invalid_bucket_names(server, s3, name):
    status, _, body = raw_request(server, "PUT", f"/{name}")
    assert status == 400 and b"<Code>InvalidBucketName</Code>" in body
    assert f"<BucketName>{name}</BucketName>".encode() in body
    assert name not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_location_constraints(server, s3):
    name = f"loc-{uuid.uuid4().hex[:10]}"
    with pytest.raises(botocore.exceptions.ClientError) as info:
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "us-east-1"})
    assert _code(info) == "InvalidLocationConstraint"
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert s3.get_bucket_location(Bucket=name)["LocationConstraint"] == "eu-west-1"
    assert s3.head_bucket(Bucket=name)["BucketRegion"] == "eu-west-1"

    import boto3
    from botocore.config import Config

    key, secret = server.credentials()
    eu = boto3.client(
        "s3",
        endpoint_url=server.url,
        region_name="eu-central-1",
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=Config(s3={"addressing_style": "path"}),
    )
    other = f"loc2-{uuid.uuid4().hex[:10]}"
    with pytest.raises(botocore.exceptions.ClientError) as info:
        eu.create_bucket(Bucket=other)
    assert _code(info) == "IllegalLocationConstraintException"
    eu.create_bucket(Bucket=other, CreateBucketConfiguration={"LocationConstraint": "eu-central-1"})
    with pytest.raises(botocore.exceptions.ClientError) as info:
        eu.create_bucket(Bucket=other, CreateBucketConfiguration={"LocationConstraint": "eu-central-1"})
    assert _code(info) == "BucketAlreadyOwnedByYou"


def test_expected_bucket_owner(s3, bucket):
    s3.head_bucket(Bucket=bucket, ExpectedBucketOwner="000000000000")
    s3.put_object(Bucket=bucket, Key="k", Body=b"v", ExpectedBucketOwner="000000000000")
    with pytest.raises(botocore.exceptions.ClientError) as info:
        s3.head_bucket(Bucket=bucket, ExpectedBucketOwner="111111111111")
    assert _code(info) == "403"
    with pytest.raises(botocore.exceptions.ClientError) as info:
        s3.get_object(Bucket=bucket, Key="k", ExpectedBucketOwner="111111111111")
    assert _code(info) == "AccessDenied"
    # a small PutObject's owner check runs in the write's own transaction: refused, nothing replaced
    with pytest.raises(botocore.exceptions.ClientError) as info:
        s3.put_object(Bucket=bucket, Key="k", Body=b"replaced", ExpectedBucketOwner="111111111111")
    assert _code(info) == "AccessDenied"
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v"


def test_other_account_is_denied(server, s3, bucket):
    # a key pair of another account, written straight into the server's store
    from sagestack.store.credentials import CredentialStore, new_access_key_id, new_secret
    from sagestack.store.db import Database

    db = Database(server.database_url or f"sqlite:///{server.data_dir / 'metadata.db'}")
    key_id, secret = new_access_key_id(), new_secret()
    CredentialStore(db).put(key_id, secret, "222222222222", "arn:aws:iam::222222222222:root")
    db.dispose()
    import boto3
    from botocore.config import Config

    other = boto3.client(
        "s3",
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        config=Config(s3={"addressing_style": "path"}),
    )
    with pytest.raises(botocore.exceptions.ClientError) as info:
        other.list_objects_v2(Bucket=bucket)
    assert _code(info) == "AccessDenied"
    with pytest.raises(botocore.exceptions.ClientError) as info:
        other.put_object(Bucket=bucket, Key="intruder", Body=b"x")
    assert _code(info) == "AccessDenied"
    with pytest.raises(botocore.exceptions.ClientError) as info:
        other.put_object(Bucket=f"{bucket}-missing", Key="intruder", Body=b"x")
    assert _code(info) == "NoSuchBucket"
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="intruder")
    with pytest.raises(botocore.exceptions.ClientError) as info:
        other.create_bucket(Bucket=bucket)
    assert _code(info) == "BucketAlreadyExists"
    assert bucket not in [b["Name"] for b in other.list_buckets()["Buckets"]]


def test_bucket_tagging(s3, bucket):
    with pytest.raises(botocore.exceptions.ClientError) as info:
        s3.get_bucket_tagging(Bucket=bucket)
    assert _code(info) == "NoSuchTagSet"
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "team", "Value": "ml"}]})
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == [{"Key": "team", "Value": "ml"}]
    s3.delete_bucket_tagging(Bucket=bucket)
    with pytest.raises(botocore.exceptions.ClientError):
        s3.get_bucket_tagging(Bucket=bucket)


def test_malformed_xml_is_rejected(server, s3, bucket):
    body = b"<Tagging><TagSet><Tag><Key>a</Key>"
    import base64
    import hashlib

    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    status, _, text = raw_request(server, "PUT", f"/{bucket}?tagging", body, {"Content-MD5": md5})
    assert status == 400 and b"<Code>MalformedXML</Code>" in text
    with pytest.raises(botocore.exceptions.ClientError):
        s3.get_bucket_tagging(Bucket=bucket)
    status, _, text = raw_request(
        server, "POST", f"/{bucket}?delete", b"<Delete><Object>", {"Content-MD5": md5}
    )
    assert status == 400 and b"MalformedXML" in text


def test_unknown_operation_and_unsigned(server, bucket):
    import urllib.error
    import urllib.request

    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(f"{server.url}/{bucket}/k")
    assert info.value.code == 403  # unsigned requests are refused (the gateway words it)
