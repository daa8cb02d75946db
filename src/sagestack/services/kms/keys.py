"""KMS keys: create, describe, list, enable/disable, deletion scheduling, key policies, rotation
settings (recorded) and tags."""

from __future__ import annotations

import datetime as dt
import json

from ...protocol.errors import ServiceError
from ...store.kms import SYMMETRIC, Key
from ..context import RequestContext
from ..registry import OperationTable
from .common import errors, find_key, keys, page, page_of

OPERATIONS = OperationTable("kms", errors)
POLICY_NAME = "default"
DEFAULT_ROTATION_DAYS = 365


def _unsupported(what: str) -> ServiceError:
    return ServiceError(
        "UnsupportedOperationException",
        f"{what} is not supported by sagestack's KMS: it serves symmetric encryption keys "
        f"(KeySpec {SYMMETRIC}, KeyUsage ENCRYPT_DECRYPT, Origin AWS_KMS).",
        400,
    )


def _check_policy(text: str) -> None:
    try:
        document = json.loads(text)
    except ValueError:
        document = None
    if not isinstance(document, dict) or not document.get("Statement"):
        raise ServiceError(
            "MalformedPolicyDocumentException",
            "The new key policy will not allow you to update the key policy in the future.",
            400,
        )


def _not_pending(key: Key) -> None:
    if key.state == "PendingDeletion":
        raise ServiceError("KMSInvalidStateException", f"{key.arn} is pending deletion.", 400)


@OPERATIONS.handler("CreateKey")
def create_key(ctx: RequestContext, params: dict) -> dict:
    spec = params.get("KeySpec") or params.get("CustomerMasterKeySpec") or SYMMETRIC
    if spec != SYMMETRIC:
        raise _unsupported(f"KeySpec {spec}")
    if params.get("KeyUsage", "ENCRYPT_DECRYPT") != "ENCRYPT_DECRYPT":
        raise _unsupported(f"KeyUsage {params['KeyUsage']}")
    if params.get("Origin", "AWS_KMS") != "AWS_KMS":
        raise _unsupported(f"Origin {params['Origin']}")
    if params.get("CustomKeyStoreId") or params.get("XksKeyId"):
        raise _unsupported("A custom key store")
    if params.get("Policy") is not None:
        _check_policy(params["Policy"])
    key = keys(ctx).create_key(
        ctx.account_id,
        ctx.region,
        description=params.get("Description", ""),
        policy=params.get("Policy"),
        tags=params.get("Tags"),
        multi_region=bool(params.get("MultiRegion")),
    )
    return {"KeyMetadata": key.metadata}


@OPERATIONS.handler("DescribeKey")
def describe_key(ctx: RequestContext, params: dict) -> dict:
    return {"KeyMetadata": find_key(ctx, params["KeyId"]).metadata}


@OPERATIONS.handler("ListKeys")
def list_keys(ctx: RequestContext, params: dict) -> dict:
    items, extra = page(
        params, lambda limit, marker: keys(ctx).list_keys(ctx.account_id, ctx.region, limit, marker)
    )
    return {"Keys": [{"KeyId": k.key_id, "KeyArn": k.arn} for k in items], **extra}


@OPERATIONS.handler("EnableKey")
def enable_key(ctx: RequestContext, params: dict) -> dict:
    key = find_key(ctx, params["KeyId"])
    _not_pending(key)
    keys(ctx).set_state(key, "Enabled")
    return {}


@OPERATIONS.handler("DisableKey")
def disable_key(ctx: RequestContext, params: dict) -> dict:
    key = find_key(ctx, params["KeyId"])
    _not_pending(key)
    keys(ctx).set_state(key, "Disabled")
    return {}


@OPERATIONS.handler("ScheduleKeyDeletion")
def schedule_key_deletion(ctx: RequestContext, params: dict) -> dict:
    days = params.get("PendingWindowInDays", 30)
    if not 7 <= days <= 30:
        bound = "greater than or equal to 7" if days < 7 else "less than or equal to 30"
        raise ServiceError(
            "ValidationException",
            f"1 validation error detected: Value '{days}' at "
            f"'pendingWindowInDays' failed to satisfy constraint: Member must have value {bound}",
        )
    key = find_key(ctx, params["KeyId"])
    _not_pending(key)
    if key.metadata["KeyManager"] == "AWS":
        raise ServiceError(
            "UnsupportedOperationException",
            f"{key.arn} is an AWS managed key: it cannot be scheduled for deletion.",
            400,
        )
    deletion = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=days)
    keys(ctx).set_state(key, "PendingDeletion", DeletionDate=deletion, PendingDeletionWindowInDays=days)
    return {
        "KeyId": key.arn,
        "DeletionDate": deletion,
        "KeyState": "PendingDeletion",
        "PendingWindowInDays": days,
    }


@OPERATIONS.handler("CancelKeyDeletion")
def cancel_key_deletion(ctx: RequestContext, params: dict) -> dict:
    key = find_key(ctx, params["KeyId"])
    if key.state != "PendingDeletion":
        raise ServiceError("KMSInvalidStateException", f"{key.arn} is not pending deletion.", 400)
    keys(ctx).set_state(key, "Disabled")  # KMS leaves a key it no longer deletes disabled
    return {"KeyId": key.arn}


@OPERATIONS.handler("UpdateKeyDescription")
def update_key_description(ctx: RequestContext, params: dict) -> dict:
    key = find_key(ctx, params["KeyId"])
    _not_pending(key)
    key.metadata["Description"] = params["Description"]
    keys(ctx).save(key)
    return {}


# -- key policies ------------------------------------------------------------------------------


def _policy_name(params: dict) -> None:
    if params.get("PolicyName", POLICY_NAME) != POLICY_NAME:
        raise ServiceError("NotFoundException", "No such policy exists", 400)


@OPERATIONS.handler("GetKeyPolicy")
def get_key_policy(ctx: RequestContext, params: dict) -> dict:
    _policy_name(params)
    key = find_key(ctx, params["KeyId"])
    return {"Policy": key.resource.data["Policy"], "PolicyName": POLICY_NAME}


@OPERATIONS.handler("PutKeyPolicy")
def put_key_policy(ctx: RequestContext, params: dict) -> dict:
    _policy_name(params)
    _check_policy(params["Policy"])
    key = find_key(ctx, params["KeyId"])
    _not_pending(key)
    key.resource.data["Policy"] = params["Policy"]
    keys(ctx).save(key)
    return {}


@OPERATIONS.handler("ListKeyPolicies")
def list_key_policies(ctx: RequestContext, params: dict) -> dict:
    find_key(ctx, params["KeyId"])
    names, extra = page(params, lambda limit, marker: page_of([POLICY_NAME], limit, marker))
    return {"PolicyNames": names, **extra}


# -- rotation (recorded: key material is never rotated) ----------------------------------------


@OPERATIONS.handler("GetKeyRotationStatus")
def get_key_rotation_status(ctx: RequestContext, params: dict) -> dict:
    key = find_key(ctx, params["KeyId"])
    data = key.resource.data
    enabled = bool(data.get("RotationEnabled")) or key.metadata["KeyManager"] == "AWS"
    out = {"KeyRotationEnabled": enabled, "KeyId": key.arn}
    if enabled:
        days = data.get("RotationPeriodInDays", DEFAULT_ROTATION_DAYS)
        since = data.get("RotationEnabledAt") or key.metadata["CreationDate"]
        out.update(RotationPeriodInDays=days, NextRotationDate=since + dt.timedelta(days=days))
    return out


@OPERATIONS.handler("EnableKeyRotation")
def enable_key_rotation(ctx: RequestContext, params: dict) -> dict:
    key = find_key(ctx, params["KeyId"])
    keys(ctx).check_usable(key)
    key.resource.data.update(
        RotationEnabled=True,
        RotationEnabledAt=dt.datetime.now(dt.timezone.utc),
        RotationPeriodInDays=params.get("RotationPeriodInDays", DEFAULT_ROTATION_DAYS),
    )
    keys(ctx).save(key)
    return {}


@OPERATIONS.handler("DisableKeyRotation")
def disable_key_rotation(ctx: RequestContext, params: dict) -> dict:
    key = find_key(ctx, params["KeyId"])
    keys(ctx).check_usable(key)
    key.resource.data["RotationEnabled"] = False
    keys(ctx).save(key)
    return {}


# -- tags -----------------------------------------------------------------------------------


@OPERATIONS.handler("TagResource")
def tag_resource(ctx: RequestContext, params: dict) -> dict:
    key = find_key(ctx, params["KeyId"])
    _not_pending(key)
    ctx.platform.resources.add_tags(
        key.arn, [{"Key": t["TagKey"], "Value": t.get("TagValue", "")} for t in params["Tags"]]
    )
    return {}


@OPERATIONS.handler("UntagResource")
def untag_resource(ctx: RequestContext, params: dict) -> dict:
    key = find_key(ctx, params["KeyId"])
    _not_pending(key)
    ctx.platform.resources.delete_tags(key.arn, params["TagKeys"])
    return {}


@OPERATIONS.handler("ListResourceTags")
def list_resource_tags(ctx: RequestContext, params: dict) -> dict:
    key = find_key(ctx, params["KeyId"])
    tags = [{"TagKey": t["Key"], "TagValue": t["Value"]} for t in ctx.platform.resources.list_tags(key.arn)]
    tags, extra = page(params, lambda limit, marker: page_of(tags, limit, marker))
    return {"Tags": tags, **extra}
