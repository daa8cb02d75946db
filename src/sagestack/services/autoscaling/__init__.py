"""Application Auto Scaling (``AnyScaleFrontendService``): scalable targets, scaling policies and scaling
activities for ``sagemaker:variant:DesiredInstanceCount``. Handlers record desired state; the scaling loop
(:mod:`sagestack.reconcilers.autoscaling`) runs policies when their CloudWatch alarms are in ALARM."""

from __future__ import annotations

from ..errors import resource_error
from ..registry import OperationTable
from . import activities, policies, targets

OPERATIONS = OperationTable("application-autoscaling", errors=resource_error).merge(
    targets.OPERATIONS, policies.OPERATIONS, activities.OPERATIONS
)
