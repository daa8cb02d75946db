"""Bucket configuration documents: default encryption (``PutBucketEncryption``, applied to writes that
name no encryption) and bucket policies (recorded and returned, not enforced — as IAM policies are
not). Rows of the generic resources table, keyed by bucket name, dropped with the bucket."""

from __future__ import annotations

import json

from ...protocol.errors import ServiceError
from ...store.objects_index import ConfigKey
from ..context import RequestContext
from ..registry import OperationTable
from .common import owned_bucket, store, verify_xml_body

OPERATIONS = OperationTable("s3")
ENCRYPTION, POLICY = "s3-bucket-encryption", "s3-bucket-policy"
SCOPE = "global"  # bucket names are global
DEFAULT_RULE = {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": False}


def _get(ctx: RequestContext, kind: str, bucket: str, account: str | None = None):
    return ctx.platform.resources.get(account or ctx.account_id, SCOPE, kind, bucket)


def _put(ctx: RequestContext, kind: str, bucket: str, data: dict) -> None:
    resources = ctx.platform.resources
    resources.delete(ctx.account_id, SCOPE, kind, bucket)
    resources.create(ctx.account_id, SCOPE, kind, bucket, f"arn:aws:s3:::{bucket}", data)


def default_encryption(ctx: RequestContext, bucket: str) -> dict | None:
    """The bucket's default encryption rule (None: SSE-S3, S3's own default)."""
    found = _get(ctx, ENCRYPTION, bucket)
    return found.data["Rule"] if found is not None else None


def encryption_key(ctx: RequestContext, bucket: str) -> ConfigKey:
    """The resources row holding the bucket's default encryption, for a write that plans from the
    object store's last sight of it (``ObjectStore.config``) and has its transaction check it."""
    return ConfigKey(ctx.account_id, SCOPE, ENCRYPTION, bucket)


def rule_of(data: dict | None) -> dict | None:
    """The default encryption rule in an ``encryption_key`` row's data (None: no row)."""
    return data["Rule"] if data is not None else None


def _seen(ctx: RequestContext, bucket: str) -> None:
    """Let this server's object store see a default encryption just written, so its next small PUT
    plans with it (another server's next PUT finds the change in its write's own transaction)."""
    store(ctx).config(encryption_key(ctx, bucket), fresh=True)


def forget(ctx: RequestContext, bucket: str) -> None:
    """Drop a deleted bucket's configuration (a bucket created later under the name starts clean)."""
    for kind in (ENCRYPTION, POLICY):
        ctx.platform.resources.delete(ctx.account_id, SCOPE, kind, bucket)
    _seen(ctx, bucket)


@OPERATIONS.handler("PutBucketEncryption")
def put_bucket_encryption(ctx: RequestContext, params: dict) -> dict:
    owned_bucket(ctx, params)
    verify_xml_body(ctx)
    rules = (params.get("ServerSideEncryptionConfiguration") or {}).get("Rules") or []
    if len(rules) != 1:
        raise ServiceError(
            "MalformedXML",
            "The XML you provided was not well-formed or did not validate against our published schema",
            400,
        )
    rule = rules[0]
    default = rule.get("ApplyServerSideEncryptionByDefault") or {}
    algorithm = default.get("SSEAlgorithm")
    if algorithm not in ("AES256", "aws:kms", "aws:kms:dsse"):
        raise ServiceError(
            "MalformedXML",
            "The XML you provided was not well-formed or did not validate against our published schema",
            400,
        )
    if default.get("KMSMasterKeyID") and algorithm == "AES256":
        raise ServiceError(
            "InvalidArgument",
            "a KMSMasterKeyID is not applicable if the default sse algorithm is not aws:kms or aws:kms:dsse",
            400,
        )
    _put(ctx, ENCRYPTION, params["Bucket"], {"Rule": rule})
    _seen(ctx, params["Bucket"])
    return {}


@OPERATIONS.handler("GetBucketEncryption")
def get_bucket_encryption(ctx: RequestContext, params: dict) -> dict:
    owned_bucket(ctx, params)
    rule = default_encryption(ctx, params["Bucket"]) or DEFAULT_RULE
    return {"ServerSideEncryptionConfiguration": {"Rules": [rule]}}


@OPERATIONS.handler("DeleteBucketEncryption")
def delete_bucket_encryption(ctx: RequestContext, params: dict) -> dict:
    owned_bucket(ctx, params)
    ctx.platform.resources.delete(ctx.account_id, SCOPE, ENCRYPTION, params["Bucket"])
    _seen(ctx, params["Bucket"])
    return {}


@OPERATIONS.handler("PutBucketPolicy")
def put_bucket_policy(ctx: RequestContext, params: dict) -> dict:
    owned_bucket(ctx, params)
    text = params.get("Policy") or ""
    try:
        document = json.loads(text)
    except ValueError:
        document = None
    if not isinstance(document, dict) or not text.lstrip().startswith("{"):
        raise ServiceError(
            "MalformedPolicy", "Policies must be valid JSON and the first byte must be '{'", 400
        )
    if not document.get("Statement"):
        raise ServiceError("MalformedPolicy", "Missing required field Statement", 400)
    _put(ctx, POLICY, params["Bucket"], {"Policy": text})
    return {}


@OPERATIONS.handler("GetBucketPolicy")
def get_bucket_policy(ctx: RequestContext, params: dict) -> dict:
    owned_bucket(ctx, params)
    found = _get(ctx, POLICY, params["Bucket"])
    if found is None:
        raise ServiceError(
            "NoSuchBucketPolicy",
            "The bucket policy does not exist",
            404,
            fields={"BucketName": params["Bucket"]},
        )
    return {"Policy": found.data["Policy"]}


@OPERATIONS.handler("DeleteBucketPolicy")
def delete_bucket_policy(ctx: RequestContext, params: dict) -> dict:
    owned_bucket(ctx, params)
    ctx.platform.resources.delete(ctx.account_id, SCOPE, POLICY, params["Bucket"])
    return {}
