"""What the EC2 handlers share: the per-account, per-region default network (made on first use, with
ids derived from account and region so they never change), resource rows, tags, EC2 filters and
pagination.

Resources are rows of the generic resources table (``ec2-vpc``, ``ec2-subnet``, ``ec2-security-group``,
``ec2-vpc-endpoint``); their tags are the tags table's rows for the resource's ARN. A describe call loads
the account's rows of one type (a handful), applies the filters, then pages: filtering always comes
before paging.
"""

from __future__ import annotations

import fnmatch
import functools
import hashlib
import secrets
from collections.abc import Callable, Iterable
from typing import Any

from ...protocol.errors import ServiceError
from ...store.db import decode_token, encode_token
from ...store.resources import ListQuery
from ..context import RequestContext

VPC, SUBNET, GROUP, ENDPOINT = "ec2-vpc", "ec2-subnet", "ec2-security-group", "ec2-vpc-endpoint"
#: id prefix → (resource type, ARN resource word, DescribeTags resource type)
PREFIXES = {
    "vpc-": (VPC, "vpc", "vpc"),
    "subnet-": (SUBNET, "subnet", "subnet"),
    "sg-": (GROUP, "security-group", "security-group"),
    "vpce-": (ENDPOINT, "vpc-endpoint", "vpc-endpoint"),
    "rtb-": (None, "route-table", "route-table"),
}
DEFAULT_CIDR = "172.31.0.0/16"
ZONE_COUNT = {"us-east-1": 6, "us-west-2": 4, "ap-northeast-1": 3}  # others: 3


def digest(*parts: str, length: int = 8) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:length]


def new_id(prefix: str) -> str:
    return prefix + secrets.token_hex(9)[:17]


def arn(ctx: RequestContext, resource_id: str) -> str:
    word = next((w for p, (_, w, _) in PREFIXES.items() if resource_id.startswith(p)), "resource")
    return f"arn:aws:ec2:{ctx.region}:{ctx.account_id}:{word}/{resource_id}"


def zones(region: str) -> list[dict]:
    parts = region.split("-")  # us-east-1 → zone ids use1-az1, use1-az2, …
    short = parts[0] + "".join(p[0] for p in parts[1:-1]) + parts[-1]
    return [
        {
            "ZoneName": f"{region}{chr(ord('a') + i)}",
            "ZoneId": f"{short}-az{i + 1}",
            "State": "available",
            "RegionName": region,
            "OptInStatus": "opt-in-not-required",
            "Messages": [],
            "GroupName": region,
            "NetworkBorderGroup": region,
            "ZoneType": "availability-zone",
        }
        for i in range(ZONE_COUNT.get(region, 3))
    ]


# -- rows -----------------------------------------------------------------------------------------


def rows(ctx: RequestContext, kind: str) -> list[dict]:
    """Every resource of one type in the caller's account and region (the default network included)."""
    ensure_default_network(ctx)
    items, _ = ctx.platform.resources.list(
        ctx.account_id,
        ctx.region,
        kind,
        ListQuery(sort_by="CreationTime", sort_order="Ascending", max_results=1000),
    )
    return [with_tags(ctx, item.data, item.arn) for item in items]


def get_row(ctx: RequestContext, kind: str, resource_id: str):
    ensure_default_network(ctx)
    return ctx.platform.resources.get(ctx.account_id, ctx.region, kind, resource_id)


def put_row(
    ctx: RequestContext,
    kind: str,
    resource_id: str,
    data: dict,
    tags: list[dict] | None = None,
    parent: str | None = None,
) -> dict:
    ctx.platform.resources.create(
        ctx.account_id,
        ctx.region,
        kind,
        resource_id,
        arn(ctx, resource_id),
        data,
        parent=parent,
        tag_list=tags,
    )
    return with_tags(ctx, data, arn(ctx, resource_id))


def with_tags(ctx: RequestContext, data: dict, resource_arn: str) -> dict:
    tags = ctx.platform.resources.list_tags(resource_arn)
    out = dict(data)
    if tags:
        out["Tags"] = tags
    return out


def spec_tags(params: dict, resource_type: str) -> list[dict]:
    """The tags of ``TagSpecifications`` entries for ``resource_type``."""
    out: list[dict] = []
    for spec in params.get("TagSpecifications") or []:
        if spec.get("ResourceType") in (None, resource_type):
            out.extend({"Key": t["Key"], "Value": t.get("Value", "")} for t in spec.get("Tags") or [])
    return out


def ensure_default_network(ctx: RequestContext) -> None:
    """The default VPC (172.31.0.0/16), a default subnet per availability zone and the VPC's default
    security group, as every AWS account has them; created once per account and region."""
    resources = ctx.platform.resources
    account, region = ctx.account_id, ctx.region
    vpc_id = default_vpc_id(ctx)
    if resources.get(account, region, VPC, vpc_id) is not None:
        return
    try:
        for index, zone in enumerate(zones(region)):
            subnet_id = "subnet-" + digest(account, region, "subnet", zone["ZoneName"])
            put_row(
                ctx,
                SUBNET,
                subnet_id,
                subnet(ctx, subnet_id, vpc_id, f"172.31.{16 * index}.0/20", zone, default=True),
                parent=vpc_id,
            )
        put_row(ctx, GROUP, default_group_id(ctx, vpc_id), default_group(ctx, vpc_id), parent=vpc_id)
        put_row(ctx, VPC, vpc_id, vpc(ctx, vpc_id, DEFAULT_CIDR, default=True))
    except ServiceError:  # a concurrent request made it first
        if resources.get(account, region, VPC, vpc_id) is None:
            raise


def default_vpc_id(ctx: RequestContext) -> str:
    return "vpc-" + digest(ctx.account_id, ctx.region, "vpc")


def default_group_id(ctx: RequestContext, vpc_id: str) -> str:
    return "sg-" + digest(ctx.account_id, ctx.region, "sg", vpc_id)


def vpc(ctx: RequestContext, vpc_id: str, cidr: str, default: bool = False, tenancy: str = "default") -> dict:
    return {
        "VpcId": vpc_id,
        "CidrBlock": cidr,
        "State": "available",
        "OwnerId": ctx.account_id,
        "DhcpOptionsId": "dopt-" + digest(ctx.account_id, ctx.region, "dopt"),
        "InstanceTenancy": tenancy,
        "IsDefault": default,
        "CidrBlockAssociationSet": [
            {
                "AssociationId": "vpc-cidr-assoc-" + digest(vpc_id, cidr, length=17),
                "CidrBlock": cidr,
                "CidrBlockState": {"State": "associated"},
            }
        ],
    }


def subnet(
    ctx: RequestContext, subnet_id: str, vpc_id: str, cidr: str, zone: dict, default: bool = False
) -> dict:
    size = 2 ** (32 - int(cidr.split("/")[1]))
    return {
        "SubnetId": subnet_id,
        "VpcId": vpc_id,
        "CidrBlock": cidr,
        "State": "available",
        "AvailabilityZone": zone["ZoneName"],
        "AvailabilityZoneId": zone["ZoneId"],
        "AvailableIpAddressCount": size - 5,
        "DefaultForAz": default,
        "MapPublicIpOnLaunch": default,
        "OwnerId": ctx.account_id,
        "AssignIpv6AddressOnCreation": False,
        "Ipv6CidrBlockAssociationSet": [],
        "SubnetArn": arn(ctx, subnet_id),
        "EnableDns64": False,
        "Ipv6Native": False,
        "MapCustomerOwnedIpOnLaunch": False,
        "PrivateDnsNameOptionsOnLaunch": {
            "HostnameType": "ip-name",
            "EnableResourceNameDnsARecord": False,
            "EnableResourceNameDnsAAAARecord": False,
        },
    }


def default_group(ctx: RequestContext, vpc_id: str) -> dict:
    group_id = default_group_id(ctx, vpc_id)
    return {
        "GroupId": group_id,
        "GroupName": "default",
        "Description": "default VPC security group",
        "VpcId": vpc_id,
        "OwnerId": ctx.account_id,
        "SecurityGroupArn": arn(ctx, group_id),
        "IpPermissions": [
            {
                "IpProtocol": "-1",
                "IpRanges": [],
                "Ipv6Ranges": [],
                "PrefixListIds": [],
                "UserIdGroupPairs": [{"GroupId": group_id, "UserId": ctx.account_id}],
            }
        ],
        "IpPermissionsEgress": [allow_all_egress()],
    }


def allow_all_egress() -> dict:
    return {
        "IpProtocol": "-1",
        "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
        "Ipv6Ranges": [],
        "PrefixListIds": [],
        "UserIdGroupPairs": [],
    }


# -- filters and pages ------------------------------------------------------------------------------

Getter = Callable[[dict], Any]


def _values(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (list, tuple, set)):
        return [v for item in value for v in _values(item)]
    if isinstance(value, bool):
        return ["true" if value else "false"]
    return [str(value)]


def _matches(actual: list[str], wanted: list[str]) -> bool:
    return any(fnmatch.fnmatchcase(a, w) for a in actual for w in wanted)


def _tag_values(member: str, key: str | None, item: dict) -> list[str]:
    """``Key`` or ``Value`` of the item's tags (only the tag named ``key`` when given)."""
    return [tag[member] for tag in item.get("Tags", []) if key is None or tag["Key"] == key]


def apply_filters(
    items: Iterable[dict], filters: list[dict] | None, fields: dict[str, Getter], kind: str
) -> list[dict]:
    """EC2 filter semantics: every filter must match (AND), any of a filter's values (OR; ``*`` and
    ``?`` wildcards); ``tag:<key>``, ``tag-key`` and ``tag-value`` work on every resource."""
    checks = []
    for entry in filters or []:
        name, wanted = entry.get("Name", ""), entry.get("Values") or []
        if name.startswith("tag:"):
            getter: Getter = functools.partial(_tag_values, "Value", name[4:])
        elif name == "tag-key":
            getter = functools.partial(_tag_values, "Key", None)
        elif name == "tag-value":
            getter = functools.partial(_tag_values, "Value", None)
        elif name in fields:
            getter = fields[name]
        else:
            raise ServiceError("InvalidParameterValue", f"The filter '{name}' is invalid", 400)
        checks.append((getter, [str(w) for w in wanted]))
    return [item for item in items if all(_matches(_values(get(item)), wanted) for get, wanted in checks)]


def only_ids(items: list[dict], id_field: str, ids: list[str] | None, code: str, noun: str) -> list[dict]:
    """The items named by ``ids`` (all of them must exist, as EC2 requires), or all items."""
    if not ids:
        return items
    known = {item[id_field]: item for item in items}
    missing = [i for i in ids if i not in known]
    if missing:
        label = "ID" if len(missing) == 1 else "IDs"
        raise ServiceError(
            code,
            f"The {noun} {label} '{', '.join(missing)}' {'does' if len(missing) == 1 else 'do'} not exist",
            400,
        )
    return [known[i] for i in dict.fromkeys(ids)]


def page(items: list[dict], params: dict) -> tuple[list[dict], dict]:
    limit = params.get("MaxResults")
    if limit is None:
        return items, {}
    offset = decode_token(params.get("NextToken"))["o"]
    chunk = items[offset : offset + limit]
    extra = {"NextToken": encode_token(offset + limit)} if offset + limit < len(items) else {}
    return chunk, extra


def dry_run(params: dict) -> None:
    if params.get("DryRun"):
        raise ServiceError("DryRunOperation", "Request would have succeeded, but DryRun flag is set.", 412)
