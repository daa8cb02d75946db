"""S3 SSE-KMS: objects sealed at rest under a KMS data key (the bytes on disk are ciphertext), read
back transparently — whole, by range, by part — through put, multipart, copy and bucket defaults."""

from __future__ import annotations

import base64
import json
import os
import uuid
from pathlib import Path

import botocore.exceptions
import pytest

from sagestack.objects.encryption import sealed_size

MIB = 1024 * 1024


@pytest.fixture
def s3(server):
    return server.client("s3")


@pytest.fixture
def kms(server):
    return server.client("kms")


@pytest.fixture
def bucket(s3) -> str:
    name = f"kms-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


def _payload(size: int) -> tuple[bytes, bytes]:
    """(data, a marker that occurs in it): random blocks led by a unique marker."""
    marker = b"PLAINTEXT-" + uuid.uuid4().hex.encode()
    block = marker + os.urandom(4096 - len(marker))
    return (block * (size // len(block) + 1))[:size], marker


def _stored_files(server, *sizes: int) -> list[Path]:
    root = Path(server.data_dir) / "objects" / "data"
    return [p for p in root.rglob("*") if p.is_file() and p.stat().st_size in sizes]


def _assert_sealed_on_disk(server, size: int, marker: bytes, sealed: int | None = None) -> None:
    sealed = sealed if sealed is not None else sealed_size(size)
    files = _stored_files(server, size, sealed)
    assert any(p.stat().st_size == sealed for p in files), "no stored file of the sealed size"
    assert not [p for p in files if marker in p.read_bytes()], "plaintext found on disk"


def test_put_get_head_with_the_default_aws_s3_key(server, s3, kms, bucket):
    data, marker = _payload(200_000)
    out = s3.put_object(Bucket=bucket, Key="a.bin", Body=data, ServerSideEncryption="aws:kms")
    managed = kms.describe_key(KeyId="alias/aws/s3")["KeyMetadata"]
    assert out["ServerSideEncryption"] == "aws:kms" and out["SSEKMSKeyId"] == managed["Arn"]
    assert managed["KeyManager"] == "AWS"
    head = s3.head_object(Bucket=bucket, Key="a.bin")
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == managed["Arn"]
    assert head["ContentLength"] == len(data)
    got = s3.get_object(Bucket=bucket, Key="a.bin")
    assert got["SSEKMSKeyId"] == managed["Arn"] and got["Body"].read() == data
    _assert_sealed_on_disk(server, len(data), marker)
    listed = s3.list_objects_v2(Bucket=bucket)["Contents"]
    assert listed[0]["Size"] == len(data)


def test_customer_key_by_alias_and_ranges(server, s3, kms, bucket):
    key = kms.create_key()["KeyMetadata"]
    alias = f"alias/s3-{uuid.uuid4().hex[:8]}"
    kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
    data, marker = _payload(3 * 65536 + 123)
    out = s3.put_object(
        Bucket=bucket, Key="r.bin", Body=data, ServerSideEncryption="aws:kms", SSEKMSKeyId=alias
    )
    assert out["SSEKMSKeyId"] == key["Arn"]
    for first, last in ((0, 0), (65530, 65545), (65536, 131071), (100, 3 * 65536 + 122), (196_000, 196_700)):
        got = s3.get_object(Bucket=bucket, Key="r.bin", Range=f"bytes={first}-{last}")
        assert got["Body"].read() == data[first : last + 1]
        assert got["ContentRange"] == f"bytes {first}-{last}/{len(data)}"
    assert s3.get_object(Bucket=bucket, Key="r.bin", Range="bytes=-10")["Body"].read() == data[-10:]
    _assert_sealed_on_disk(server, len(data), marker)


def test_small_and_empty_objects(server, s3, bucket):
    for body in (b"", b"x", b"tiny secret"):
        s3.put_object(Bucket=bucket, Key="s", Body=body, ServerSideEncryption="aws:kms")
        assert s3.get_object(Bucket=bucket, Key="s")["Body"].read() == body


def test_unknown_or_disabled_key(server, s3, kms, bucket):
    with pytest.raises(botocore.exceptions.ClientError) as info:
        s3.put_object(
            Bucket=bucket, Key="x", Body=b"x", ServerSideEncryption="aws:kms", SSEKMSKeyId=str(uuid.uuid4())
        )
    assert info.value.response["Error"]["Code"] == "KMS.NotFoundException"
    with pytest.raises(botocore.exceptions.ClientError) as info:
        s3.put_object(Bucket=bucket, Key="x", Body=b"x", SSEKMSKeyId="alias/aws/s3")
    assert info.value.response["Error"]["Code"] == "InvalidArgument"
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    s3.put_object(Bucket=bucket, Key="d", Body=b"data", ServerSideEncryption="aws:kms", SSEKMSKeyId=key)
    kms.disable_key(KeyId=key)
    try:
        with pytest.raises(botocore.exceptions.ClientError) as info:
            s3.get_object(Bucket=bucket, Key="d")
        assert info.value.response["Error"]["Code"] == "KMS.DisabledException"
        with pytest.raises(botocore.exceptions.ClientError) as info:
            s3.put_object(Bucket=bucket, Key="e", Body=b"x", ServerSideEncryption="aws:kms", SSEKMSKeyId=key)
        assert info.value.response["Error"]["Code"] == "KMS.DisabledException"
        assert s3.head_object(Bucket=bucket, Key="d")["SSEKMSKeyId"].endswith(key)  # metadata stays readable
    finally:
        kms.enable_key(KeyId=key)
    assert s3.get_object(Bucket=bucket, Key="d")["Body"].read() == b"data"


def test_encryption_context_header(server, s3, bucket):
    context = base64.b64encode(json.dumps({"project": "x"}).encode()).decode()
    out = s3.put_object(
        Bucket=bucket, Key="c", Body=b"ctx", ServerSideEncryption="aws:kms", SSEKMSEncryptionContext=context
    )
    assert out["SSEKMSEncryptionContext"] == context
    assert s3.get_object(Bucket=bucket, Key="c")["Body"].read() == b"ctx"


def test_multipart_sealed_per_part(server, s3, kms, bucket):
    key = kms.create_key()["KeyMetadata"]
    upload = s3.create_multipart_upload(
        Bucket=bucket,
        Key="mp.bin",
        ServerSideEncryption="aws:kms",
        SSEKMSKeyId=key["Arn"],
        ChecksumAlgorithm="CRC32",
        ChecksumType="FULL_OBJECT",
    )
    assert upload["SSEKMSKeyId"] == key["Arn"]
    one, marker = _payload(5 * MIB + 10)
    two = os.urandom(MIB + 7)
    parts = []
    for number, body in ((1, one), (2, two)):
        out = s3.upload_part(
            Bucket=bucket,
            Key="mp.bin",
            UploadId=upload["UploadId"],
            PartNumber=number,
            Body=body,
            ChecksumAlgorithm="CRC32",
        )
        assert out["SSEKMSKeyId"] == key["Arn"]
        parts.append({"PartNumber": number, "ETag": out["ETag"], "ChecksumCRC32": out["ChecksumCRC32"]})
    import zlib

    done = s3.complete_multipart_upload(
        Bucket=bucket, Key="mp.bin", UploadId=upload["UploadId"], MultipartUpload={"Parts": parts}
    )
    whole = one + two
    expected_crc = base64.b64encode(zlib.crc32(whole).to_bytes(4, "big")).decode()
    assert done["ChecksumCRC32"] == expected_crc and done["SSEKMSKeyId"] == key["Arn"]
    assert s3.get_object(Bucket=bucket, Key="mp.bin")["Body"].read() == whole
    boundary = len(one)
    got = s3.get_object(Bucket=bucket, Key="mp.bin", Range=f"bytes={boundary - 5}-{boundary + 5}")
    assert got["Body"].read() == whole[boundary - 5 : boundary + 6]
    assert s3.get_object(Bucket=bucket, Key="mp.bin", PartNumber=2)["Body"].read() == two
    _assert_sealed_on_disk(server, len(whole), marker, sealed_size(len(one)) + sealed_size(len(two)))

    # a part copied from an encrypted object into an encrypted upload
    copy = s3.create_multipart_upload(Bucket=bucket, Key="mp-copy.bin", ServerSideEncryption="aws:kms")
    part = s3.upload_part_copy(
        Bucket=bucket,
        Key="mp-copy.bin",
        UploadId=copy["UploadId"],
        PartNumber=1,
        CopySource={"Bucket": bucket, "Key": "mp.bin"},
        CopySourceRange=f"bytes=100-{boundary + 99}",
    )
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="mp-copy.bin",
        UploadId=copy["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["CopyPartResult"]["ETag"]}]},
    )
    assert s3.get_object(Bucket=bucket, Key="mp-copy.bin")["Body"].read() == whole[100 : boundary + 100]


def test_transfer_manager_upload_and_download(server, s3, bucket, tmp_path):
    data, marker = _payload(9 * MIB + 333)
    source = tmp_path / "big.bin"
    source.write_bytes(data)
    s3.upload_file(str(source), bucket, "big.bin", ExtraArgs={"ServerSideEncryption": "aws:kms"})
    target = tmp_path / "back.bin"
    s3.download_file(bucket, "big.bin", str(target))
    assert target.read_bytes() == data
    assert s3.head_object(Bucket=bucket, Key="big.bin")["ServerSideEncryption"] == "aws:kms"
    root = Path(server.data_dir) / "objects" / "data"
    assert not [
        p for p in root.rglob("*") if p.is_file() and p.stat().st_size > 8 * MIB and marker in p.read_bytes()
    ]


def test_bucket_default_encryption(server, s3, kms, bucket):
    assert (
        s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0][
            "ApplyServerSideEncryptionByDefault"
        ]["SSEAlgorithm"]
        == "AES256"
    )
    key = kms.create_key()["KeyMetadata"]
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {
                        "SSEAlgorithm": "aws:kms",
                        "KMSMasterKeyID": key["Arn"],
                    },
                    "BucketKeyEnabled": True,
                }
            ]
        },
    )
    rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"] == key["Arn"]
    data, marker = _payload(70_000)
    out = s3.put_object(Bucket=bucket, Key="default.bin", Body=data)
    assert out["ServerSideEncryption"] == "aws:kms" and out["SSEKMSKeyId"] == key["Arn"]
    assert out["BucketKeyEnabled"] is True
    assert s3.get_object(Bucket=bucket, Key="default.bin")["Body"].read() == data
    _assert_sealed_on_disk(server, len(data), marker)
    explicit = s3.put_object(Bucket=bucket, Key="plain.bin", Body=b"p", ServerSideEncryption="AES256")
    assert explicit["ServerSideEncryption"] == "AES256" and "SSEKMSKeyId" not in explicit
    s3.delete_bucket_encryption(Bucket=bucket)
    assert s3.put_object(Bucket=bucket, Key="after.bin", Body=b"a")["ServerSideEncryption"] == "AES256"


def test_copies_between_encryptions(server, s3, kms, bucket):
    data, marker = _payload(150_000)
    s3.put_object(Bucket=bucket, Key="src", Body=data, ServerSideEncryption="aws:kms")
    other = kms.create_key()["KeyMetadata"]
    out = s3.copy_object(
        Bucket=bucket,
        Key="kms-copy",
        CopySource={"Bucket": bucket, "Key": "src"},
        ServerSideEncryption="aws:kms",
        SSEKMSKeyId=other["KeyId"],
    )
    assert out["SSEKMSKeyId"] == other["Arn"]
    assert s3.get_object(Bucket=bucket, Key="kms-copy")["Body"].read() == data
    plain = s3.copy_object(Bucket=bucket, Key="plain-copy", CopySource={"Bucket": bucket, "Key": "src"})
    assert plain["ServerSideEncryption"] == "AES256"
    assert s3.get_object(Bucket=bucket, Key="plain-copy")["Body"].read() == data
    s3.put_object(Bucket=bucket, Key="plain-src", Body=data)
    s3.copy_object(
        Bucket=bucket,
        Key="sealed-copy",
        CopySource={"Bucket": bucket, "Key": "plain-src"},
        ServerSideEncryption="aws:kms",
    )
    got = s3.get_object(Bucket=bucket, Key="sealed-copy")
    assert got["ServerSideEncryption"] == "aws:kms" and got["Body"].read() == data
    # an in-place copy that turns encryption on, and a key rotation by copy
    s3.copy_object(
        Bucket=bucket,
        Key="plain-src",
        CopySource={"Bucket": bucket, "Key": "plain-src"},
        ServerSideEncryption="aws:kms",
        SSEKMSKeyId=other["Arn"],
    )
    assert s3.head_object(Bucket=bucket, Key="plain-src")["SSEKMSKeyId"] == other["Arn"]
    assert s3.get_object(Bucket=bucket, Key="plain-src")["Body"].read() == data


def test_bucket_policy_recorded(s3, bucket):
    with pytest.raises(botocore.exceptions.ClientError) as info:
        s3.get_bucket_policy(Bucket=bucket)
    assert info.value.response["Error"]["Code"] == "NoSuchBucketPolicy"
    policy = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:PutObject",
                    "Resource": f"arn:aws:s3:::{bucket}/*",
                    "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}},
                }
            ],
        }
    )
    s3.put_bucket_policy(Bucket=bucket, Policy=policy)
    assert s3.get_bucket_policy(Bucket=bucket)["Policy"] == policy
    with pytest.raises(botocore.exceptions.ClientError) as info:
        s3.put_bucket_policy(Bucket=bucket, Policy="not json")
    assert info.value.response["Error"]["Code"] == "MalformedPolicy"
    s3.delete_bucket_policy(Bucket=bucket)
    with pytest.raises(botocore.exceptions.ClientError):
        s3.get_bucket_policy(Bucket=bucket)


def _change_behind_the_server(server, bucket: str, rule: dict | None) -> None:
    """Set or remove the bucket's default encryption as another server of a cluster would: straight in
    the shared store, unseen by this server's object store."""
    from sagestack.store.db import Database
    from sagestack.store.resources import ResourceStore

    account = server.client("sts").get_caller_identity()["Account"]
    db = Database(server.database_url or f"sqlite:///{Path(server.data_dir) / 'metadata.db'}")
    try:
        resources = ResourceStore(db)
        resources.delete(account, "global", "s3-bucket-encryption", bucket)
        if rule is not None:
            resources.create(
                account, "global", "s3-bucket-encryption", bucket, f"arn:aws:s3:::{bucket}", rule
            )
    finally:
        db.dispose()


def test_default_encryption_changed_between_small_puts(server, s3, kms, bucket):
    """A small PUT plans from the server's last sight of the bucket's default encryption; a default
    set or removed since (by another server) is caught by the write's own transaction and the body
    planned and written again."""
    assert s3.put_object(Bucket=bucket, Key="first", Body=b"1")["ServerSideEncryption"] == "AES256"
    key = kms.create_key()["KeyMetadata"]["Arn"]
    rule = {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key}}
    _change_behind_the_server(server, bucket, {"Rule": rule})
    data, marker = _payload(5_000)
    out = s3.put_object(Bucket=bucket, Key="second", Body=data)
    assert out["ServerSideEncryption"] == "aws:kms" and out["SSEKMSKeyId"] == key
    head = s3.head_object(Bucket=bucket, Key="second")
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == key
    assert s3.get_object(Bucket=bucket, Key="second")["Body"].read() == data
    _assert_sealed_on_disk(server, len(data), marker)
    root = Path(server.data_dir) / "objects"
    assert not [p for p in root.rglob("*") if p.is_file() and marker in p.read_bytes()], (
        "plaintext left on disk"
    )
    _change_behind_the_server(server, bucket, None)
    after = s3.put_object(Bucket=bucket, Key="third", Body=b"3")
    assert after["ServerSideEncryption"] == "AES256" and "SSEKMSKeyId" not in after
    assert s3.get_object(Bucket=bucket, Key="third")["Body"].read() == b"3"
    # set through this server: seen at once
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [rule]})
    assert s3.put_object(Bucket=bucket, Key="fourth", Body=b"4")["SSEKMSKeyId"] == key
