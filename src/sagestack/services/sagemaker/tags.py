"""AddTags / ListTags / DeleteTags for every SageMaker resource (tags keyed by ARN in the store)."""

from __future__ import annotations

from ...protocol.errors import ServiceError
from ...store.db import decode_token, encode_token
from ..context import RequestContext
from ..registry import OperationTable

ops = OperationTable("sagemaker")
MAX_TAGS = 50


def _require(ctx: RequestContext, arn: str) -> None:
    if not ctx.platform.resources.arn_exists(arn):
        raise ServiceError("ValidationException", f"Could not find resource with ARN {arn}")


@ops.handler("AddTags")
def add_tags(ctx: RequestContext, params: dict) -> dict:
    arn = params["ResourceArn"]
    _require(ctx, arn)
    existing = {t["Key"] for t in ctx.platform.resources.list_tags(arn)}
    new = {t["Key"] for t in params["Tags"]}
    if len(existing | new) > MAX_TAGS:
        raise ServiceError("ResourceLimitExceeded", f"A resource can have at most {MAX_TAGS} tags.")
    for tag in params["Tags"]:
        if tag["Key"].lower().startswith("aws:"):
            raise ServiceError("ValidationException", "Tag keys starting with 'aws:' are reserved.")
    ctx.platform.resources.add_tags(arn, params["Tags"])
    return {"Tags": params["Tags"]}


@ops.handler("DeleteTags")
def delete_tags(ctx: RequestContext, params: dict) -> dict:
    arn = params["ResourceArn"]
    _require(ctx, arn)
    ctx.platform.resources.delete_tags(arn, params["TagKeys"])
    return {}


@ops.handler("ListTags")
def list_tags(ctx: RequestContext, params: dict) -> dict:
    arn = params["ResourceArn"]
    _require(ctx, arn)
    tags = ctx.platform.resources.list_tags(arn)
    offset = decode_token(params.get("NextToken"))["o"]
    limit = params.get("MaxResults", 50)
    page = tags[offset : offset + limit]
    result = {"Tags": page}
    if offset + limit < len(tags):
        result["NextToken"] = encode_token(offset + limit)
    return result
