"""boto3's default presigned URLs for S3 use Signature Version 2: they work, and are checked."""

import urllib.error
import urllib.request

import pytest


def test_default_presigned_get_and_put(server):
    s3 = server.client("s3")
    import boto3
    from botocore.config import Config

    key, secret = server.credentials()
    plain = boto3.client(
        "s3",
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=Config(s3={"addressing_style": "path"}),
    )
    s3.create_bucket(Bucket="presign-v2")
    put_url = plain.generate_presigned_url("put_object", Params={"Bucket": "presign-v2", "Key": "a b+c.txt"})
    assert "AWSAccessKeyId=" in put_url and "Signature=" in put_url
    import requests  # urllib would add a Content-Type the URL was not signed with

    assert requests.put(put_url, data=b"hello v2").status_code == 200
    get_url = plain.generate_presigned_url("get_object", Params={"Bucket": "presign-v2", "Key": "a b+c.txt"})
    with urllib.request.urlopen(get_url) as resp:
        assert resp.read() == b"hello v2"
    tampered = get_url.replace("a%20b", "a%20x")
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(tampered)
    assert info.value.code == 403 and b"SignatureDoesNotMatch" in info.value.read()
    expired = plain.generate_presigned_url(
        "get_object", Params={"Bucket": "presign-v2", "Key": "a b+c.txt"}, ExpiresIn=-10
    )
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(expired)
    assert info.value.code == 403 and b"Request has expired" in info.value.read()
