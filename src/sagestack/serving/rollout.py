"""Deployment guardrails for UpdateEndpoint: traffic shifting between the old (blue) and new (green) fleet,
baking periods watched by CloudWatch alarms, and automatic rollback.

* :func:`check_deployment_config` — the DeploymentConfig checks UpdateEndpoint makes;
* :func:`shift_schedule` — pure: a DeploymentConfig and the blue fleet's capacity → the traffic steps
  ``[(share of traffic on green, seconds to bake at that share)]``:

  - ``ALL_AT_ONCE``: everything at once, then ``TerminationWaitInSeconds``;
  - ``CANARY``: ``CanarySize`` (instances, or percent of the blue capacity) worth of traffic for
    ``WaitIntervalInSeconds``, then the rest, then ``TerminationWaitInSeconds``;
  - ``LINEAR``: ``LinearStepSize`` more every ``WaitIntervalInSeconds`` until all, then
    ``TerminationWaitInSeconds``;
  - ``RollingUpdatePolicy``: ``MaximumBatchSize`` worth of capacity per batch, ``WaitIntervalInSeconds``
    between batches (the new fleet is started whole first, so a batch is a share of the traffic);

* :class:`TrafficShiftRoute` — the route the router serves while traffic is split: each request goes to
  the green fleet with the step's probability, else to the blue one;
* :class:`Rollout` — the state of one guarded update, advanced by the endpoint reconciler
  (``reconcilers/rollouts.py``).
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass, field

from ..protocol.errors import ServiceError
from .router import EndpointRoute

TYPES = ("ALL_AT_ONCE", "CANARY", "LINEAR")


def _invalid(message: str) -> ServiceError:
    return ServiceError("ValidationException", message)


def capacity_size(size: dict, capacity: int) -> int:
    """A CapacitySize (``INSTANCE_COUNT`` or ``CAPACITY_PERCENT``) as a number of instances (at least 1)."""
    value = float(size["Value"])
    if size["Type"] == "CAPACITY_PERCENT":
        return max(1, math.ceil(round(capacity * value / 100.0, 9)))
    return max(1, int(value))


def blue_capacity(plan: dict) -> int:
    return sum(int(v.get("InstanceCount", 1)) for v in plan["Variants"]) or 1


def check_deployment_config(config: dict, plan: dict | None = None) -> None:
    """UpdateEndpoint's checks on DeploymentConfig (ValidationException on a bad one)."""
    blue_green = config.get("BlueGreenUpdatePolicy")
    rolling = config.get("RollingUpdatePolicy")
    if blue_green and rolling:
        raise _invalid(
            "DeploymentConfig can specify only one of BlueGreenUpdatePolicy and RollingUpdatePolicy."
        )
    if rolling:
        size = rolling["MaximumBatchSize"]
        if size["Type"] == "CAPACITY_PERCENT" and not 5 <= float(size["Value"]) <= 50:
            raise _invalid(
                "RollingUpdatePolicy.MaximumBatchSize must be between 5% and 50% of the fleet capacity."
            )
        return
    if not blue_green:
        return
    routing = blue_green["TrafficRoutingConfiguration"]
    kind = routing["Type"]
    if kind not in TYPES:
        raise _invalid(f"TrafficRoutingConfiguration.Type must be one of {', '.join(TYPES)}.")
    if kind == "CANARY":
        size = routing.get("CanarySize")
        if not size:
            raise _invalid("CanarySize must be specified for CANARY traffic routing.")
        if size["Type"] == "CAPACITY_PERCENT" and not 0 < float(size["Value"]) <= 50:
            raise _invalid("CanarySize must be greater than 0% and at most 50% of the fleet capacity.")
        if (
            plan is not None
            and size["Type"] == "INSTANCE_COUNT"
            and int(size["Value"]) > max(1, blue_capacity(plan) // 2)
        ):
            raise _invalid("CanarySize must be at most 50% of the new fleet's instance count.")
    if kind == "LINEAR":
        size = routing.get("LinearStepSize")
        if not size:
            raise _invalid("LinearStepSize must be specified for LINEAR traffic routing.")
        if size["Type"] == "CAPACITY_PERCENT" and not 10 <= float(size["Value"]) <= 50:
            raise _invalid("LinearStepSize must be between 10% and 50% of the fleet capacity.")


@dataclass(frozen=True)
class Step:
    fraction: float  # share of the traffic the green fleet gets
    wait: float  # seconds to bake at this share before the next step


def shift_schedule(config: dict, capacity: int) -> list[Step]:
    """The traffic steps of a guarded update (pure)."""
    capacity = max(1, int(capacity))
    rolling = config.get("RollingUpdatePolicy")
    if rolling:
        batch = capacity_size(rolling["MaximumBatchSize"], capacity)
        wait = float(rolling.get("WaitIntervalInSeconds") or 0)
        batches = math.ceil(capacity / batch)
        return [
            Step(min(1.0, (k + 1) * batch / capacity), wait if k + 1 < batches else 0.0)
            for k in range(batches)
        ]
    policy = config.get("BlueGreenUpdatePolicy") or {}
    routing = policy.get("TrafficRoutingConfiguration") or {"Type": "ALL_AT_ONCE"}
    termination = float(policy.get("TerminationWaitInSeconds") or 0)
    wait = float(routing.get("WaitIntervalInSeconds") or 0)
    kind = routing.get("Type", "ALL_AT_ONCE")
    if kind == "CANARY":
        share = min(1.0, capacity_size(routing["CanarySize"], capacity) / capacity)
        return [Step(share, wait), Step(1.0, termination)] if share < 1.0 else [Step(1.0, termination)]
    if kind == "LINEAR":
        size = capacity_size(routing["LinearStepSize"], capacity)
        steps = []
        k = 1
        while k * size < capacity:
            steps.append(Step(k * size / capacity, wait))
            k += 1
        return steps + [Step(1.0, termination)]
    return [Step(1.0, termination)]


def execution_timeout(config: dict) -> float | None:
    for key in ("BlueGreenUpdatePolicy", "RollingUpdatePolicy"):
        value = (config.get(key) or {}).get("MaximumExecutionTimeoutInSeconds")
        if value:
            return float(value)
    return None


def rollback_alarms(config: dict) -> list[str]:
    return [a["AlarmName"] for a in (config.get("AutoRollbackConfiguration") or {}).get("Alarms") or []]


class TrafficShiftRoute(EndpointRoute):
    """An endpoint's route while its traffic is split between two fleets."""

    __slots__ = ("blue", "fraction", "green")

    def __init__(self, blue: EndpointRoute, green: EndpointRoute, fraction: float):
        for name in EndpointRoute.__slots__:
            setattr(self, name, getattr(blue, name))
        self.blue = blue
        self.green = green
        self.fraction = fraction
        self.shadows = green.shadows if fraction >= 1.0 else blue.shadows

    def pick_variant(self, target: str | None):
        first, second = (
            (self.green, self.blue) if random.random() < self.fraction else (self.blue, self.green)
        )
        if target and target not in first.by_name and target in second.by_name:
            first = second
        return first.pick_variant(target)


@dataclass
class Rollout:
    """One guarded update in progress (kept by the endpoint reconciler, in memory)."""

    steps: list[Step]
    alarms: list[str]
    deadline: float | None
    green_generation: int = 0
    index: int = -1
    step_started: float = 0.0
    green_instances: list = field(default_factory=list)
    rolled_back_at: float | None = None

    @property
    def fraction(self) -> float:
        return self.steps[self.index].fraction if self.index >= 0 else 0.0

    def due(self, now: float | None = None) -> bool:
        """Whether the current step has baked long enough."""
        now = time.monotonic() if now is None else now
        return self.index < 0 or now - self.step_started >= self.steps[self.index].wait
