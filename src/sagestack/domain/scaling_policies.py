"""Scaling policies as pure functions: metrics and state in, a capacity out (unit-tested on their own).

* Target tracking: ``ceil(current × metric / target)`` — the capacity at which the per-capacity metric
  would sit at the target (the metric must fall in proportion as capacity grows, as
  InvocationsPerInstance does). Scale-in is refused when the policy disables it.
* Step scaling: the step whose interval (relative to the alarm threshold) holds the breach, applied as
  ``ChangeInCapacity``, ``PercentChangeInCapacity`` (rounded as Application Auto Scaling rounds, with
  ``MinAdjustmentMagnitude``) or ``ExactCapacity``.
* Several policies firing together: the largest capacity wins, for scale-out and scale-in alike.
* Cooldowns: a scale-out waits ``ScaleOutCooldown`` after the previous scale-out completed; a scale-in
  waits ``ScaleInCooldown`` after the previous scale-in completed, and is also held while a scale-out's
  cooldown runs (scale-in is conservative; a scale-out is never held by a scale-in's cooldown).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

OUT, IN = "out", "in"


def clamp(capacity: int, minimum: int, maximum: int) -> int:
    return max(int(minimum), min(int(maximum), int(capacity)))


def target_tracking_capacity(
    current: int, value: float, target: float, *, disable_scale_in: bool = False
) -> int:
    """The capacity that brings ``value`` (a per-unit metric measured at ``current``) to ``target``."""
    if target <= 0:
        raise ValueError("the target value must be positive")
    current = max(1, int(current))
    wanted = math.ceil(round(current * float(value) / float(target), 9))
    wanted = max(1, wanted)
    if disable_scale_in and wanted < current:
        return current
    return wanted


def _round_percent(change: float) -> int:
    """Application Auto Scaling's rounding of a percentage change: magnitudes above 1 are truncated toward
    zero; magnitudes between 0 and 1 become ±1."""
    if change == 0:
        return 0
    if abs(change) < 1:
        return 1 if change > 0 else -1
    return int(change)  # truncates toward zero


def step_adjustment(steps: Sequence[dict], breach: float, threshold: float) -> dict | None:
    """The step adjustment whose bounds (offsets from ``threshold``) contain ``breach``. Above the threshold
    the lower bound is inclusive and the upper exclusive; below it the reverse (at the threshold itself,
    either reading)."""
    offset = float(breach) - float(threshold)
    for step in steps:
        lower = step.get("MetricIntervalLowerBound")
        upper = step.get("MetricIntervalUpperBound")
        lower = -math.inf if lower is None else float(lower)
        upper = math.inf if upper is None else float(upper)
        above = lower <= offset < upper
        below = lower < offset <= upper
        if above if offset > 0 else below if offset < 0 else above or below:
            return step
    return None


def step_scaling_capacity(current: int, config: dict, breach: float, threshold: float) -> int | None:
    """The capacity a step scaling policy asks for, or None when no step matches."""
    step = step_adjustment(config.get("StepAdjustments") or [], breach, threshold)
    if step is None:
        return None
    adjustment = int(step["ScalingAdjustment"])
    kind = config.get("AdjustmentType") or "ChangeInCapacity"
    if kind == "ExactCapacity":
        return max(0, adjustment)
    if kind == "PercentChangeInCapacity":
        change = _round_percent(current * adjustment / 100.0)
        magnitude = config.get("MinAdjustmentMagnitude")
        if magnitude and change and abs(change) < int(magnitude):
            change = int(magnitude) if change > 0 else -int(magnitude)
        return max(0, current + change)
    return max(0, current + adjustment)


def combine(current: int, wanted: Iterable[int | None]) -> int | None:
    """Several policies at once: the one giving the largest capacity wins; None when none asked."""
    values = [int(v) for v in wanted if v is not None]
    return max(values) if values else None


@dataclass(frozen=True)
class Cooldowns:
    """When the last scaling activities of a target completed (epoch seconds; 0 = never)."""

    last_scale_out: float = 0.0
    last_scale_in: float = 0.0


def cooldown_remaining(
    direction: str, now: float, history: Cooldowns, scale_out_cooldown: float, scale_in_cooldown: float
) -> float:
    """Seconds before a scaling activity in ``direction`` may start (0 when it may start now)."""
    if direction == OUT:
        return max(0.0, history.last_scale_out + scale_out_cooldown - now) if history.last_scale_out else 0.0
    waits = [0.0]
    if history.last_scale_in:
        waits.append(history.last_scale_in + scale_in_cooldown - now)
    if history.last_scale_out:
        waits.append(history.last_scale_out + scale_out_cooldown - now)
    return max(waits)


@dataclass(frozen=True)
class Decision:
    """What to do with one scalable target: a new capacity and why, or nothing."""

    capacity: int
    direction: str
    policy_name: str
    cause: str


def decide(
    current: int,
    minimum: int,
    maximum: int,
    proposals: Sequence[tuple[int | None, str, str]],
    now: float,
    history: Cooldowns,
    cooldowns: dict[str, tuple[float, float]],
    suspended: dict | None = None,
) -> Decision | None:
    """Pick the capacity to set from ``(capacity, policy name, cause)`` proposals, applying min/max,
    suspension, and each policy's ``(scale-out, scale-in)`` cooldowns. None: nothing to do."""
    suspended = suspended or {}
    best: tuple[int, str, str] | None = None
    for capacity, name, cause in proposals:
        if capacity is None:
            continue
        capacity = clamp(capacity, minimum, maximum)
        if best is None or capacity > best[0]:
            best = (capacity, name, cause)
    if best is None or best[0] == current:
        return None
    capacity, name, cause = best
    direction = OUT if capacity > current else IN
    if suspended.get("DynamicScalingOutSuspended" if direction == OUT else "DynamicScalingInSuspended"):
        return None
    out_cooldown, in_cooldown = cooldowns.get(name, (0.0, 0.0))
    if cooldown_remaining(direction, now, history, out_cooldown, in_cooldown) > 0:
        return None
    return Decision(capacity, direction, name, cause)
