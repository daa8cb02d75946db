"""CloudWatch metrics and alarms."""
from ..registry import OperationTable

OPERATIONS = OperationTable("cloudwatch")
