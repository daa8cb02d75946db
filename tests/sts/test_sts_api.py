"""STS through boto3: every operation sagestack answers, its happy path and its errors."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import boto3
import pytest
from botocore.exceptions import ClientError

DEFAULT_ROLE = "arn:aws:iam::000000000000:role/SageStackExecutionRole"


def _code(info) -> tuple[str, int]:
    return info.value.response["Error"]["Code"], info.value.response["ResponseMetadata"]["HTTPStatusCode"]


def _client(server, creds: dict):
    return boto3.client(
        "sts",
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds.get("SessionToken"),
    )


def test_get_caller_identity(server):
    ident = server.client("sts").get_caller_identity()
    assert ident["Account"] == "000000000000"
    assert ident["Arn"] == "arn:aws:sts::000000000000:assumed-role/SageStackExecutionRole/sagestack"
    role_id = server.client("iam").get_role(RoleName="SageStackExecutionRole")["Role"]["RoleId"]
    assert ident["UserId"] == f"{role_id}:sagestack"  # as AWS: <role id>:<session name>


def test_get_caller_identity_with_an_unknown_key(server):
    sts = boto3.client(
        "sts",
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id="AKIANOTAKEYOFTHISSRV",
        aws_secret_access_key="x" * 40,
    )
    with pytest.raises(ClientError) as info:
        sts.get_caller_identity()
    assert _code(info) == ("InvalidClientTokenId", 403)
    assert info.value.response["Error"]["Message"] == "The security token included in the request is invalid."


def test_get_session_token(server):
    creds = server.client("sts").get_session_token(DurationSeconds=900)["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA") and creds["SessionToken"]
    left = creds["Expiration"] - dt.datetime.now(dt.timezone.utc)
    assert dt.timedelta(seconds=800) < left <= dt.timedelta(seconds=900)
    ident = _client(server, creds).get_caller_identity()
    assert ident["Arn"] == server.client("sts").get_caller_identity()["Arn"]  # the same principal


def test_get_session_token_errors(server):
    with pytest.raises(ClientError) as info:
        server.client("sts").get_session_token(DurationSeconds=129601)
    assert _code(info) == ("ValidationError", 400)
    assert "'durationSeconds' failed to satisfy constraint" in info.value.response["Error"]["Message"]
    creds = server.client("sts").get_session_token()["Credentials"]
    forged = dict(creds, SessionToken=creds["SessionToken"][:-4] + "AAAA")
    with pytest.raises(ClientError) as info:
        _client(server, forged).get_caller_identity()
    assert _code(info) == ("InvalidClientTokenId", 403)


def test_assume_the_default_role(server):
    out = server.client("sts").assume_role(
        RoleArn=DEFAULT_ROLE, RoleSessionName="job-1", DurationSeconds=7200
    )
    assert out["AssumedRoleUser"]["Arn"] == (
        "arn:aws:sts::000000000000:assumed-role/SageStackExecutionRole/job-1"
    )
    ident = _client(server, out["Credentials"]).get_caller_identity()
    assert ident["Arn"] == out["AssumedRoleUser"]["Arn"]
    assert ident["UserId"] == out["AssumedRoleUser"]["AssumedRoleId"]


def test_assume_a_created_role(server):
    name = f"sts-role-{uuid.uuid4().hex[:8]}"
    trust = json.dumps({"Version": "2012-10-17", "Statement": []})
    arn = server.client("iam").create_role(RoleName=name, Path="/service/", AssumeRolePolicyDocument=trust)[
        "Role"
    ]["Arn"]
    assert arn == f"arn:aws:iam::000000000000:role/service/{name}"
    out = server.client("sts").assume_role(RoleArn=arn, RoleSessionName="probe")
    sts = _client(server, out["Credentials"])
    assert sts.get_caller_identity()["Arn"] == f"arn:aws:sts::000000000000:assumed-role/{name}/probe"
    with pytest.raises(ClientError) as info:  # the role's MaxSessionDuration (3600 unless set)
        server.client("sts").assume_role(RoleArn=arn, RoleSessionName="probe", DurationSeconds=3601)
    assert _code(info) == ("ValidationError", 400)
    assert info.value.response["Error"]["Message"] == (
        "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
    )


@pytest.mark.parametrize(
    "role_arn",
    [
        "arn:aws:iam::000000000000:role/NoSuchRole",
        "arn:aws:iam::000000000000:role/wrong-path/SageStackExecutionRole",  # a role's ARN carries its path
        "arn:aws:iam::123456789012:role/SageStackExecutionRole",  # the built-in role is the caller account's
    ],
)
def test_assume_a_role_that_does_not_exist(server, role_arn):
    caller = server.client("sts").get_caller_identity()["Arn"]
    with pytest.raises(ClientError) as info:
        server.client("sts").assume_role(RoleArn=role_arn, RoleSessionName="probe")
    assert _code(info) == ("AccessDenied", 403)
    assert info.value.response["Error"]["Message"] == (
        f"User: {caller} is not authorized to perform: sts:AssumeRole on resource: {role_arn}"
    )


def test_assume_role_with_a_malformed_arn(server):
    with pytest.raises(ClientError) as info:
        server.client("sts").assume_role(RoleArn="arn:aws:s3:::not-a-role-arn", RoleSessionName="probe")
    assert _code(info) == ("ValidationError", 400)
