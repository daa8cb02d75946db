"""S3 buckets: create (with LocationConstraint rules), head, delete, list, location and tagging."""

from __future__ import annotations

import base64

from ...objects.errors import BucketExists
from ...protocol.errors import ServiceError
from ..context import RequestContext
from ..registry import OperationTable
from . import errors
from .common import check_tags, owned_bucket, owner, store, tag_set, valid_bucket_name, verify_xml_body

OPERATIONS = OperationTable("s3")
DEFAULT_REGION = "us-east-1"


@OPERATIONS.handler("CreateBucket")
def create_bucket(ctx: RequestContext, params: dict) -> dict:
    name = params["Bucket"]
    if not valid_bucket_name(name):
        raise errors.invalid_bucket_name(name)
    constraint = (params.get("CreateBucketConfiguration") or {}).get("LocationConstraint")
    region = ctx.region
    if region == DEFAULT_REGION:
        if constraint == DEFAULT_REGION:
            raise ServiceError(
                "InvalidLocationConstraint",
                "The specified location-constraint is not valid",
                400,
                fields={"LocationConstraint": constraint},
            )
        if constraint and constraint != "EU":
            region = constraint
    elif not constraint:
        raise ServiceError(
            "IllegalLocationConstraintException",
            "The unspecified location constraint is "
            "incompatible for the region specific endpoint this request was sent to.",
            400,
        )
    elif constraint != region:
        raise ServiceError(
            "IllegalLocationConstraintException",
            f"The {constraint} location constraint is "
            "incompatible for the region specific endpoint this request was sent to.",
            400,
        )
    objects = store(ctx)
    try:
        objects.create_bucket(ctx.account_id, name, region)
    except BucketExists as exc:
        # us-east-1 answers a repeated create by the owner with success (legacy behaviour)
        if not (exc.owned_by_caller and ctx.region == DEFAULT_REGION):
            raise
    return {"Location": f"/{name}"}


@OPERATIONS.handler("HeadBucket")
def head_bucket(ctx: RequestContext, params: dict) -> dict:
    info = owned_bucket(ctx, params)
    return {"BucketRegion": info.region, "AccessPointAlias": False, "BucketArn": f"arn:aws:s3:::{info.name}"}


@OPERATIONS.handler("GetBucketLocation")
def get_bucket_location(ctx: RequestContext, params: dict) -> dict:
    info = owned_bucket(ctx, params)
    return {"LocationConstraint": None if info.region == DEFAULT_REGION else info.region}


@OPERATIONS.handler("DeleteBucket")
def delete_bucket(ctx: RequestContext, params: dict) -> dict:
    from .bucket_config import forget

    owned_bucket(ctx, params)
    store(ctx).delete_bucket(params["Bucket"])
    forget(ctx, params["Bucket"])
    return {}


@OPERATIONS.handler("ListBuckets")
def list_buckets(ctx: RequestContext, params: dict) -> dict:
    limit = params.get("MaxBuckets")
    token = params.get("ContinuationToken")
    after = None
    if token:
        try:
            after = base64.urlsafe_b64decode(token.encode()).decode()
        except ValueError:
            raise errors.invalid_argument(
                "The continuation token provided is incorrect", "continuation-token", token
            ) from None
    buckets = store(ctx).index.list_buckets(
        ctx.account_id, params.get("Prefix") or "", after, limit + 1 if limit else None
    )
    result: dict = {"Owner": owner(ctx.account_id)}
    if limit and len(buckets) > limit:
        buckets = buckets[:limit]
        result["ContinuationToken"] = base64.urlsafe_b64encode(buckets[-1].name.encode()).decode()
    result["Buckets"] = [
        {
            "Name": b.name,
            "CreationDate": b.created,
            "BucketRegion": b.region,
            "BucketArn": f"arn:aws:s3:::{b.name}",
        }
        for b in buckets
    ]
    if params.get("Prefix"):
        result["Prefix"] = params["Prefix"]
    return result


@OPERATIONS.handler("PutBucketTagging")
def put_bucket_tagging(ctx: RequestContext, params: dict) -> dict:
    owned_bucket(ctx, params)
    verify_xml_body(ctx)
    tags = check_tags((params.get("Tagging") or {}).get("TagSet") or [], limit=50, bucket=True)
    store(ctx).index.set_bucket_tags(params["Bucket"], tags)
    return {}


@OPERATIONS.handler("GetBucketTagging")
def get_bucket_tagging(ctx: RequestContext, params: dict) -> dict:
    info = owned_bucket(ctx, params)
    if not info.tags:
        raise ServiceError("NoSuchTagSet", "The TagSet does not exist", 404, fields={"BucketName": info.name})
    return {"TagSet": tag_set(info.tags)}


@OPERATIONS.handler("DeleteBucketTagging")
def delete_bucket_tagging(ctx: RequestContext, params: dict) -> dict:
    owned_bucket(ctx, params)
    store(ctx).index.set_bucket_tags(params["Bucket"], None)
    return {}
