"""Amazon EC2 (the ``ec2`` protocol), as much as SageMaker's VPC flows need: the account's default VPC
with a default subnet per availability zone and its default security group, VPCs, subnets, security
groups, route tables, VPC endpoints and tags. Networks are recorded, not built: a job or endpoint with
a ``VpcConfig`` runs on this machine's network (see the user guide)."""

from __future__ import annotations

from ..registry import OperationTable
from . import network, security_groups, tags

OPERATIONS = OperationTable("ec2").merge(network.OPERATIONS, security_groups.OPERATIONS, tags.OPERATIONS)
