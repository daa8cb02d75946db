"""EC2 tags on any resource id (vpc-, subnet-, sg-, vpce-, rtb-)."""

from __future__ import annotations

from ...protocol.errors import ServiceError
from ..context import RequestContext
from ..registry import OperationTable
from ..tags import tag_map
from .common import PREFIXES, apply_filters, arn, dry_run, get_row, page

OPERATIONS = OperationTable("ec2")
NOT_FOUND = {
    "vpc-": ("InvalidVpcID.NotFound", "vpc ID"),
    "subnet-": ("InvalidSubnetID.NotFound", "subnet ID"),
    "sg-": ("InvalidGroup.NotFound", "security group"),
    "vpce-": ("InvalidVpcEndpointId.NotFound", "VPC endpoint ID"),
}


def _check(ctx: RequestContext, resource_id: str) -> str:
    prefix = next((p for p in PREFIXES if resource_id.startswith(p)), None)
    if prefix is None:
        raise ServiceError("InvalidID", f"The ID '{resource_id}' is not valid", 400)
    kind = PREFIXES[prefix][0]
    if kind is not None and get_row(ctx, kind, resource_id) is None:
        code, noun = NOT_FOUND[prefix]
        raise ServiceError(code, f"The {noun} '{resource_id}' does not exist", 400)
    return arn(ctx, resource_id)


@OPERATIONS.handler("CreateTags")
def create_tags(ctx: RequestContext, params: dict) -> dict:
    arns = [_check(ctx, r) for r in params["Resources"]]
    dry_run(params)
    tags = [{"Key": t["Key"], "Value": t.get("Value", "")} for t in params["Tags"]]
    for resource_arn in arns:
        ctx.platform.resources.add_tags(resource_arn, tags)
    return {}


@OPERATIONS.handler("DeleteTags")
def delete_tags(ctx: RequestContext, params: dict) -> dict:
    arns = [_check(ctx, r) for r in params["Resources"]]
    dry_run(params)
    resources = ctx.platform.resources
    for resource_arn in arns:
        current = tag_map(resources.list_tags(resource_arn))
        keys = (
            [t["Key"] for t in params.get("Tags") or [] if t.get("Value") in (None, current.get(t["Key"]))]
            if params.get("Tags")
            else list(current)
        )
        resources.delete_tags(resource_arn, keys)
    return {}


TAG_FIELDS = {
    "resource-id": lambda t: t["ResourceId"],
    "resource-type": lambda t: t["ResourceType"],
    "key": lambda t: t["Key"],
    "value": lambda t: t["Value"],
}


@OPERATIONS.handler("DescribeTags")
def describe_tags(ctx: RequestContext, params: dict) -> dict:
    from .common import rows

    found = []
    for prefix, (kind, _, resource_type) in PREFIXES.items():
        if kind is None:
            continue
        id_field = {"vpc-": "VpcId", "subnet-": "SubnetId", "sg-": "GroupId", "vpce-": "VpcEndpointId"}[
            prefix
        ]
        for item in rows(ctx, kind):
            for tag in item.get("Tags", []):
                found.append({"ResourceId": item[id_field], "ResourceType": resource_type, **tag})
    items, extra = page(apply_filters(found, params.get("Filters"), TAG_FIELDS, "tag"), params)
    return {"Tags": items, **extra}
