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
    sts = boto3.client("sts", endpoint_url=server.url, region_name="us-east-1",
                       aws_access_key_id=key, aws_secret_access_key="wrong" * 8)
    with pytest.raises(botocore.exceptions.ClientError) as info:
        sts.get_caller_identity()
    assert info.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
