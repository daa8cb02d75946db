"""Security groups: the default group of each VPC, groups users create, and their rules (recorded,
not enforced)."""

from __future__ import annotations

import copy

from ...protocol.errors import ServiceError
from ..context import RequestContext
from ..registry import OperationTable
from .common import (
    GROUP,
    VPC,
    allow_all_egress,
    apply_filters,
    arn,
    default_vpc_id,
    dry_run,
    get_row,
    new_id,
    only_ids,
    page,
    put_row,
    rows,
    spec_tags,
)

OPERATIONS = OperationTable("ec2")

GROUP_FIELDS = {
    "group-id": lambda g: g["GroupId"],
    "group-name": lambda g: g["GroupName"],
    "vpc-id": lambda g: g["VpcId"],
    "description": lambda g: g["Description"],
    "owner-id": lambda g: g["OwnerId"],
    "ip-permission.protocol": lambda g: [p["IpProtocol"] for p in g["IpPermissions"]],
    "ip-permission.cidr": lambda g: [r["CidrIp"] for p in g["IpPermissions"] for r in p.get("IpRanges", [])],
    "egress.ip-permission.cidr": lambda g: [
        r["CidrIp"] for p in g["IpPermissionsEgress"] for r in p.get("IpRanges", [])
    ],
}


def _find(ctx: RequestContext, group_id: str | None, group_name: str | None):
    if group_id:
        found = get_row(ctx, GROUP, group_id)
        if found is None:
            raise ServiceError(
                "InvalidGroup.NotFound", f"The security group '{group_id}' does not exist", 400
            )
        return found
    if group_name:
        vpc_id = default_vpc_id(ctx)
        for group in rows(ctx, GROUP):
            if group["GroupName"] == group_name and group["VpcId"] == vpc_id:
                return get_row(ctx, GROUP, group["GroupId"])
        raise ServiceError(
            "InvalidGroup.NotFound",
            f"The security group '{group_name}' does not exist in default VPC '{vpc_id}'",
            400,
        )
    raise ServiceError("MissingParameter", "The request must contain the parameter groupName or groupId", 400)


@OPERATIONS.handler("DescribeSecurityGroups")
def describe_security_groups(ctx: RequestContext, params: dict) -> dict:
    items = only_ids(
        rows(ctx, GROUP), "GroupId", params.get("GroupIds"), "InvalidGroup.NotFound", "security group"
    )
    names = params.get("GroupNames")
    if names:
        vpc_id = default_vpc_id(ctx)
        in_default = {g["GroupName"]: g for g in items if g["VpcId"] == vpc_id}
        for name in names:
            if name not in in_default:
                raise ServiceError(
                    "InvalidGroup.NotFound",
                    f"The security group '{name}' does not exist in default VPC '{vpc_id}'",
                    400,
                )
        items = [in_default[n] for n in dict.fromkeys(names)]
    items, extra = page(apply_filters(items, params.get("Filters"), GROUP_FIELDS, "security-group"), params)
    return {"SecurityGroups": items, **extra}


@OPERATIONS.handler("CreateSecurityGroup")
def create_security_group(ctx: RequestContext, params: dict) -> dict:
    name, description = params.get("GroupName"), params.get("Description")
    if not name or not description:
        missing = "GroupName" if not name else "GroupDescription"
        raise ServiceError("MissingParameter", f"The request must contain the parameter {missing}", 400)
    if name.startswith("sg-"):
        raise ServiceError("InvalidParameterValue", "Group names may not be in the format sg-*.", 400)
    vpc_id = params.get("VpcId") or default_vpc_id(ctx)
    if get_row(ctx, VPC, vpc_id) is None:
        raise ServiceError("InvalidVpcID.NotFound", f"The vpc ID '{vpc_id}' does not exist", 400)
    if any(g["GroupName"] == name and g["VpcId"] == vpc_id for g in rows(ctx, GROUP)):
        raise ServiceError(
            "InvalidGroup.Duplicate", f"The security group '{name}' already exists for VPC '{vpc_id}'", 400
        )
    dry_run(params)
    group_id = new_id("sg-")
    data = {
        "GroupId": group_id,
        "GroupName": name,
        "Description": description,
        "VpcId": vpc_id,
        "OwnerId": ctx.account_id,
        "SecurityGroupArn": arn(ctx, group_id),
        "IpPermissions": [],
        "IpPermissionsEgress": [allow_all_egress()],
    }
    stored = put_row(ctx, GROUP, group_id, data, spec_tags(params, "security-group"), parent=vpc_id)
    out = {"GroupId": group_id, "SecurityGroupArn": data["SecurityGroupArn"]}
    if stored.get("Tags"):
        out["Tags"] = stored["Tags"]
    return out


@OPERATIONS.handler("DeleteSecurityGroup")
def delete_security_group(ctx: RequestContext, params: dict) -> dict:
    found = _find(ctx, params.get("GroupId"), params.get("GroupName"))
    dry_run(params)
    if found.data["GroupName"] == "default":
        raise ServiceError(
            "CannotDelete",
            f'the specified group: "{found.name}" name: "default" cannot be deleted by a user',
            400,
        )
    ctx.platform.resources.delete(ctx.account_id, ctx.region, GROUP, found.name)
    return {"Return": True, "GroupId": found.name}


def _permissions(params: dict) -> list[dict]:
    if params.get("IpPermissions"):
        return params["IpPermissions"]
    if params.get("IpProtocol") is None:
        raise ServiceError("MissingParameter", "The request must contain the parameter ipPermissions", 400)
    entry = {"IpProtocol": params["IpProtocol"], "IpRanges": [], "UserIdGroupPairs": []}
    for name in ("FromPort", "ToPort"):
        if params.get(name) is not None:
            entry[name] = params[name]
    if params.get("CidrIp"):
        entry["IpRanges"].append({"CidrIp": params["CidrIp"]})
    if params.get("SourceSecurityGroupName"):
        entry["UserIdGroupPairs"].append({"GroupName": params["SourceSecurityGroupName"]})
    return [entry]


def _authorize(ctx: RequestContext, params: dict, member: str) -> dict:
    found = _find(ctx, params.get("GroupId"), params.get("GroupName"))
    dry_run(params)
    data = copy.deepcopy(found.data)
    rules = []
    for permission in _permissions(params):
        if permission in data[member]:
            raise ServiceError(
                "InvalidPermission.Duplicate",
                f'the specified rule "peer: '
                f'{_peer(permission)}, {permission.get("IpProtocol")}" already exists',
                400,
            )
        data[member].append(permission)
        rules.append(
            {
                "SecurityGroupRuleId": new_id("sgr-"),
                "GroupId": found.name,
                "GroupOwnerId": ctx.account_id,
                "IsEgress": member == "IpPermissionsEgress",
                "IpProtocol": permission.get("IpProtocol"),
                "FromPort": permission.get("FromPort", -1),
                "ToPort": permission.get("ToPort", -1),
                "CidrIpv4": _peer(permission),
            }
        )
    ctx.platform.resources.update(found, data)
    return {"Return": True, "SecurityGroupRules": rules}


def _peer(permission: dict) -> str | None:
    ranges = permission.get("IpRanges") or []
    return ranges[0].get("CidrIp") if ranges else None


@OPERATIONS.handler("AuthorizeSecurityGroupIngress")
def authorize_security_group_ingress(ctx: RequestContext, params: dict) -> dict:
    return _authorize(ctx, params, "IpPermissions")


@OPERATIONS.handler("AuthorizeSecurityGroupEgress")
def authorize_security_group_egress(ctx: RequestContext, params: dict) -> dict:
    return _authorize(ctx, params, "IpPermissionsEgress")
