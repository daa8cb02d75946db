"""EC2 through boto3: the default VPC every account has, and the VPC calls SageMaker users make."""

from __future__ import annotations

import uuid

import botocore.exceptions
import pytest

from helpers import error_code


@pytest.fixture
def ec2(server):
    return server.client("ec2")


def _default_vpc(ec2) -> dict:
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"]
    assert len(vpcs) == 1
    return vpcs[0]


def test_default_vpc_is_stable_and_shaped_like_aws(ec2, server):
    vpc = _default_vpc(ec2)
    assert vpc["VpcId"].startswith("vpc-") and vpc["CidrBlock"] == "172.31.0.0/16"
    assert vpc["IsDefault"] is True and vpc["State"] == "available"
    assert vpc["CidrBlockAssociationSet"][0]["CidrBlockState"]["State"] == "associated"
    assert ec2.describe_vpcs(VpcIds=[vpc["VpcId"]])["Vpcs"] == [vpc]
    assert _default_vpc(server.client("ec2")) == vpc  # deterministic per account and region
    attributes = {
        a["AttributeName"]: [v["AttributeValue"] for v in a["AttributeValues"]]
        for a in ec2.describe_account_attributes()["AccountAttributes"]
    }
    assert attributes["default-vpc"] == [vpc["VpcId"]] and attributes["supported-platforms"] == ["VPC"]


def test_default_subnets_one_per_zone(ec2):
    vpc = _default_vpc(ec2)
    zones = [z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"]]
    assert zones[:3] == ["us-east-1a", "us-east-1b", "us-east-1c"]
    subnets = ec2.describe_subnets(
        Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}, {"Name": "default-for-az", "Values": ["true"]}]
    )["Subnets"]
    assert sorted(s["AvailabilityZone"] for s in subnets) == zones
    assert all(s["CidrBlock"].startswith("172.31.") and s["CidrBlock"].endswith("/20") for s in subnets)
    assert all(s["MapPublicIpOnLaunch"] and s["AvailableIpAddressCount"] == 4091 for s in subnets)
    one = ec2.describe_subnets(
        Filters=[
            {"Name": "availability-zone", "Values": ["us-east-1b"]},
            {"Name": "defaultForAz", "Values": ["true"]},
        ]
    )["Subnets"]
    assert len(one) == 1 and one[0]["SubnetArn"].endswith(f"subnet/{one[0]['SubnetId']}")
    assert ec2.describe_subnets(SubnetIds=[one[0]["SubnetId"]])["Subnets"] == one
    with pytest.raises(botocore.exceptions.ClientError) as info:
        ec2.describe_subnets(SubnetIds=["subnet-0000dead"])
    assert error_code(info) == "InvalidSubnetID.NotFound" and "subnet-0000dead" in str(info.value)


def test_default_security_group(ec2):
    vpc = _default_vpc(ec2)
    groups = ec2.describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}, {"Name": "group-name", "Values": ["default"]}]
    )["SecurityGroups"]
    assert len(groups) == 1
    group = groups[0]
    assert group["Description"] == "default VPC security group" and group["GroupId"].startswith("sg-")
    assert group["IpPermissions"][0]["UserIdGroupPairs"][0]["GroupId"] == group["GroupId"]
    assert group["IpPermissionsEgress"][0]["IpRanges"] == [{"CidrIp": "0.0.0.0/0"}]
    assert ec2.describe_security_groups(GroupNames=["default"])["SecurityGroups"] == [group]
    with pytest.raises(botocore.exceptions.ClientError) as info:
        ec2.describe_security_groups(GroupIds=["sg-0000dead"])
    assert error_code(info) == "InvalidGroup.NotFound"
    with pytest.raises(botocore.exceptions.ClientError) as info:
        ec2.delete_security_group(GroupId=group["GroupId"])
    assert error_code(info) == "CannotDelete"


def test_unknown_vpc_and_bad_filter(ec2):
    with pytest.raises(botocore.exceptions.ClientError) as info:
        ec2.describe_vpcs(VpcIds=["vpc-0000dead"])
    assert (
        error_code(info) == "InvalidVpcID.NotFound"
        and "vpc-0000dead" in info.value.response["Error"]["Message"]
    )
    with pytest.raises(botocore.exceptions.ClientError) as info:
        ec2.describe_vpcs(Filters=[{"Name": "no-such-filter", "Values": ["x"]}])
    assert error_code(info) == "InvalidParameterValue"


def test_vpc_helper_flow_create_tag_find(ec2):
    """What the SageMaker SDK's integration VPC helper does: find by tag, else create and tag."""
    name = f"sagemaker-vpc-{uuid.uuid4().hex[:8]}"
    assert ec2.describe_vpcs(Filters=[{"Name": "tag-value", "Values": [name]}])["Vpcs"] == []
    vpc_id = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    ec2.create_tags(Resources=[vpc_id], Tags=[{"Key": "Name", "Value": name}])
    zone = ec2.describe_availability_zones()["AvailabilityZones"][0]["ZoneName"]
    subnet_a = ec2.create_subnet(CidrBlock="10.0.0.0/24", VpcId=vpc_id, AvailabilityZone=zone)["Subnet"]
    subnet_b = ec2.create_subnet(CidrBlock="10.0.1.0/24", VpcId=vpc_id, AvailabilityZone=zone)["Subnet"]
    assert subnet_a["DefaultForAz"] is False and subnet_a["AvailableIpAddressCount"] == 251
    ec2.create_tags(
        Resources=[subnet_a["SubnetId"], subnet_b["SubnetId"]], Tags=[{"Key": "Name", "Value": name}]
    )
    tables = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["RouteTables"]
    assert len(tables) == 1 and tables[0]["Associations"][0]["Main"] is True
    endpoint = ec2.create_vpc_endpoint(
        VpcId=vpc_id, ServiceName="com.amazonaws.us-east-1.s3", RouteTableIds=[tables[0]["RouteTableId"]]
    )["VpcEndpoint"]
    assert endpoint["State"] == "available"
    assert (
        ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["VpcEndpoints"][0][
            "VpcEndpointId"
        ]
        == endpoint["VpcEndpointId"]
    )
    group_id = ec2.create_security_group(GroupName=name, Description="sagemaker vpc tests", VpcId=vpc_id)[
        "GroupId"
    ]
    ec2.create_tags(Resources=[group_id], Tags=[{"Key": "Name", "Value": name}])
    ec2.authorize_security_group_ingress(
        GroupId=group_id,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 2049,
                "ToPort": 2049,
                "UserIdGroupPairs": [{"GroupId": group_id}],
            }
        ],
    )
    with pytest.raises(botocore.exceptions.ClientError) as info:
        ec2.create_security_group(GroupName=name, Description="again", VpcId=vpc_id)
    assert error_code(info) == "InvalidGroup.Duplicate"

    found = ec2.describe_vpcs(Filters=[{"Name": "tag-value", "Values": [name]}])["Vpcs"]
    assert [v["VpcId"] for v in found] == [vpc_id] and found[0]["Tags"] == [{"Key": "Name", "Value": name}]
    subnets = ec2.describe_subnets(Filters=[{"Name": "tag-value", "Values": [name]}])["Subnets"]
    assert sorted(s["SubnetId"] for s in subnets) == sorted([subnet_a["SubnetId"], subnet_b["SubnetId"]])
    groups = ec2.describe_security_groups(Filters=[{"Name": "tag:Name", "Values": [name]}])["SecurityGroups"]
    assert [g["GroupId"] for g in groups] == [group_id]
    assert groups[0]["IpPermissions"][0]["FromPort"] == 2049
    by_vpc = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["SecurityGroups"]
    assert sorted(g["GroupName"] for g in by_vpc) == sorted(["default", name])

    with pytest.raises(botocore.exceptions.ClientError) as info:
        ec2.create_subnet(CidrBlock="10.0.1.0/24", VpcId=vpc_id)
    assert error_code(info) == "InvalidSubnet.Conflict"
    with pytest.raises(botocore.exceptions.ClientError) as info:
        ec2.create_subnet(CidrBlock="192.168.0.0/24", VpcId=vpc_id)
    assert error_code(info) == "InvalidSubnet.Range"
    with pytest.raises(botocore.exceptions.ClientError) as info:
        ec2.delete_vpc(VpcId=vpc_id)
    assert error_code(info) == "DependencyViolation"
    ec2.delete_security_group(GroupId=group_id)
    ec2.delete_subnet(SubnetId=subnet_a["SubnetId"])
    ec2.delete_subnet(SubnetId=subnet_b["SubnetId"])
    ec2.delete_vpc(VpcId=vpc_id)
    assert ec2.describe_vpcs(Filters=[{"Name": "tag-value", "Values": [name]}])["Vpcs"] == []


def test_pagination_and_wildcards(ec2):
    subnets = []
    for page in ec2.get_paginator("describe_subnets").paginate(
        Filters=[
            {"Name": "availability-zone", "Values": ["us-east-1*"]},
            {"Name": "default-for-az", "Values": ["true"]},
        ],
        PaginationConfig={"PageSize": 5},
    ):
        subnets.extend(page["Subnets"])
    assert len(subnets) == 6 and len({s["SubnetId"] for s in subnets}) == 6


def test_sagemaker_vpc_config_recorded(server, ec2):
    vpc = _default_vpc(ec2)
    subnets = [
        s["SubnetId"]
        for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])["Subnets"]
    ][:2]
    group = ec2.describe_security_groups(GroupNames=["default"])["SecurityGroups"][0]["GroupId"]
    sm = server.client("sagemaker")
    name = f"vpc-model-{uuid.uuid4().hex[:8]}"
    sm.create_model(
        ModelName=name,
        ExecutionRoleArn="arn:aws:iam::000000000000:role/SageMakerRole",
        PrimaryContainer={
            "Image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
        },
        VpcConfig={"SecurityGroupIds": [group], "Subnets": subnets},
    )
    assert sm.describe_model(ModelName=name)["VpcConfig"] == {"SecurityGroupIds": [group], "Subnets": subnets}


def test_dry_run(ec2):
    with pytest.raises(botocore.exceptions.ClientError) as info:
        ec2.create_vpc(CidrBlock="10.1.0.0/16", DryRun=True)
    assert error_code(info) == "DryRunOperation"
