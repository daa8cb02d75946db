"""Amazon ECR (JSON 1.1, ``AmazonEC2ContainerRegistry_V20150921``): the operations the SageMaker SDK and
users call for their images, answered from the container engine's local images (see
``domain/repositories.py``). There is no registry to push to: images are built or tagged locally under
``<account>.dkr.ecr.<region>.amazonaws.com/<name>:<tag>`` (docs/containers.md)."""

from __future__ import annotations

from ..registry import OperationTable
from . import repositories
from .common import errors

OPERATIONS = OperationTable("ecr", errors).merge(repositories.OPERATIONS)
