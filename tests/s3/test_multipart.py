"""Multipart uploads: a 50 MB upload through boto3's transfer manager, ranged downloads, part
listing, part copy, abort, and the errors Complete answers with."""

from __future__ import annotations

import hashlib
import os

import botocore.exceptions
import pytest
from boto3.s3.transfer import TransferConfig

MiB = 1024 * 1024


def _code(info) -> str:
    return info.value.response["Error"]["Code"]


def test_50mb_upload_file_and_ranged_download(s3, bucket, tmp_path):
    source = tmp_path / "big.bin"
    block = os.urandom(MiB)
    with open(source, "wb") as handle:
        handle.writelines(bytes([i]) + block[1:] for i in range(50))
    config = TransferConfig(multipart_threshold=8 * MiB, multipart_chunksize=8 * MiB, max_concurrency=4)
    s3.upload_file(str(source), bucket, "big/blob.bin", Config=config)
    head = s3.head_object(Bucket=bucket, Key="big/blob.bin", ChecksumMode="ENABLED")
    assert head["ContentLength"] == 50 * MiB
    assert head["ETag"].endswith('-7"')  # 6 × 8 MiB + 2 MiB
    digests = b"".join(
        hashlib.md5(source.read_bytes()[i : i + 8 * MiB]).digest() for i in range(0, 50 * MiB, 8 * MiB)
    )
    assert head["ETag"] == f'"{hashlib.md5(digests).hexdigest()}-7"'
    assert head["ChecksumCRC32"].endswith("-7") and head["ChecksumType"] == "COMPOSITE"
    assert head["PartsCount"] == 7 if "PartsCount" in head else True
    target = tmp_path / "back.bin"
    s3.download_file(bucket, "big/blob.bin", str(target), Config=config)  # ranged GETs with If-Match
    assert hashlib.sha256(target.read_bytes()).digest() == hashlib.sha256(source.read_bytes()).digest()
    part = s3.get_object(Bucket=bucket, Key="big/blob.bin", PartNumber=7)
    assert part["ContentLength"] == 2 * MiB and part["PartsCount"] == 7
    assert part["Body"].read() == source.read_bytes()[48 * MiB :]
    middle = s3.get_object(Bucket=bucket, Key="big/blob.bin", Range=f"bytes={30 * MiB - 5}-{30 * MiB + 4}")
    assert middle["Body"].read() == source.read_bytes()[30 * MiB - 5 : 30 * MiB + 5]


def _upload(s3, bucket, key, **kwargs):
    return s3.create_multipart_upload(Bucket=bucket, Key=key, **kwargs)["UploadId"]


def test_parts_listing_copy_and_complete(s3, bucket):
    s3.put_object(Bucket=bucket, Key="src", Body=b"0123456789" * (MiB // 2))  # 5 MiB
    upload = _upload(s3, bucket, "assembled", ContentType="text/plain", Metadata={"m": "1"})
    first = s3.upload_part_copy(
        Bucket=bucket,
        Key="assembled",
        UploadId=upload,
        PartNumber=1,
        CopySource={"Bucket": bucket, "Key": "src"},
    )["CopyPartResult"]["ETag"]
    second = s3.upload_part_copy(
        Bucket=bucket,
        Key="assembled",
        UploadId=upload,
        PartNumber=2,
        CopySource={"Bucket": bucket, "Key": "src"},
        CopySourceRange="bytes=0-9",
    )["CopyPartResult"]["ETag"]
    third = s3.upload_part(Bucket=bucket, Key="assembled", UploadId=upload, PartNumber=3, Body=b"tail")[
        "ETag"
    ]
    parts = s3.list_parts(Bucket=bucket, Key="assembled", UploadId=upload)
    assert [(p["PartNumber"], p["Size"]) for p in parts["Parts"]] == [(1, 5 * MiB), (2, 10), (3, 4)]
    page = s3.list_parts(Bucket=bucket, Key="assembled", UploadId=upload, MaxParts=2)
    assert page["IsTruncated"] and page["NextPartNumberMarker"] == 2
    uploads = s3.list_multipart_uploads(Bucket=bucket)["Uploads"]
    assert [(u["Key"], u["UploadId"]) for u in uploads] == [("assembled", upload)]
    # part 2 is 10 bytes and not last: too small
    with pytest.raises(botocore.exceptions.ClientError) as info:
        s3.complete_multipart_upload(
            Bucket=bucket,
            Key="assembled",
            UploadId=upload,
            MultipartUpload={
                "Parts": [
                    {"PartNumber": 1, "ETag": first},
                    {"PartNumber": 2, "ETag": second},
                    {"PartNumber": 3, "ETag": third},
                ]
            },
        )
    assert _code(info) == "EntityTooSmall"
    with pytest.raises(botocore.exceptions.ClientError) as info:
        s3.complete_multipart_upload(
            Bucket=bucket,
            Key="assembled",
            UploadId=upload,
            MultipartUpload={"Parts": [{"PartNumber": 3, "ETag": third}, {"PartNumber": 1, "ETag": first}]},
        )
    assert _code(info) == "InvalidPartOrder"
    with pytest.raises(botocore.exceptions.ClientError) as info:
        s3.complete_multipart_upload(
            Bucket=bucket,
            Key="assembled",
            UploadId=upload,
            MultipartUpload={
                "Parts": [
                    {"PartNumber": 1, "ETag": first},
                    {"PartNumber": 3, "ETag": '"ffffffffffffffffffffffffffffffff"'},
                ]
            },
        )
    assert _code(info) == "InvalidPart" and info.value.response["Error"]["PartNumber"] == "3"
    out = s3.complete_multipart_upload(
        Bucket=bucket,
        Key="assembled",
        UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": first}, {"PartNumber": 3, "ETag": third}]},
    )
    expected = (
        hashlib.md5(bytes.fromhex(first.strip('"')) + bytes.fromhex(third.strip('"'))).hexdigest() + "-2"
    )
    assert out["ETag"] == f'"{expected}"' and out["Key"] == "assembled"
    got = s3.get_object(Bucket=bucket, Key="assembled")
    assert got["Body"].read() == b"0123456789" * (MiB // 2) + b"tail"
    assert got["ContentType"] == "text/plain" and got["Metadata"] == {"m": "1"}
    with pytest.raises(botocore.exceptions.ClientError) as info:
        s3.list_parts(Bucket=bucket, Key="assembled", UploadId=upload)
    assert _code(info) == "NoSuchUpload"
    assert "Uploads" not in s3.list_multipart_uploads(Bucket=bucket)


def test_abort_and_bad_requests(s3, bucket):
    upload = _upload(s3, bucket, "gone")
    s3.upload_part(Bucket=bucket, Key="gone", UploadId=upload, PartNumber=1, Body=b"x" * 1000)
    with pytest.raises(botocore.exceptions.ClientError) as info:
        s3.upload_part(Bucket=bucket, Key="gone", UploadId=upload, PartNumber=10001, Body=b"x")
    assert _code(info) == "InvalidArgument"
    with pytest.raises(botocore.exceptions.ClientError) as info:
        s3.upload_part(
            Bucket=bucket,
            Key="gone",
            UploadId=upload,
            PartNumber=2,
            Body=b"x",
            ContentMD5="AAAAAAAAAAAAAAAAAAAAAA==",
        )
    assert _code(info) == "BadDigest"
    assert [p["PartNumber"] for p in s3.list_parts(Bucket=bucket, Key="gone", UploadId=upload)["Parts"]] == [
        1
    ]
    with pytest.raises(botocore.exceptions.ClientError) as info:
        s3.complete_multipart_upload(
            Bucket=bucket, Key="gone", UploadId=upload, MultipartUpload={"Parts": []}
        )
    assert _code(info) == "MalformedXML"
    s3.abort_multipart_upload(Bucket=bucket, Key="gone", UploadId=upload)
    for call in (
        lambda: s3.upload_part(Bucket=bucket, Key="gone", UploadId=upload, PartNumber=1, Body=b"x"),
        lambda: s3.abort_multipart_upload(Bucket=bucket, Key="gone", UploadId=upload),
        lambda: s3.complete_multipart_upload(
            Bucket=bucket,
            Key="gone",
            UploadId=upload,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": '"x"'}]},
        ),
    ):
        with pytest.raises(botocore.exceptions.ClientError) as info:
            call()
        assert _code(info) == "NoSuchUpload" and info.value.response["Error"]["UploadId"] == upload
    with pytest.raises(botocore.exceptions.ClientError) as info:
        s3.head_object(Bucket=bucket, Key="gone")
    assert _code(info) == "404"


def test_full_object_checksum(s3, bucket):
    import base64
    import zlib

    upload = _upload(s3, bucket, "full", ChecksumAlgorithm="CRC32", ChecksumType="FULL_OBJECT")
    one = b"a" * (5 * MiB)
    two = b"b" * 100
    e1 = s3.upload_part(
        Bucket=bucket, Key="full", UploadId=upload, PartNumber=1, Body=one, ChecksumAlgorithm="CRC32"
    )
    e2 = s3.upload_part(
        Bucket=bucket, Key="full", UploadId=upload, PartNumber=2, Body=two, ChecksumAlgorithm="CRC32"
    )
    out = s3.complete_multipart_upload(
        Bucket=bucket,
        Key="full",
        UploadId=upload,
        ChecksumType="FULL_OBJECT",
        MultipartUpload={
            "Parts": [
                {"PartNumber": 1, "ETag": e1["ETag"], "ChecksumCRC32": e1["ChecksumCRC32"]},
                {"PartNumber": 2, "ETag": e2["ETag"], "ChecksumCRC32": e2["ChecksumCRC32"]},
            ]
        },
    )
    whole = base64.b64encode(zlib.crc32(one + two).to_bytes(4, "big")).decode()
    assert out["ChecksumCRC32"] == whole and out["ChecksumType"] == "FULL_OBJECT"
    got = s3.get_object(Bucket=bucket, Key="full", ChecksumMode="ENABLED")
    assert got["ChecksumCRC32"] == whole and got["Body"].read() == one + two
