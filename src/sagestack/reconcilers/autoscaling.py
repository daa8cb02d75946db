"""The scaling loop: CloudWatch alarms in ALARM whose actions name a scaling policy run that policy.

Each pass (every ``INTERVAL`` seconds):

1. in-progress activities are finished once the endpoint is back InService (Successful, with the new
   instance count, or Failed with the endpoint's reason); completion times feed the cooldowns;
2. targets whose capacity lies outside [MinCapacity, MaxCapacity] are moved inside;
3. every alarm in ALARM with actions enabled and a policy ARN among its AlarmActions invokes the policy —
   when it enters ALARM and again once per alarm period while it stays there, as CloudWatch re-invokes
   Auto Scaling actions. A target tracking policy computes ``ceil(current × metric / target)`` from the
   alarm's latest datapoint; a step policy applies the step holding the breach. Per target the largest
   proposal wins, then min/max, suspension and cooldowns apply (:func:`domain.scaling_policies.decide`).

State that must survive a restart (activities, last scale-out/in times) is in the store; the loop keeps
only when it last invoked each alarm's actions.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid

from ..domain import scaling_policies as policies
from ..domain.alarms import alarm_datapoints
from ..domain.scalable_targets import (
    ACTIVITY,
    ACTIVITY_STATUS,
    DEFAULT_COOLDOWN,
    POLICY,
    TARGET,
    set_capacity,
    variant_state,
)
from ..store.metrics import metric_store
from ..store.resources import ConcurrentModification
from .base import Reconciler

log = logging.getLogger("sagestack.autoscaling")
INTERVAL = 1.0
POLICY_ARN_MARK = ":scalingPolicy:"


def _utc(ts: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc)


class ScalingReconciler(Reconciler):
    name = "autoscaling"
    interval = INTERVAL

    def __init__(self, platform):
        super().__init__(platform)
        self.resources = platform.resources
        self.store = metric_store(platform)
        self.invoked: dict[tuple[str, str, str], float] = {}  # (account, region, alarm) → last invocation

    def step(self, now: float | None = None) -> None:
        now = time.time() if now is None else now
        busy = self.finish_activities(now)
        targets = {
            (r.account_id, r.region, r.name): r for r in self.resources.in_states(TARGET, ["Registered"])
        }
        proposals = self.alarm_proposals(now, targets)
        idle = [target for key, target in targets.items() if key not in busy]
        self.each(
            idle,
            lambda t: self.scale(t, proposals.get((t.account_id, t.region, t.name), []), now),
            "scalable target",
        )

    # -- alarms → proposals ----------------------------------------------------------------------

    def alarm_proposals(self, now: float, targets: dict) -> dict:
        """``{target key: [(capacity, policy name, cause, (out cooldown, in cooldown))]}``."""
        out: dict = {}
        seen = set()
        for account, region, alarm in self.store.all_alarms():
            key = (account, region, alarm["AlarmName"])
            seen.add(key)
            arns = [a for a in alarm.get("AlarmActions") or [] if POLICY_ARN_MARK in a]
            if not arns or alarm.get("StateValue") != "ALARM" or alarm.get("ActionsEnabled") is False:
                self.invoked.pop(key, None)
                continue
            last = self.invoked.get(key)
            if last is not None and now - last < float(alarm.get("Period") or 60):
                continue
            self.invoked[key] = now
            for arn in arns:
                try:
                    proposal = self.run_policy(account, region, alarm, arn, now, targets)
                except Exception:
                    log.exception("running scaling policy %s failed", arn)
                    continue
                if proposal is not None:
                    out.setdefault(proposal[0], []).append(proposal[1])
        for key in set(self.invoked) - seen:
            self.invoked.pop(key, None)
        return out

    def latest_value(
        self, account: str, region: str, alarm: dict, now: float, aggregation: str = "last"
    ) -> float | None:
        points = [v for _, v in sorted(alarm_datapoints(self.store, account, region, alarm, now))]
        if not points:
            data = alarm.get("StateReasonData")
            if isinstance(data, str):
                import json

                try:
                    points = json.loads(data).get("recentDatapoints") or []
                except ValueError:
                    points = []
        if not points:
            return None
        if aggregation == "Average":
            return sum(points) / len(points)
        if aggregation == "Minimum":
            return min(points)
        if aggregation == "Maximum":
            return max(points)
        return points[-1]

    def run_policy(self, account: str, region: str, alarm: dict, arn: str, now: float, targets: dict):
        row = self.resources.get_by_arn(arn)
        if row is None or row.resource_type != POLICY:
            return None
        target = targets.get((account, region, row.parent))
        if target is None:
            return None
        state = variant_state(self.resources, account, region, target.data["ResourceId"])
        if state is None or state.current is None:
            return None
        data = row.data
        cause = f"monitor alarm {alarm['AlarmName']} in state ALARM triggered policy {data['PolicyName']}"
        if data["PolicyType"] == "TargetTrackingScaling":
            config = data["TargetTrackingScalingPolicyConfiguration"]
            value = self.latest_value(account, region, alarm, now)
            if value is None:
                return None
            capacity = policies.target_tracking_capacity(
                state.current,
                value,
                float(config["TargetValue"]),
                disable_scale_in=bool(config.get("DisableScaleIn")),
            )
            high = alarm["ComparisonOperator"].startswith("Greater")
            if (high and capacity < state.current) or (not high and capacity > state.current):
                return None  # the datapoint no longer says what the alarm said
            cooldowns = (
                float(config.get("ScaleOutCooldown", DEFAULT_COOLDOWN)),
                float(config.get("ScaleInCooldown", DEFAULT_COOLDOWN)),
            )
        else:
            config = data["StepScalingPolicyConfiguration"]
            value = self.latest_value(
                account, region, alarm, now, config.get("MetricAggregationType") or "Average"
            )
            if value is None:
                return None
            capacity = policies.step_scaling_capacity(
                state.current, config, value, float(alarm.get("Threshold", 0))
            )
            cooldown = float(config.get("Cooldown") or 0)
            cooldowns = (cooldown, cooldown)
        if capacity is None:
            return None
        return (account, region, row.parent), (capacity, data["PolicyName"], cause, cooldowns)

    # -- applying ---------------------------------------------------------------------------------

    def scale(self, target, proposals: list, now: float) -> None:
        data = target.data
        state = variant_state(self.resources, target.account_id, target.region, data["ResourceId"])
        if state is None or state.current is None or state.status != "InService" or state.updating:
            return
        minimum, maximum = int(data["MinCapacity"]), int(data["MaxCapacity"])
        if state.current < minimum or state.current > maximum:
            wanted = minimum if state.current < minimum else maximum
            which = "minimum" if state.current < minimum else "maximum"
            self.apply(
                target,
                state,
                wanted,
                "out" if wanted > state.current else "in",
                f"{which} capacity was set to {wanted}",
                now,
                by_policy=False,
            )
            return
        if not proposals:
            return
        history = policies.Cooldowns(
            float(data.get("_last_scale_out") or 0), float(data.get("_last_scale_in") or 0)
        )
        decision = policies.decide(
            state.current,
            minimum,
            maximum,
            [(c, n, cause) for c, n, cause, _ in proposals],
            now,
            history,
            {n: cd for _, n, _, cd in proposals},
            data.get("SuspendedState"),
        )
        if decision is not None:
            self.apply(target, state, decision.capacity, decision.direction, decision.cause, now)

    def apply(
        self, target, state, capacity: int, direction: str, cause: str, now: float, by_policy: bool = True
    ) -> None:
        data = target.data
        set_capacity(self.resources, state, data["ResourceId"], capacity)
        activity_id = str(uuid.uuid4())
        activity = {
            "ActivityId": activity_id,
            "ServiceNamespace": data["ServiceNamespace"],
            "ResourceId": data["ResourceId"],
            "ScalableDimension": data["ScalableDimension"],
            "Description": f"Setting desired instance count to {capacity}.",
            "Cause": cause,
            "StartTime": _utc(now),
            "StatusCode": "InProgress",
            "StatusMessage": f"Waiting for the endpoint to set the instance count to {capacity}.",
            "_capacity": capacity,
            "_direction": direction,
            "_policy": by_policy,
        }
        self.resources.create(
            target.account_id,
            target.region,
            ACTIVITY,
            activity_id,
            f"{data['ScalableTargetARN']}/activity/{activity_id}",
            activity,
            status="InProgress",
            parent=target.name,
        )
        log.info("%s: setting desired instance count to %d (%s)", data["ResourceId"], capacity, cause)

    def finish_activities(self, now: float) -> set:
        """Complete in-progress activities; returns the targets that still have one."""
        busy = set()
        for row in self.resources.in_states(ACTIVITY, ["InProgress"]):
            data = row.data
            state = variant_state(self.resources, row.account_id, row.region, data["ResourceId"])
            capacity = int(data["_capacity"])
            waiting = state is not None and (state.updating or state.status not in ("InService", "Failed"))
            if waiting and now - data["StartTime"].timestamp() < 3600:
                busy.add((row.account_id, row.region, row.parent))
                continue
            done = dict(data, EndTime=_utc(now))
            if state is not None and state.current == capacity and state.status == "InService":
                done.update(
                    StatusCode="Successful",
                    StatusMessage=f"Successfully set desired instance count to "
                    f"{capacity}. Change successfully fulfilled by sagemaker.",
                )
                target = self.resources.get(row.account_id, row.region, TARGET, row.parent)
                if target is not None and data.get("_policy", True):  # policy activities start cooldowns
                    field = "_last_scale_out" if data["_direction"] == "out" else "_last_scale_in"
                    try:
                        self.resources.update(target, dict(target.data, **{field: now}), expect_version=True)
                    except ConcurrentModification:
                        busy.add((row.account_id, row.region, row.parent))
                        continue
            else:
                reason = (
                    state.row.data.get("FailureReason") if state is not None else None
                ) or "the endpoint no longer exists"
                done.update(
                    StatusCode="Failed",
                    StatusMessage=f"Failed to set desired instance count to {capacity}. {reason}",
                )
            ACTIVITY_STATUS.check(row.status, done["StatusCode"])
            self.resources.update(row, done, status=done["StatusCode"])
        return busy


def start(platform) -> None:
    ScalingReconciler.start(platform)
