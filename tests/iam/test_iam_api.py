"""IAM through boto3: every operation sagestack answers, its happy path and its errors. IAM here is the
part the SageMaker SDKs need (roles, and the policy simulation SDK v3 runs); policies are not enforced."""

from __future__ import annotations

import json
import uuid

import pytest
from botocore.exceptions import ClientError

TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}
DEFAULT = "SageStackExecutionRole"


def _code(info) -> tuple[str, int]:
    return info.value.response["Error"]["Code"], info.value.response["ResponseMetadata"]["HTTPStatusCode"]


def _name(prefix: str = "iam-role") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def iam(server):
    return server.client("iam")


@pytest.fixture
def strict_iam(strict_server):
    """IAM of a server with SAGESTACK_STRICT_ROLES=1 (only created roles exist)."""
    return strict_server.client("iam")


def test_get_the_built_in_role(iam):
    role = iam.get_role(RoleName=DEFAULT)["Role"]
    assert role["Arn"] == f"arn:aws:iam::000000000000:role/{DEFAULT}" and role["Path"] == "/"
    assert role["RoleId"].startswith("AROA") and role["MaxSessionDuration"] == 43200
    principal = role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]
    assert principal == {"Service": "sagemaker.amazonaws.com"}


def test_get_role_that_does_not_exist(strict_iam):
    with pytest.raises(ClientError) as info:
        strict_iam.get_role(RoleName="no-such-role")
    assert _code(info) == ("NoSuchEntity", 404)
    assert info.value.response["Error"]["Message"] == "The role with name no-such-role cannot be found."


def test_create_role_then_get_it(iam):
    name = _name()
    created = iam.create_role(
        RoleName=name,
        Path="/team/",
        AssumeRolePolicyDocument=json.dumps(TRUST),
        Description="for the tests",
        MaxSessionDuration=7200,
        Tags=[{"Key": "owner", "Value": "tests"}],
    )["Role"]
    assert created["Arn"] == f"arn:aws:iam::000000000000:role/team/{name}"
    role = iam.get_role(RoleName=name)["Role"]
    assert role["RoleName"] == name and role["Path"] == "/team/" and role["RoleId"] == created["RoleId"]
    assert role["AssumeRolePolicyDocument"] == TRUST  # URL-encoded on the wire, as IAM does
    assert role["Description"] == "for the tests" and role["MaxSessionDuration"] == 7200
    assert role["Tags"] == [{"Key": "owner", "Value": "tests"}]


def test_create_role_errors(iam):
    name = _name()
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))
    for role_name in (name, DEFAULT):
        with pytest.raises(ClientError) as info:
            iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(TRUST))
        assert _code(info) == ("EntityAlreadyExists", 409)
        assert info.value.response["Error"]["Message"] == f"Role with name {role_name} already exists."
    with pytest.raises(ClientError) as info:
        iam.create_role(RoleName=_name(), AssumeRolePolicyDocument="{not json")
    assert _code(info) == ("MalformedPolicyDocument", 400)


def test_delete_role(strict_iam):
    name = _name()
    strict_iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))
    strict_iam.delete_role(RoleName=name)
    with pytest.raises(ClientError) as info:
        strict_iam.get_role(RoleName=name)
    assert _code(info) == ("NoSuchEntity", 404)


def test_delete_role_errors(iam):
    with pytest.raises(ClientError) as info:
        iam.delete_role(RoleName="no-such-role")
    assert _code(info) == ("NoSuchEntity", 404)
    with pytest.raises(ClientError) as info:
        iam.delete_role(RoleName=DEFAULT)
    assert _code(info) == ("UnmodifiableEntity", 400)
    assert iam.get_role(RoleName=DEFAULT)["Role"]["RoleName"] == DEFAULT


def test_list_roles(iam):
    names = {_name("list-a"), _name("list-b")}
    for name in names:
        iam.create_role(RoleName=name, Path="/listed/", AssumeRolePolicyDocument=json.dumps(TRUST))
    everything = [r["RoleName"] for r in iam.list_roles()["Roles"]]
    assert DEFAULT in everything and names <= set(everything)
    listed = iam.list_roles(PathPrefix="/listed/")
    assert {r["RoleName"] for r in listed["Roles"]} >= names
    assert all(r["Path"].startswith("/listed/") for r in listed["Roles"]) and listed["IsTruncated"] is False
    assert iam.list_roles(PathPrefix="/nothing-here/")["Roles"] == []


def test_list_roles_with_an_invalid_path_prefix(iam):
    with pytest.raises(ClientError) as info:
        iam.list_roles(PathPrefix="no-leading-slash")
    assert _code(info) == ("ValidationError", 400)
    assert (
        "pathPrefix" in info.value.response["Error"]["Message"]
        or "PathPrefix" in info.value.response["Error"]["Message"]
    )


def test_simulate_principal_policy(iam):
    out = iam.simulate_principal_policy(
        PolicySourceArn=f"arn:aws:iam::000000000000:role/{DEFAULT}",
        ActionNames=["sagemaker:CreateTrainingJob", "s3:GetObject"],
        ResourceArns=["*"],
    )
    results = {
        (r["EvalActionName"], r["EvalResourceName"]): r["EvalDecision"] for r in out["EvaluationResults"]
    }
    assert results == {("sagemaker:CreateTrainingJob", "*"): "allowed", ("s3:GetObject", "*"): "allowed"}


def test_simulate_principal_policy_for_a_missing_role(strict_iam):
    with pytest.raises(ClientError) as info:
        strict_iam.simulate_principal_policy(
            PolicySourceArn="arn:aws:iam::000000000000:role/no-such-role", ActionNames=["s3:GetObject"]
        )
    assert _code(info) == ("NoSuchEntity", 404)


# -- roles from any account (the default; SAGESTACK_STRICT_ROLES=1 turns it off) ---------------------

FOREIGN = "arn:aws:iam::111122223333:role/SageMakerRole"


def test_any_role_name_is_an_execution_role(iam):
    """GetRole of a role nobody created answers as IAM does for a SageMaker execution role."""
    role = iam.get_role(RoleName="SageMakerRole")["Role"]
    assert role["RoleName"] == "SageMakerRole" and role["Path"] == "/"
    assert role["Arn"] == "arn:aws:iam::000000000000:role/SageMakerRole"
    assert role["RoleId"].startswith("AROA") and role["MaxSessionDuration"] == 43200
    principal = role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]
    assert principal == {"Service": "sagemaker.amazonaws.com"}
    # nothing is stored: ListRoles shows created roles only, and DeleteRole still says it is not there
    assert "SageMakerRole" not in [r["RoleName"] for r in iam.list_roles()["Roles"]]
    with pytest.raises(ClientError) as info:
        iam.delete_role(RoleName="SageMakerRole")
    assert _code(info) == ("NoSuchEntity", 404)


def test_a_created_role_still_answers_as_created(iam):
    name = _name()
    iam.create_role(RoleName=name, Path="/team/", AssumeRolePolicyDocument=json.dumps(TRUST), Description="x")
    role = iam.get_role(RoleName=name)["Role"]
    assert role["Path"] == "/team/" and role["Description"] == "x" and role["MaxSessionDuration"] == 3600


def test_simulate_principal_policy_for_a_foreign_account_role(iam):
    """What SDK v3's ModelTrainer checks before it creates a training job."""
    out = iam.simulate_principal_policy(
        PolicySourceArn=FOREIGN,
        ActionNames=["sagemaker:CreateTrainingJob", "s3:GetObject", "iam:PassRole"],
        ResourceArns=["*"],
    )
    assert [r["EvalDecision"] for r in out["EvaluationResults"]] == ["allowed"] * 3
    assert out["IsTruncated"] is False


def test_strict_roles_refuse_roles_nobody_created(strict_iam):
    with pytest.raises(ClientError) as info:
        strict_iam.simulate_principal_policy(PolicySourceArn=FOREIGN, ActionNames=["s3:GetObject"])
    assert _code(info) == ("NoSuchEntity", 404)
    with pytest.raises(ClientError) as info:
        strict_iam.get_role(RoleName="SageMakerRole")
    assert _code(info) == ("NoSuchEntity", 404)
    assert strict_iam.get_role(RoleName=DEFAULT)["Role"]["RoleName"] == DEFAULT
