"""Objects: put/get/head/delete/copy, ranges, conditions, digests and checksums, SSE, tagging,
addressing styles, presigned URLs, Expect: 100-continue, aws-chunked bodies, cut-off uploads."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import socket
import time
import urllib.error
import urllib.request
import zlib

import botocore.exceptions
import pytest

from s3_helpers import raw_request


def _code(info) -> str:
    return info.value.response["Error"]["Code"]


def _absent(s3, bucket, key) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except botocore.exceptions.ClientError as exc:
        return exc.response["Error"]["Code"] == "404"
    return False


def test_put_get_head_roundtrip(s3, bucket):
    data = b"hello world\n" * 100
    put = s3.put_object(
        Bucket=bucket,
        Key="dir/file.txt",
        Body=data,
        ContentType="text/plain",
        Metadata={"Owner": "me", "x": "1"},
        CacheControl="max-age=60",
        ContentDisposition="attachment",
        ContentEncoding="identity",
    )
    assert put["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
    assert put["ServerSideEncryption"] == "AES256"
    got = s3.get_object(Bucket=bucket, Key="dir/file.txt")
    assert got["Body"].read() == data
    assert got["ContentType"] == "text/plain" and got["ContentLength"] == len(data)
    assert got["Metadata"] == {"owner": "me", "x": "1"}
    assert got["CacheControl"] == "max-age=60" and got["ContentDisposition"] == "attachment"
    assert got["ETag"] == put["ETag"] and got["AcceptRanges"] == "bytes"
    head = s3.head_object(Bucket=bucket, Key="dir/file.txt")
    assert head["ContentLength"] == len(data) and head["ETag"] == put["ETag"]
    assert abs((head["LastModified"] - dt.datetime.now(dt.timezone.utc)).total_seconds()) < 60
    # overwrite replaces whole
    s3.put_object(Bucket=bucket, Key="dir/file.txt", Body=b"v2")
    got = s3.get_object(Bucket=bucket, Key="dir/file.txt", ResponseContentType="application/x-test")
    assert got["Body"].read() == b"v2" and got["ContentType"] == "application/x-test"
    assert s3.head_object(Bucket=bucket, Key="dir/file.txt")["ContentType"] == "binary/octet-stream"
    # empty object and odd keys
    for key in ("empty", "sp ace+plus/ü%41?#&=.txt", "a//b/../c"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"" if key == "empty" else key.encode())
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == (
            b"" if key == "empty" else key.encode()
        )


def test_missing_key_and_delete(s3, bucket):
    with pytest.raises(botocore.exceptions.ClientError) as info:
        s3.get_object(Bucket=bucket, Key="nope/x")
    assert _code(info) == "NoSuchKey" and info.value.response["Error"]["Key"] == "nope/x"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    with pytest.raises(botocore.exceptions.ClientError) as info:
        s3.head_object(Bucket=bucket, Key="nope/x")
    assert _code(info) == "404"
    s3.put_object(Bucket=bucket, Key="k", Body=b"1")
    assert s3.delete_object(Bucket=bucket, Key="k")["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert _absent(s3, bucket, "k")
    s3.delete_object(Bucket=bucket, Key="k")  # deleting a missing key is fine
    for i in range(5):
        s3.put_object(Bucket=bucket, Key=f"m/{i}", Body=b"x")
    out = s3.delete_objects(
        Bucket=bucket, Delete={"Objects": [{"Key": f"m/{i}"} for i in range(3)] + [{"Key": "m/missing"}]}
    )
    assert sorted(d["Key"] for d in out["Deleted"]) == ["m/0", "m/1", "m/2", "m/missing"]
    out = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "m/3"}], "Quiet": True})
    assert "Deleted" not in out and "Errors" not in out
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="m/")["Contents"]] == ["m/4"]


def test_ranges(s3, bucket):
    data = bytes(range(256)) * 40
    s3.put_object(Bucket=bucket, Key="r", Body=data)
    cases = {
        "bytes=0-9": data[:10],
        "bytes=100-": data[100:],
        "bytes=-7": data[-7:],
        "bytes=10000-20000": data[10000:],
        "bytes=5-5": data[5:6],
    }
    for header, expected in cases.items():
        got = s3.get_object(Bucket=bucket, Key="r", Range=header)
        assert got["Body"].read() == expected, header
        assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
        start = len(data) - len(expected) if header.startswith("bytes=-") else int(header[6:].split("-")[0])
        assert got["ContentRange"] == f"bytes {start}-{start + len(expected) - 1}/{len(data)}"
        assert got["ContentLength"] == len(expected)
    with pytest.raises(botocore.exceptions.ClientError) as info:
        s3.get_object(Bucket=bucket, Key="r", Range=f"bytes={len(data)}-")
    assert _code(info) == "InvalidRange"
    assert info.value.response["Error"]["ActualObjectSize"] == str(len(data))
    # a malformed range is ignored: the whole object comes back
    got = s3.get_object(Bucket=bucket, Key="r", Range="bytes=9-2")
    assert got["Body"].read() == data and got["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_conditional_requests(s3, bucket):
    etag = s3.put_object(Bucket=bucket, Key="c", Body=b"cond")["ETag"]
    past = dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)
    future = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)
    assert s3.get_object(Bucket=bucket, Key="c", IfMatch=etag)["Body"].read() == b"cond"
    assert s3.get_object(Bucket=bucket, Key="c", IfModifiedSince=past)["Body"].read() == b"cond"
    with pytest.raises(botocore.exceptions.ClientError) as info:
        s3.get_object(Bucket=bucket, Key="c", IfMatch='"0123"')
    assert _code(info) == "PreconditionFailed"
    assert info.value.response["Error"]["Condition"] == "If-Match"
    with pytest.raises(botocore.exceptions.ClientError) as info:
        s3.get_object(Bucket=bucket, Key="c", IfUnmodifiedSince=past)
    assert _code(info) == "PreconditionFailed"
    for kwargs in ({"IfNoneMatch": etag}, {"IfModifiedSince": future}):
        with pytest.raises(botocore.exceptions.ClientError) as info:
            s3.get_object(Bucket=bucket, Key="c", **kwargs)
        assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 304
        with pytest.raises(botocore.exceptions.ClientError) as info:
            s3.head_object(Bucket=bucket, Key="c", **kwargs)
        assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 304
    with pytest.raises(botocore.exceptions.ClientError) as info:
        s3.head_object(Bucket=bucket, Key="c", IfMatch='"nope"')
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    # conditional writes
    with pytest.raises(botocore.exceptions.ClientError) as info:
        s3.put_object(Bucket=bucket, Key="c", Body=b"other", IfNoneMatch="*")
    assert _code(info) == "PreconditionFailed"
    s3.put_object(Bucket=bucket, Key="c-new", Body=b"x", IfNoneMatch="*")
    assert s3.get_object(Bucket=bucket, Key="c")["Body"].read() == b"cond"


def test_copy_object(s3, bucket):
    s3.put_object(Bucket=bucket, Key="src", Body=b"payload", ContentType="text/csv", Metadata={"a": "1"})
    out = s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"})
    assert out["CopyObjectResult"]["ETag"] == f'"{hashlib.md5(b"payload").hexdigest()}"'
    head = s3.head_object(Bucket=bucket, Key="dst")
    assert head["Metadata"] == {"a": "1"} and head["ContentType"] == "text/csv"
    s3.copy_object(
        Bucket=bucket,
        Key="dst2",
        CopySource=f"{bucket}/src",
        MetadataDirective="REPLACE",
        Metadata={"b": "2"},
        ContentType="text/plain",
    )
    head = s3.head_object(Bucket=bucket, Key="dst2")
    assert head["Metadata"] == {"b": "2"} and head["ContentType"] == "text/plain"
    with pytest.raises(botocore.exceptions.ClientError) as info:
        s3.copy_object(Bucket=bucket, Key="src", CopySource={"Bucket": bucket, "Key": "src"})
    assert _code(info) == "InvalidRequest"
    s3.copy_object(
        Bucket=bucket,
        Key="src",
        CopySource={"Bucket": bucket, "Key": "src"},
        MetadataDirective="REPLACE",
        Metadata={"c": "3"},
    )
    assert s3.head_object(Bucket=bucket, Key="src")["Metadata"] == {"c": "3"}
    with pytest.raises(botocore.exceptions.ClientError) as info:
        s3.copy_object(Bucket=bucket, Key="x", CopySource={"Bucket": bucket, "Key": "missing"})
    assert _code(info) == "NoSuchKey"
    with pytest.raises(botocore.exceptions.ClientError) as info:
        s3.copy_object(
            Bucket=bucket, Key="x", CopySource={"Bucket": bucket, "Key": "src"}, CopySourceIfMatch='"zzz"'
        )
    assert _code(info) == "PreconditionFailed"
    # copies are independent of their source
    s3.delete_object(Bucket=bucket, Key="src")
    s3.put_object(Bucket=bucket, Key="dst2", Body=b"changed")
    assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == b"payload"


def test_flexible_checksums(server, s3, bucket):
    data = b"checksummed bytes" * 50
    for algorithm in ("CRC32", "SHA1", "SHA256"):  # CRC32C/CRC64NVME need awscrt in the client
        out = s3.put_object(Bucket=bucket, Key=f"ck/{algorithm}", Body=data, ChecksumAlgorithm=algorithm)
        assert out[f"Checksum{algorithm}"]
        got = s3.get_object(Bucket=bucket, Key=f"ck/{algorithm}", ChecksumMode="ENABLED")
        assert got[f"Checksum{algorithm}"] == out[f"Checksum{algorithm}"]
        assert got["Body"].read() == data and got["ChecksumType"] == "FULL_OBJECT"
    crc = base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
    assert s3.head_object(Bucket=bucket, Key="ck/CRC32", ChecksumMode="ENABLED")["ChecksumCRC32"] == crc
    # CRC32C and CRC64NVME verified against published check values ("123456789")
    for name, value in (("crc32c", "e3069283"), ("crc64nvme", "ae8b14860a799888")):
        header = base64.b64encode(bytes.fromhex(value)).decode()
        status, headers, _ = raw_request(
            server, "PUT", f"/{bucket}/ck/{name}", b"123456789", {f"x-amz-checksum-{name}": header}
        )
        assert status == 200 and headers[f"x-amz-checksum-{name}"] == header
        status, _, text = raw_request(
            server, "PUT", f"/{bucket}/ck/{name}", b"123456780", {f"x-amz-checksum-{name}": header}
        )
        assert status == 400 and b"BadDigest" in text
        status, headers, _ = raw_request(
            server, "GET", f"/{bucket}/ck/{name}", headers={"x-amz-checksum-mode": "ENABLED"}
        )
        assert status == 200 and headers[f"x-amz-checksum-{name}"] == header
    # ranged reads carry no whole-object checksum
    assert "ChecksumCRC32" not in s3.get_object(
        Bucket=bucket, Key="ck/CRC32", Range="bytes=0-3", ChecksumMode="ENABLED"
    )


def test_bad_digests_store_nothing(server, s3, bucket):
    body = b"some body"
    good_md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    wrong_md5 = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    status, _, text = raw_request(server, "PUT", f"/{bucket}/md5", body, {"Content-MD5": wrong_md5})
    assert status == 400 and b"<Code>BadDigest</Code>" in text
    status, _, text = raw_request(server, "PUT", f"/{bucket}/md5", body, {"Content-MD5": "not-base64!"})
    assert status == 400 and b"<Code>InvalidDigest</Code>" in text
    status, _, text = raw_request(
        server,
        "PUT",
        f"/{bucket}/md5",
        body,
        {"x-amz-checksum-crc32": base64.b64encode(b"\0\0\0\1").decode()},
    )
    assert status == 400 and b"<Code>BadDigest</Code>" in text
    status, _, text = raw_request(server, "PUT", f"/{bucket}/md5", body, {"x-amz-checksum-sha256": "short"})
    assert status == 400 and b"<Code>InvalidRequest</Code>" in text
    status, _, text = raw_request(server, "PUT", f"/{bucket}/md5", body, payload_hash="0" * 64)
    assert status == 400 and b"<Code>XAmzContentSHA256Mismatch</Code>" in text
    assert _absent(s3, bucket, "md5")
    status, headers, _ = raw_request(server, "PUT", f"/{bucket}/md5", body, {"Content-MD5": good_md5})
    assert status == 200 and headers["etag"] == f'"{hashlib.md5(body).hexdigest()}"'
    with pytest.raises(botocore.exceptions.ClientError) as info:
        s3.put_object(Bucket=bucket, Key="md5", Body=b"x", ContentMD5=wrong_md5)
    assert _code(info) == "BadDigest"
    assert s3.get_object(Bucket=bucket, Key="md5")["Body"].read() == body


def test_entity_too_large_is_refused_before_reading(server, s3, bucket):
    status, _, text = raw_request(
        server,
        "PUT",
        f"/{bucket}/big",
        b"",
        {"Content-Length": str(6 * 1024**3)},
        payload_hash="UNSIGNED-PAYLOAD",
    )
    assert status == 400 and b"<Code>EntityTooLarge</Code>" in text
    assert _absent(s3, bucket, "big")


def test_server_side_encryption_reported(s3, bucket):
    out = s3.put_object(Bucket=bucket, Key="kms", Body=b"x", ServerSideEncryption="aws:kms")
    assert out["ServerSideEncryption"] == "aws:kms" and out["SSEKMSKeyId"].startswith("arn:aws:kms:")
    head = s3.head_object(Bucket=bucket, Key="kms")
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == out["SSEKMSKeyId"]
    s3.put_object(Bucket=bucket, Key="aes", Body=b"x", ServerSideEncryption="AES256")
    assert s3.get_object(Bucket=bucket, Key="aes")["ServerSideEncryption"] == "AES256"


def test_object_tagging(s3, bucket):
    s3.put_object(Bucket=bucket, Key="t", Body=b"x", Tagging="env=dev&team=ml%20ops")
    assert s3.get_object(Bucket=bucket, Key="t")["TagCount"] == 2
    tags = {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket=bucket, Key="t")["TagSet"]}
    assert tags == {"env": "dev", "team": "ml ops"}
    s3.put_object_tagging(Bucket=bucket, Key="t", Tagging={"TagSet": [{"Key": "k", "Value": "v"}]})
    assert s3.get_object_tagging(Bucket=bucket, Key="t")["TagSet"] == [{"Key": "k", "Value": "v"}]
    with pytest.raises(botocore.exceptions.ClientError) as info:
        s3.put_object_tagging(
            Bucket=bucket, Key="t", Tagging={"TagSet": [{"Key": f"k{i}", "Value": "v"} for i in range(11)]}
        )
    assert _code(info) == "BadRequest"
    s3.delete_object_tagging(Bucket=bucket, Key="t")
    assert s3.get_object_tagging(Bucket=bucket, Key="t")["TagSet"] == []
    with pytest.raises(botocore.exceptions.ClientError) as info:
        s3.get_object_tagging(Bucket=bucket, Key="missing")
    assert _code(info) == "NoSuchKey"


def test_virtual_hosted_style(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="v/key.txt", Body=b"virtual")
    status, _, body = raw_request(
        server, "GET", "/v/key.txt", endpoint=f"http://{bucket}.localhost:{server.port}"
    )
    assert status == 200 and body == b"virtual"
    status, _, body = raw_request(
        server, "PUT", "/v/put.txt", b"via host", endpoint=f"http://{bucket}.s3.localhost:{server.port}"
    )
    assert status == 200
    assert s3.get_object(Bucket=bucket, Key="v/put.txt")["Body"].read() == b"via host"
    status, _, body = raw_request(
        server, "GET", "/?list-type=2&prefix=v%2F", endpoint=f"http://{bucket}.localhost:{server.port}"
    )
    assert status == 200 and b"<Key>v/key.txt</Key>" in body and b"<Key>v/put.txt</Key>" in body


def test_presigned_urls(server, s3, bucket):
    from botocore.config import Config

    s3.put_object(Bucket=bucket, Key="p/file.bin", Body=b"presigned!")
    # SigV4 query auth (boto3 presigns with SigV2 unless told s3v4, and SigV2 is not served)
    s3 = server.client("s3", config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
    url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "p/file.bin"}, ExpiresIn=60
    )
    with urllib.request.urlopen(url) as response:
        assert response.read() == b"presigned!"
    put_url = s3.generate_presigned_url(
        "put_object", Params={"Bucket": bucket, "Key": "p/up.bin"}, ExpiresIn=60
    )
    request = urllib.request.Request(put_url, data=b"uploaded", method="PUT")
    with urllib.request.urlopen(request) as response:
        assert response.status == 200
    assert s3.get_object(Bucket=bucket, Key="p/up.bin")["Body"].read() == b"uploaded"
    expired = s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "p/file.bin"}, ExpiresIn=1
    )
    time.sleep(2.1)
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(expired)
    assert info.value.code == 403 and b"AccessDenied" in info.value.read()
    tampered = url.replace("p/file.bin", "p/up.bin")
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(tampered)
    assert info.value.code == 403 and b"SignatureDoesNotMatch" in info.value.read()


def _signed_headers(server, method: str, path: str, body: bytes, extra: dict) -> dict:
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    key, secret = server.credentials()
    request = AWSRequest(method=method, url=server.url + path, data=body, headers=extra)
    request.headers["X-Amz-Content-SHA256"] = hashlib.sha256(body).hexdigest()
    S3SigV4Auth(Credentials(key, secret), "s3", "us-east-1").add_auth(request)
    return dict(request.headers.items())


def _read_response(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def test_expect_100_continue(server, s3, bucket):
    body = b"x" * 100_000
    headers = _signed_headers(
        server, "PUT", f"/{bucket}/expect", body, {"Expect": "100-continue", "Content-Length": str(len(body))}
    )
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        head = f"PUT /{bucket}/expect HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        sock.sendall(head.encode())
        interim = _read_response(sock)
        assert interim.startswith(b"HTTP/1.1 100")
        sock.sendall(body)
        final = _read_response(sock)
        assert final.startswith(b"HTTP/1.1 200")
    assert s3.get_object(Bucket=bucket, Key="expect")["Body"].read() == body


def test_upload_cut_off_mid_stream_leaves_nothing(server, s3, bucket):
    body = b"y" * 1_000_000
    headers = _signed_headers(server, "PUT", f"/{bucket}/cut", body, {"Content-Length": str(len(body))})
    tmp = server.data_dir / "objects" / ".tmp"
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        head = f"PUT /{bucket}/cut HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        sock.sendall(head.encode() + body[:300_000])
        time.sleep(0.3)
    deadline = time.time() + 5
    while time.time() < deadline and any(p.is_file() for p in tmp.rglob("*")):
        time.sleep(0.05)
    assert not any(p.is_file() for p in tmp.rglob("*"))
    assert _absent(s3, bucket, "cut")
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)


def _https_capture(server, operation: str, **params):
    """The exact request boto3 1.44 sends over https (aws-chunked with a CRC32 trailer)."""
    import boto3
    from botocore.config import Config

    key, secret = server.credentials()
    client = boto3.client(
        "s3",
        endpoint_url=f"https://127.0.0.1:{server.port}",
        region_name="us-east-1",
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )
    captured = {}

    def grab(request, **_):
        captured["request"] = request
        from botocore.awsrequest import AWSResponse

        class Raw:
            def stream(self, *args, **kwargs):
                yield b""

        return AWSResponse(request.url, 200, {}, Raw())

    client.meta.events.register_first("before-send", grab)
    getattr(client, operation)(**params)
    return captured["request"]


def _replay(server, request, mutate=None) -> tuple[int, bytes]:
    body = request.body
    body = body.read() if hasattr(body, "read") else (body or b"")
    if mutate:
        body = mutate(body)
    path = request.url.split(str(server.port), 1)[1]
    headers = {
        k: v.decode() if isinstance(v, bytes) else v
        for k, v in request.headers.items()
        if k.lower() != "transfer-encoding"
    }
    headers["Content-Length"] = str(len(body))
    headers.setdefault("Host", f"127.0.0.1:{server.port}")
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.putrequest(request.method, path, skip_host=True, skip_accept_encoding=True)
        for name, value in headers.items():
            conn.putheader(name, value)
        conn.endheaders(body)
        response = conn.getresponse()  # skips the interim 100 Continue
        return response.status, response.read()
    finally:
        conn.close()


def test_aws_chunked_upload_with_trailer_checksum(server, s3, bucket):
    data = b"chunked payload " * 5000
    request = _https_capture(server, "put_object", Bucket=bucket, Key="chunked", Body=data)
    assert request.headers["x-amz-content-sha256"] in (
        "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        b"STREAMING-UNSIGNED-PAYLOAD-TRAILER",
    )
    status, response = _replay(server, request)
    assert status == 200, response
    got = s3.get_object(Bucket=bucket, Key="chunked", ChecksumMode="ENABLED")
    assert got["Body"].read() == data and "ContentEncoding" not in got
    assert got["ChecksumCRC32"] == base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
    # a corrupted payload byte fails the trailer checksum: nothing replaces the stored object
    request = _https_capture(server, "put_object", Bucket=bucket, Key="chunked", Body=b"z" * 1000)
    status, response = _replay(server, request, lambda b: b.replace(b"z" * 10, b"q" + b"z" * 9, 1))
    assert status == 400 and b"BadDigest" in response
    assert s3.get_object(Bucket=bucket, Key="chunked")["Body"].read() == data
    # a truncated aws-chunked body is refused too
    request = _https_capture(server, "put_object", Bucket=bucket, Key="chunked2", Body=b"w" * 1000)
    status, response = _replay(server, request, lambda b: b[:-40])
    assert status == 400 and b"IncompleteBody" in response
    assert _absent(s3, bucket, "chunked2")
