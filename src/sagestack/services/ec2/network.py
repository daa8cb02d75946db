"""VPCs, subnets, route tables, VPC endpoints, availability zones and account attributes. Networks
are recorded, not built: jobs and endpoints given a ``VpcConfig`` run on this machine's network."""

from __future__ import annotations

import datetime as dt
import ipaddress

from ...protocol.errors import ServiceError
from ..context import RequestContext
from ..registry import OperationTable
from .common import (
    ENDPOINT,
    GROUP,
    SUBNET,
    VPC,
    apply_filters,
    default_group,
    default_group_id,
    default_vpc_id,
    digest,
    dry_run,
    get_row,
    new_id,
    only_ids,
    page,
    put_row,
    rows,
    spec_tags,
    subnet,
    vpc,
    zones,
)

OPERATIONS = OperationTable("ec2")

VPC_FIELDS = {
    "vpc-id": lambda v: v["VpcId"],
    "cidr": lambda v: v["CidrBlock"],
    "state": lambda v: v["State"],
    "cidr-block-association.cidr-block": lambda v: [a["CidrBlock"] for a in v["CidrBlockAssociationSet"]],
    "is-default": lambda v: v["IsDefault"],
    "isDefault": lambda v: v["IsDefault"],
    "owner-id": lambda v: v["OwnerId"],
    "dhcp-options-id": lambda v: v["DhcpOptionsId"],
}
SUBNET_FIELDS = {
    "subnet-id": lambda s: s["SubnetId"],
    "vpc-id": lambda s: s["VpcId"],
    "state": lambda s: s["State"],
    "availability-zone": lambda s: s["AvailabilityZone"],
    "availabilityZone": lambda s: s["AvailabilityZone"],
    "availability-zone-id": lambda s: s["AvailabilityZoneId"],
    "cidr-block": lambda s: s["CidrBlock"],
    "cidrBlock": lambda s: s["CidrBlock"],
    "cidr": lambda s: s["CidrBlock"],
    "default-for-az": lambda s: s["DefaultForAz"],
    "defaultForAz": lambda s: s["DefaultForAz"],
    "map-public-ip-on-launch": lambda s: s["MapPublicIpOnLaunch"],
    "owner-id": lambda s: s["OwnerId"],
    "subnet-arn": lambda s: s["SubnetArn"],
    "available-ip-address-count": lambda s: s["AvailableIpAddressCount"],
}
ROUTE_TABLE_FIELDS = {
    "vpc-id": lambda r: r["VpcId"],
    "route-table-id": lambda r: r["RouteTableId"],
    "association.main": lambda r: [a["Main"] for a in r["Associations"]],
    "association.route-table-id": lambda r: [a["RouteTableId"] for a in r["Associations"]],
    "owner-id": lambda r: r["OwnerId"],
}
ENDPOINT_FIELDS = {
    "vpc-id": lambda e: e["VpcId"],
    "service-name": lambda e: e["ServiceName"],
    "vpc-endpoint-id": lambda e: e["VpcEndpointId"],
    "vpc-endpoint-state": lambda e: e["State"],
    "vpc-endpoint-type": lambda e: e["VpcEndpointType"],
}


def _vpc_or_fail(ctx: RequestContext, vpc_id: str):
    found = get_row(ctx, VPC, vpc_id)
    if found is None:
        raise ServiceError("InvalidVpcID.NotFound", f"The vpc ID '{vpc_id}' does not exist", 400)
    return found


def _network(cidr: str, code: str) -> ipaddress.IPv4Network:
    try:
        network = ipaddress.IPv4Network(cidr, strict=True)
    except ValueError:
        raise ServiceError(code, f"The CIDR '{cidr}' is invalid.", 400) from None
    if not 16 <= network.prefixlen <= 28:
        raise ServiceError(code, f"The CIDR '{cidr}' is invalid.", 400)
    return network


# -- VPCs -------------------------------------------------------------------------------------------


@OPERATIONS.handler("DescribeVpcs")
def describe_vpcs(ctx: RequestContext, params: dict) -> dict:
    items = only_ids(rows(ctx, VPC), "VpcId", params.get("VpcIds"), "InvalidVpcID.NotFound", "vpc")
    items, extra = page(apply_filters(items, params.get("Filters"), VPC_FIELDS, "vpc"), params)
    return {"Vpcs": items, **extra}


@OPERATIONS.handler("CreateVpc")
def create_vpc(ctx: RequestContext, params: dict) -> dict:
    if not params.get("CidrBlock"):
        raise ServiceError(
            "MissingParameter", "Either 'cidrBlock' or 'ipv4IpamPoolId' should be provided.", 400
        )
    network = _network(params["CidrBlock"], "InvalidVpc.Range")
    dry_run(params)
    get_row(ctx, VPC, default_vpc_id(ctx))  # the default network first, as in every account
    vpc_id = new_id("vpc-")
    data = vpc(ctx, vpc_id, str(network), tenancy=params.get("InstanceTenancy", "default"))
    put_row(ctx, GROUP, default_group_id(ctx, vpc_id), default_group(ctx, vpc_id), parent=vpc_id)
    return {"Vpc": put_row(ctx, VPC, vpc_id, data, spec_tags(params, "vpc"))}


@OPERATIONS.handler("DeleteVpc")
def delete_vpc(ctx: RequestContext, params: dict) -> dict:
    vpc_id = params["VpcId"]
    _vpc_or_fail(ctx, vpc_id)
    dry_run(params)
    if vpc_id == default_vpc_id(ctx):
        raise ServiceError(
            "OperationNotPermitted",
            f"The default VPC '{vpc_id}' is sagestack's local network and cannot be deleted.",
            400,
        )
    resources = ctx.platform.resources
    groups = [g for g in rows(ctx, GROUP) if g["VpcId"] == vpc_id and g["GroupName"] != "default"]
    if any(s["VpcId"] == vpc_id for s in rows(ctx, SUBNET)) or groups:
        raise ServiceError(
            "DependencyViolation", f"The vpc '{vpc_id}' has dependencies and cannot be deleted.", 400
        )
    resources.delete(ctx.account_id, ctx.region, GROUP, default_group_id(ctx, vpc_id))
    resources.delete(ctx.account_id, ctx.region, VPC, vpc_id)
    return {}


# -- subnets ----------------------------------------------------------------------------------------


@OPERATIONS.handler("DescribeSubnets")
def describe_subnets(ctx: RequestContext, params: dict) -> dict:
    items = only_ids(
        rows(ctx, SUBNET), "SubnetId", params.get("SubnetIds"), "InvalidSubnetID.NotFound", "subnet"
    )
    items, extra = page(apply_filters(items, params.get("Filters"), SUBNET_FIELDS, "subnet"), params)
    return {"Subnets": items, **extra}


@OPERATIONS.handler("CreateSubnet")
def create_subnet(ctx: RequestContext, params: dict) -> dict:
    if not params.get("VpcId") or not params.get("CidrBlock"):
        missing = "VpcId" if not params.get("VpcId") else "CidrBlock"
        raise ServiceError("MissingParameter", f"The request must contain the parameter {missing}", 400)
    parent = _vpc_or_fail(ctx, params["VpcId"]).data
    network = _network(params["CidrBlock"], "InvalidSubnet.Range")
    if not network.subnet_of(ipaddress.IPv4Network(parent["CidrBlock"])):
        raise ServiceError("InvalidSubnet.Range", f"The CIDR '{params['CidrBlock']}' is invalid.", 400)
    for other in rows(ctx, SUBNET):
        if other["VpcId"] == parent["VpcId"] and network.overlaps(ipaddress.IPv4Network(other["CidrBlock"])):
            raise ServiceError(
                "InvalidSubnet.Conflict",
                f"The CIDR '{params['CidrBlock']}' conflicts with another subnet",
                400,
            )
    available = zones(ctx.region)
    wanted = params.get("AvailabilityZone") or params.get("AvailabilityZoneId")
    zone = (
        next((z for z in available if wanted in (z["ZoneName"], z["ZoneId"])), None)
        if wanted
        else available[0]
    )
    if zone is None:
        raise ServiceError(
            "InvalidParameterValue",
            f"Value ({wanted}) for parameter availabilityZone is "
            f"invalid. Subnets can currently only be created in the following availability "
            f"zones: {', '.join(z['ZoneName'] for z in available)}.",
            400,
        )
    dry_run(params)
    subnet_id = new_id("subnet-")
    data = subnet(ctx, subnet_id, parent["VpcId"], str(network), zone)
    return {
        "Subnet": put_row(ctx, SUBNET, subnet_id, data, spec_tags(params, "subnet"), parent=parent["VpcId"])
    }


@OPERATIONS.handler("DeleteSubnet")
def delete_subnet(ctx: RequestContext, params: dict) -> dict:
    found = get_row(ctx, SUBNET, params["SubnetId"])
    if found is None:
        raise ServiceError(
            "InvalidSubnetID.NotFound", f"The subnet ID '{params['SubnetId']}' does not exist", 400
        )
    dry_run(params)
    ctx.platform.resources.delete(ctx.account_id, ctx.region, SUBNET, params["SubnetId"])
    return {}


# -- route tables (one main table per VPC) and endpoints --------------------------------------------


def _route_table(ctx: RequestContext, vpc_data: dict) -> dict:
    table_id = "rtb-" + digest(vpc_data["VpcId"], "rtb", length=17)
    routes = [
        {
            "DestinationCidrBlock": vpc_data["CidrBlock"],
            "GatewayId": "local",
            "Origin": "CreateRouteTable",
            "State": "active",
        }
    ]
    if vpc_data["IsDefault"]:
        routes.append(
            {
                "DestinationCidrBlock": "0.0.0.0/0",
                "Origin": "CreateRoute",
                "State": "active",
                "GatewayId": "igw-" + digest(vpc_data["VpcId"], "igw", length=17),
            }
        )
    return {
        "RouteTableId": table_id,
        "VpcId": vpc_data["VpcId"],
        "OwnerId": ctx.account_id,
        "Routes": routes,
        "PropagatingVgws": [],
        "Associations": [
            {
                "Main": True,
                "RouteTableId": table_id,
                "RouteTableAssociationId": "rtbassoc-" + digest(table_id, length=17),
                "AssociationState": {"State": "associated"},
            }
        ],
    }


@OPERATIONS.handler("DescribeRouteTables")
def describe_route_tables(ctx: RequestContext, params: dict) -> dict:
    tables = [_route_table(ctx, v) for v in rows(ctx, VPC)]
    tables = only_ids(
        tables, "RouteTableId", params.get("RouteTableIds"), "InvalidRouteTableID.NotFound", "route table"
    )
    items, extra = page(
        apply_filters(tables, params.get("Filters"), ROUTE_TABLE_FIELDS, "route-table"), params
    )
    return {"RouteTables": items, **extra}


@OPERATIONS.handler("CreateVpcEndpoint")
def create_vpc_endpoint(ctx: RequestContext, params: dict) -> dict:
    vpc_data = _vpc_or_fail(ctx, params["VpcId"]).data
    if not params.get("ServiceName"):
        raise ServiceError("MissingParameter", "The request must contain the parameter ServiceName", 400)
    dry_run(params)
    endpoint_id = new_id("vpce-")
    kind = params.get("VpcEndpointType", "Gateway")
    data = {
        "VpcEndpointId": endpoint_id,
        "VpcEndpointType": kind,
        "VpcId": vpc_data["VpcId"],
        "ServiceName": params["ServiceName"],
        "State": "available",
        "PolicyDocument": params.get("PolicyDocument")
        or '{"Version":"2008-10-17","Statement":[{"Effect":'
        '"Allow","Principal":"*","Action":"*","Resource":"*"}]}',
        "RouteTableIds": params.get("RouteTableIds") or [],
        "SubnetIds": params.get("SubnetIds") or [],
        "Groups": [{"GroupId": g} for g in params.get("SecurityGroupIds") or []],
        "PrivateDnsEnabled": bool(params.get("PrivateDnsEnabled", kind == "Interface")),
        "RequesterManaged": False,
        "NetworkInterfaceIds": [],
        "DnsEntries": [],
        "CreationTimestamp": dt.datetime.now(dt.timezone.utc),
        "OwnerId": ctx.account_id,
    }
    return {
        "VpcEndpoint": put_row(
            ctx, ENDPOINT, endpoint_id, data, spec_tags(params, "vpc-endpoint"), parent=vpc_data["VpcId"]
        )
    }


@OPERATIONS.handler("DescribeVpcEndpoints")
def describe_vpc_endpoints(ctx: RequestContext, params: dict) -> dict:
    items = only_ids(
        rows(ctx, ENDPOINT),
        "VpcEndpointId",
        params.get("VpcEndpointIds"),
        "InvalidVpcEndpointId.NotFound",
        "VPC endpoint",
    )
    items, extra = page(apply_filters(items, params.get("Filters"), ENDPOINT_FIELDS, "vpc-endpoint"), params)
    return {"VpcEndpoints": items, **extra}


# -- zones and account attributes -----------------------------------------------------------------

ZONE_FIELDS = {
    "zone-name": lambda z: z["ZoneName"],
    "zone-id": lambda z: z["ZoneId"],
    "state": lambda z: z["State"],
    "region-name": lambda z: z["RegionName"],
    "zone-type": lambda z: z["ZoneType"],
    "opt-in-status": lambda z: z["OptInStatus"],
    "group-name": lambda z: z["GroupName"],
}


@OPERATIONS.handler("DescribeAvailabilityZones")
def describe_availability_zones(ctx: RequestContext, params: dict) -> dict:
    items = zones(ctx.region)
    wanted = set(params.get("ZoneNames") or []) | set(params.get("ZoneIds") or [])
    if wanted:
        items = [z for z in items if z["ZoneName"] in wanted or z["ZoneId"] in wanted]
        if len(items) < len(wanted):
            unknown = sorted(wanted - {z["ZoneName"] for z in items} - {z["ZoneId"] for z in items})
            raise ServiceError(
                "InvalidParameterValue",
                f"The availability zone '{unknown[0]}' is not "
                f"available in the current region ({ctx.region}).",
                400,
            )
    return {"AvailabilityZones": apply_filters(items, params.get("Filters"), ZONE_FIELDS, "zone")}


@OPERATIONS.handler("DescribeAccountAttributes")
def describe_account_attributes(ctx: RequestContext, params: dict) -> dict:
    get_row(ctx, VPC, default_vpc_id(ctx))
    values = {
        "supported-platforms": ["VPC"],
        "default-vpc": [default_vpc_id(ctx)],
        "max-instances": ["20"],
        "vpc-max-security-groups-per-interface": ["5"],
        "max-elastic-ips": ["5"],
        "vpc-max-elastic-ips": ["5"],
    }
    names = params.get("AttributeNames") or list(values)
    return {
        "AccountAttributes": [
            {"AttributeName": n, "AttributeValues": [{"AttributeValue": v} for v in values.get(n, [])]}
            for n in names
        ]
    }
