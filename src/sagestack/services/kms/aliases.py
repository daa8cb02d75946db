"""KMS aliases: ``alias/<name>`` naming a key, usable wherever a KeyId is taken."""

from __future__ import annotations

from ...protocol.errors import ServiceError
from ...store.kms import Key
from ..context import RequestContext
from ..registry import OperationTable
from .common import errors, find_key, keys, page

OPERATIONS = OperationTable("kms", errors)


def _check_name(name: str) -> None:
    if not name.startswith("alias/") or len(name) <= len("alias/"):
        raise ServiceError(
            "ValidationException",
            'Alias must start with the prefix "alias/". Please see '
            "https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html",
            400,
        )
    if name.startswith("alias/aws/"):
        raise ServiceError(
            "InvalidAliasNameException",
            f"{name}: alias names that begin with alias/aws/ are reserved for AWS managed keys.",
            400,
        )


def _target(ctx: RequestContext, target: str) -> Key:
    if target.startswith("alias/") or ":alias/" in target:
        raise ServiceError(
            "ValidationException", "TargetKeyId must be a key ID or a key ARN, not an alias.", 400
        )
    key = find_key(ctx, target)
    if key.state == "PendingDeletion":
        raise ServiceError("KMSInvalidStateException", f"{key.arn} is pending deletion.", 400)
    if key.metadata["KeyManager"] == "AWS":
        raise ServiceError(
            "NotAuthorizedException", f"{key.arn} is an AWS managed key: aliases cannot point to it.", 400
        )
    return key


@OPERATIONS.handler("CreateAlias")
def create_alias(ctx: RequestContext, params: dict) -> dict:
    _check_name(params["AliasName"])
    keys(ctx).create_alias(
        ctx.account_id, ctx.region, params["AliasName"], _target(ctx, params["TargetKeyId"])
    )
    return {}


@OPERATIONS.handler("UpdateAlias")
def update_alias(ctx: RequestContext, params: dict) -> dict:
    _check_name(params["AliasName"])
    keys(ctx).update_alias(
        ctx.account_id, ctx.region, params["AliasName"], _target(ctx, params["TargetKeyId"])
    )
    return {}


@OPERATIONS.handler("DeleteAlias")
def delete_alias(ctx: RequestContext, params: dict) -> dict:
    _check_name(params["AliasName"])
    keys(ctx).delete_alias(ctx.account_id, ctx.region, params["AliasName"])
    return {}


@OPERATIONS.handler("ListAliases")
def list_aliases(ctx: RequestContext, params: dict) -> dict:
    key_id = None
    if params.get("KeyId"):
        if params["KeyId"].startswith("alias/") or ":alias/" in params["KeyId"]:
            raise ServiceError("InvalidArnException", "KeyId must be a key ID or a key ARN.", 400)
        key_id = find_key(ctx, params["KeyId"]).key_id
    items, extra = page(
        params,
        lambda limit, marker: keys(ctx).list_aliases(ctx.account_id, ctx.region, key_id, limit, marker),
    )
    return {"Aliases": items, **extra}
