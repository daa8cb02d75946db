"""STS: caller identity and temporary credentials that work against this server.

AssumeRole checks that the role exists (as AWS does: ``AccessDenied`` otherwise; unless strict_roles is
set every well-formed role ARN names one, see services/iam) and honours its MaxSessionDuration; it does
not evaluate the role's trust policy — sagestack enforces no IAM policies.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import time

from ...protocol.errors import ServiceError
from ...store.credentials import new_access_key_id, new_secret
from ..context import RequestContext
from ..iam import find_role, role_id
from ..registry import OperationTable

OPERATIONS = OperationTable("sts")

_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):role(/(?:[\w+=,.@-]+/)*)([\w+=,.@-]+)$")


def _user_id(ctx: RequestContext) -> str:
    arn = ctx.principal_arn
    if ":assumed-role/" in arn:
        role, session = arn.split(":assumed-role/", 1)[1].split("/", 1)
        return f"{role_id(role)}:{session}"
    return ctx.account_id if arn.endswith(":root") else f"AIDA{_stable_id(arn)}"


def _stable_id(text: str) -> str:
    import hashlib

    return hashlib.sha1(text.encode()).hexdigest()[:17].upper()


@OPERATIONS.handler("GetCallerIdentity")
def get_caller_identity(ctx: RequestContext, params: dict) -> dict:
    return {"UserId": _user_id(ctx), "Account": ctx.account_id, "Arn": ctx.principal_arn}


def _issue(ctx: RequestContext, principal_arn: str, duration: int, account: str | None = None) -> dict:
    key_id = new_access_key_id("ASIA")
    secret = new_secret()
    token = "FQoGZXIvYXdzE" + secrets.token_urlsafe(96)
    expires = time.time() + duration
    ctx.platform.credentials.put(key_id, secret, account or ctx.account_id, principal_arn, token, expires)
    return {
        "AccessKeyId": key_id,
        "SecretAccessKey": secret,
        "SessionToken": token,
        "Expiration": dt.datetime.fromtimestamp(expires, dt.timezone.utc),
    }


@OPERATIONS.handler("GetSessionToken")
def get_session_token(ctx: RequestContext, params: dict) -> dict:
    duration = params.get("DurationSeconds", 43200)
    if not 900 <= duration <= 129600:
        raise ServiceError(
            "ValidationError",
            f"1 validation error detected: Value '{duration}' at "
            "'durationSeconds' failed to satisfy constraint: Member must have value between 900 "
            "and 129600",
        )
    return {"Credentials": _issue(ctx, ctx.principal_arn, duration)}


@OPERATIONS.handler("AssumeRole")
def assume_role(ctx: RequestContext, params: dict) -> dict:
    role_arn = params["RoleArn"]
    match = _ROLE_ARN.match(role_arn)
    if not match:
        raise ServiceError("ValidationError", f"{role_arn} is invalid")
    account, path, name = match.group(1), match.group(2), match.group(3)
    role = find_role(ctx, name, account, path)
    if role is None:
        raise ServiceError(
            "AccessDenied",
            f"User: {ctx.principal_arn} is not authorized to perform: sts:AssumeRole on resource: {role_arn}",
            403,
        )
    duration = params.get("DurationSeconds", 3600)
    if not 900 <= duration <= role.get("MaxSessionDuration", 3600):
        raise ServiceError(
            "ValidationError",
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
        )
    session = params["RoleSessionName"]
    arn = f"arn:aws:sts::{account}:assumed-role/{name}/{session}"
    creds = _issue(ctx, arn, duration, account)
    return {
        "Credentials": creds,
        "AssumedRoleUser": {"AssumedRoleId": f"{role['RoleId']}:{session}", "Arn": arn},
        "PackedPolicySize": 0,
    }
