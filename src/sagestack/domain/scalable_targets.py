"""Application Auto Scaling's resources (scalable targets, scaling policies, scaling activities), and the
scalable resource behind ``sagemaker:variant:DesiredInstanceCount``: an endpoint variant's instance
count, read from the endpoint's deployed plan and changed through an in-place endpoint update (the same
path as UpdateEndpointWeightsAndCapacities: new workers start, surplus ones drain and stop).

The policies themselves are pure functions (:mod:`.scaling_policies`), the alarms target tracking
creates are data (:mod:`.scaling_alarms`); the loop that runs them is ``reconcilers/autoscaling.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

from .endpoints import TYPE as ENDPOINT_TYPE
from .endpoints import start_update
from .state import StateMachine

TARGET, POLICY, ACTIVITY = "scalable-target", "scaling-policy", "scaling-activity"
#: A scaling activity's StatusCode (the store row's status): started InProgress by the scaling loop,
#: finished once the endpoint update it started settles.
ACTIVITY_STATUS = StateMachine(
    "StatusCode",
    {
        "InProgress": {"Successful", "Failed"},
        "Successful": set(),
        "Failed": set(),
    },
    field="StatusCode",
)
DEFAULT_COOLDOWN = 300  # seconds: SageMaker variants' default scale-in/scale-out cooldown
VARIANT_DIMENSION = "sagemaker:variant:DesiredInstanceCount"


def parse_variant(resource_id: str) -> tuple[str, str] | None:
    """``endpoint/<name>/variant/<variant>`` → (name, variant); None when malformed."""
    parts = resource_id.split("/")
    if len(parts) != 4 or parts[0] != "endpoint" or parts[2] != "variant" or not parts[1] or not parts[3]:
        return None
    return parts[1], parts[3]


@dataclass
class VariantState:
    row: object  # the endpoint's store row
    status: str
    current: int | None  # the variant's desired instance count (None: no such variant)
    updating: bool


def variant_state(resources, account: str, region: str, resource_id: str) -> VariantState | None:
    parsed = parse_variant(resource_id)
    if parsed is None:
        return None
    row = resources.get(account, region, ENDPOINT_TYPE, parsed[0])
    if row is None:
        return None
    plan = row.data.get("_plan") or {}
    count = next(
        (int(v.get("InstanceCount", 1)) for v in plan.get("Variants", []) if v["VariantName"] == parsed[1]),
        None,
    )
    return VariantState(row, row.status, count, bool(row.data.get("_pending")))


def set_capacity(resources, state: VariantState, resource_id: str, capacity: int) -> None:
    """Start the endpoint update that gives the variant ``capacity`` instances (ConcurrentModification when
    the endpoint changed meanwhile)."""
    _, variant = parse_variant(resource_id)
    plan = state.row.data["_plan"]
    variants = [
        dict(v, InstanceCount=int(capacity)) if v["VariantName"] == variant else v for v in plan["Variants"]
    ]
    start_update(resources, state.row, dict(plan, Variants=variants), in_place=True)
