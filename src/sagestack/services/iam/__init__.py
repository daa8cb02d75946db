"""IAM, as much as the SageMaker SDKs need: roles (GetRole for ``get_execution_role()``) and the
policy simulation SDK v3 runs before training. sagestack does not enforce IAM policies: every
principal holding a valid key may do everything, and the simulation says so.

Unless ``strict_roles`` is set, every role name (and every well-formed role ARN, of any account) names a
role that exists: code written for an AWS account carries its own execution role ARNs and runs unchanged.
A role that was not created answers as an execution role SageMaker may assume (an *implicit* role)."""

from __future__ import annotations

import datetime as dt
import json
import urllib.parse

from ...platform import DEFAULT_ROLE_NAME
from ...protocol.errors import ServiceError
from ...store.db import decode_token, encode_token
from ...store.resources import FieldFilter, ListQuery
from ..context import RequestContext
from ..errors import in_use_if_exists, resource_error
from ..registry import OperationTable

OPERATIONS = OperationTable("iam", errors=resource_error)

SAGEMAKER_TRUST_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "sagemaker.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}
ROLE_TYPE = "iam-role"


def _role_arn(account: str, name: str, path: str = "/") -> str:
    return f"arn:aws:iam::{account}:role{path}{name}"


def role_id(name: str) -> str:
    """The role's unique id (``AROA…``), stable for a name: STS's AssumedRoleId and UserId use it too."""
    return "AROA" + name.upper().encode().hex()[:17].upper()


def _default_role(ctx: RequestContext, name: str) -> dict:
    return {
        "Path": "/",
        "RoleName": name,
        "RoleId": role_id(name),
        "Arn": _role_arn(ctx.account_id, name),
        "CreateDate": dt.datetime.fromtimestamp(
            ctx.platform.default_credentials["created_at"], dt.timezone.utc
        ),
        "AssumeRolePolicyDocument": urllib.parse.quote(json.dumps(SAGEMAKER_TRUST_POLICY)),
        "Description": "The role sagestack's default credentials act as.",
        "MaxSessionDuration": 43200,
    }


def _implicit_role(ctx: RequestContext, account: str, name: str, path: str) -> dict:
    """A role nobody created, as IAM would describe a SageMaker execution role (not strict_roles)."""
    return {
        "Path": path,
        "RoleName": name,
        "RoleId": role_id(name),
        "Arn": _role_arn(account, name, path),
        "CreateDate": dt.datetime.fromtimestamp(
            ctx.platform.default_credentials["created_at"], dt.timezone.utc
        ),
        "AssumeRolePolicyDocument": urllib.parse.quote(json.dumps(SAGEMAKER_TRUST_POLICY)),
        "Description": "An execution role sagestack accepts by its ARN (it was not created here).",
        "MaxSessionDuration": 43200,
    }


def strict_roles(ctx: RequestContext) -> bool:
    return bool(ctx.platform.settings.strict_roles)


def find_role(
    ctx: RequestContext, name: str, account: str | None = None, path: str | None = None
) -> dict | None:
    """The role ``name`` of ``account`` (default: the caller's), or None. The built-in role exists in the
    caller's account; ``path`` (an ARN's) must match the stored role's. Unless strict_roles is set, a role
    that was not created is an implicit execution role."""
    account = account or ctx.account_id
    role = None
    if name == DEFAULT_ROLE_NAME and account == ctx.account_id:
        role = _default_role(ctx, name)
    else:
        # IAM is global: roles are stored under the region "global".
        found = ctx.platform.resources.get(account, "global", ROLE_TYPE, name)
        role = None if found is None else found.data
    if role is not None and (path is None or role.get("Path", "/") == path):
        return role
    if strict_roles(ctx):
        return None
    return _implicit_role(ctx, account, name, path or "/")


def _find_role(ctx: RequestContext, name: str) -> dict:
    role = find_role(ctx, name)
    if role is None:
        raise ServiceError("NoSuchEntity", f"The role with name {name} cannot be found.", 404)
    return role


@OPERATIONS.handler("GetRole")
def get_role(ctx: RequestContext, params: dict) -> dict:
    return {"Role": _find_role(ctx, params["RoleName"])}


@OPERATIONS.handler("CreateRole")
def create_role(ctx: RequestContext, params: dict) -> dict:
    name = params["RoleName"]
    path = params.get("Path", "/")
    if name == DEFAULT_ROLE_NAME:
        raise ServiceError("EntityAlreadyExists", f"Role with name {name} already exists.", 409)
    try:
        json.loads(urllib.parse.unquote(params["AssumeRolePolicyDocument"]))
    except ValueError:
        raise ServiceError("MalformedPolicyDocument", "This policy contains invalid Json", 400) from None
    role = {
        "Path": path,
        "RoleName": name,
        "RoleId": role_id(name),
        "Arn": _role_arn(ctx.account_id, name, path),
        "CreateDate": dt.datetime.now(dt.timezone.utc),
        "AssumeRolePolicyDocument": urllib.parse.quote(
            urllib.parse.unquote(params["AssumeRolePolicyDocument"])
        ),
        "MaxSessionDuration": params.get("MaxSessionDuration", 3600),
    }
    if params.get("Description"):
        role["Description"] = params["Description"]
    if params.get("Tags"):
        role["Tags"] = params["Tags"]
    with in_use_if_exists(f"Role with name {name} already exists.", "EntityAlreadyExists", 409):
        ctx.platform.resources.create(ctx.account_id, "global", ROLE_TYPE, name, role["Arn"], role)
    return {"Role": role}


@OPERATIONS.handler("DeleteRole")
def delete_role(ctx: RequestContext, params: dict) -> dict:
    name = params["RoleName"]
    if name == DEFAULT_ROLE_NAME or not ctx.platform.resources.delete(
        ctx.account_id, "global", ROLE_TYPE, name
    ):
        if name == DEFAULT_ROLE_NAME:
            raise ServiceError("UnmodifiableEntity", f"Cannot delete the built-in role {name}.", 400)
        raise ServiceError("NoSuchEntity", f"The role with name {name} cannot be found.", 404)
    return {}


@OPERATIONS.handler("ListRoles")
def list_roles(ctx: RequestContext, params: dict) -> dict:
    """Roles whose Path starts with PathPrefix, by name; the built-in role (never stored) comes first.
    The filter and the page are SQL's; the Marker counts positions in that combined order."""
    prefix = params.get("PathPrefix") or "/"
    limit = max(1, min(int(params.get("MaxItems") or 100), 1000))
    offset = decode_token(params.get("Marker"))["o"]
    builtin = [_default_role(ctx, DEFAULT_ROLE_NAME)] if "/".startswith(prefix) else []
    roles = builtin[offset : offset + limit]
    room = limit - len(roles)
    items, token = ctx.platform.resources.list(
        ctx.account_id,
        "global",
        ROLE_TYPE,
        ListQuery(
            fields=(FieldFilter.starts_with("Path", prefix),),
            sort_by="Name",
            sort_order="Ascending",
            max_results=max(room, 1),
            next_token=encode_token(max(0, offset - len(builtin))),
        ),
    )
    truncated = token is not None if room else bool(items)
    roles += [item.data for item in items[:room]]
    result: dict = {"Roles": roles, "IsTruncated": truncated}
    if truncated:
        result["Marker"] = encode_token(offset + len(roles))
    return result


@OPERATIONS.handler("SimulatePrincipalPolicy")
def simulate_principal_policy(ctx: RequestContext, params: dict) -> dict:
    source = params["PolicySourceArn"]
    if ":role/" in source:
        account = source.split(":")[4] if source.count(":") >= 5 else ""
        name = source.rsplit("/", 1)[1]
        if find_role(ctx, name, account if account.isdigit() else None) is None:
            raise ServiceError("NoSuchEntity", f"The role with name {name} cannot be found.", 404)
    resources = params.get("ResourceArns") or ["*"]
    results = [
        {
            "EvalActionName": action,
            "EvalResourceName": resource,
            "EvalDecision": "allowed",
            "MatchedStatements": [],
            "MissingContextValues": [],
        }
        for action in params["ActionNames"]
        for resource in resources
    ]
    limit = max(1, min(int(params.get("MaxItems") or 100), 1000))
    offset = decode_token(params.get("Marker"))["o"]
    result: dict = {
        "EvaluationResults": results[offset : offset + limit],
        "IsTruncated": offset + limit < len(results),
    }
    if result["IsTruncated"]:
        result["Marker"] = encode_token(offset + limit)
    return result
