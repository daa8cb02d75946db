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
def test_assume_a_role_that_does_not_exist(strict_server, role_arn):
    """SAGESTACK_STRICT_ROLES=1: only created roles (and the built-in one) may be assumed."""
    caller = strict_server.client("sts").get_caller_identity()["Arn"]
    with pytest.raises(ClientError) as info:
        strict_server.client("sts").assume_role(RoleArn=role_arn, RoleSessionName="probe")
    assert _code(info) == ("AccessDenied", 403)
    assert info.value.response["Error"]["Message"] == (
        f"User: {caller} is not authorized to perform: sts:AssumeRole on resource: {role_arn}"
    )


def test_assume_role_with_a_malformed_arn(server):
    with pytest.raises(ClientError) as info:
        server.client("sts").assume_role(RoleArn="arn:aws:s3:::not-a-role-arn", RoleSessionName="probe")
    assert _code(info) == ("ValidationError", 400)


@pytest.mark.parametrize(
    "role_arn",
    [
        "arn:aws:iam::111122223333:role/SageMakerRole",
        "arn:aws:iam::000000000000:role/service-role/AmazonSageMaker-ExecutionRole-20260101T000000",
    ],
)
def test_assume_a_role_from_any_account(server, role_arn):
    """By default every well-formed role ARN is a role that exists; its credentials act in its account."""
    account = role_arn.split(":")[4]
    name = role_arn.rsplit("/", 1)[1]
    out = server.client("sts").assume_role(RoleArn=role_arn, RoleSessionName="probe", DurationSeconds=7200)
    assert out["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{account}:assumed-role/{name}/probe"
    assert out["AssumedRoleUser"]["AssumedRoleId"].startswith("AROA")
    identity = _client(server, out["Credentials"]).get_caller_identity()
    assert identity["Account"] == account and identity["Arn"] == out["AssumedRoleUser"]["Arn"]
    with pytest.raises(ClientError) as info:  # an implicit role's MaxSessionDuration is 12 hours
        server.client("sts").assume_role(RoleArn=role_arn, RoleSessionName="probe", DurationSeconds=43201)
    assert _code(info) == ("ValidationError", 400)


def test_assume_a_created_role_under_strict_roles(strict_server):
    name = f"sts-strict-{uuid.uuid4().hex[:8]}"
    trust = json.dumps({"Version": "2012-10-17", "Statement": []})
    arn = strict_server.client("iam").create_role(RoleName=name, AssumeRolePolicyDocument=trust)["Role"][
        "Arn"
    ]
    out = strict_server.client("sts").assume_role(RoleArn=arn, RoleSessionName="probe")
    assert out["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::000000000000:assumed-role/{name}/probe"
