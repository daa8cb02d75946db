"""The server starts, answers health, and authenticates STS/IAM calls."""

import json
import urllib.request

import botocore.exceptions
import pytest


def test_health(server):
    with urllib.request.urlopen(server.url + "/_sagestack/health") as resp:
        body = json.loads(resp.read())
    assert body["status"] == "running"
    assert "sts" in body["services"]


def test_caller_identity(server):
    ident = server.client("sts").get_caller_identity()
    assert ident["Account"] == "000000000000"
    assert ":assumed-role/" in ident["Arn"]


def test_wrong_secret_refused(server):
    import boto3

    key, _ = server.credentials()
    sts = boto3.client(
        "sts",
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id=key,
        aws_secret_access_key="wrong" * 8,
    )
    with pytest.raises(botocore.exceptions.ClientError) as info:
        sts.get_caller_identity()
    assert info.value.response["Error"]["Code"] == "SignatureDoesNotMatch"


def test_unsigned_requests_refused(server):
    import urllib.error

    for url, code in (
        (server.url + "/some-bucket/key", b"<Code>AccessDenied</Code>"),
        (server.url + "/", b"MissingAuthenticationToken"),
    ):
        request = (
            urllib.request.Request(url, method="GET")
            if url.endswith("key")
            else urllib.request.Request(
                url,
                data=b"Action=GetCallerIdentity&Version=2011-06-15",
                method="POST",
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
        )
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(request)
        assert info.value.code == 403
        assert code in info.value.read()
