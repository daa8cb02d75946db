"""Guarded endpoint updates (UpdateEndpoint with DeploymentConfig), advanced by the endpoint reconciler.

Once the new (green) fleet is ready, traffic moves to it in the steps :func:`serving.rollout.shift_schedule`
computes, baking at each; during every bake the AutoRollbackConfiguration alarms are read from the alarm
store. An alarm in ALARM (or MaximumExecutionTimeoutInSeconds running out) rolls the endpoint back: all
traffic returns to the old (blue) fleet at once, the endpoint shows ``RollingBack`` until the green
instances are gone, then ``InService`` on its old configuration with a FailureReason. When the last step
has baked, the reconciler activates the green fleet as for any update (the blue one is retired).
"""

from __future__ import annotations

import logging
import time

from ..serving.instances import FAILED, STOPPED
from ..serving.rollout import (
    Rollout,
    TrafficShiftRoute,
    blue_capacity,
    execution_timeout,
    rollback_alarms,
    shift_schedule,
)

log = logging.getLogger("sagestack.reconcilers.endpoints")
ROLLBACK_DRAIN_S = 30.0  # longest a RollingBack endpoint waits for its green instances to stop


def needs_rollout(pending: dict) -> bool:
    config = pending.get("deployment")
    if not config or pending.get("in_place") or pending.get("from_failed"):
        return False
    routing = (config.get("BlueGreenUpdatePolicy") or {}).get("TrafficRoutingConfiguration") or {}
    return bool(
        config.get("RollingUpdatePolicy")
        or routing.get("Type", "ALL_AT_ONCE") != "ALL_AT_ONCE"
        or rollback_alarms(config)
        or (config.get("BlueGreenUpdatePolicy") or {}).get("TerminationWaitInSeconds")
    )


def _alarm_in_alarm(platform, account: str, region: str, names: list[str]) -> list[str]:
    if not names:
        return []
    from ..store.metrics import metric_store

    store = metric_store(platform)
    firing = []
    for name in names:
        alarm = store.get_alarm(account, region, name)
        if alarm is not None and alarm.get("StateValue") == "ALARM":
            firing.append(name)
    return firing


def advance(reconciler, row, key, green, pending: dict) -> bool:
    """Move a guarded update one step; True once the green fleet may take over for good."""
    controller = reconciler.controller
    blue = controller.active_deployment(key)
    config = pending["deployment"]
    state: Rollout | None = reconciler.rollouts.get(key)
    if state is not None and state.green_generation != green.generation:
        state = None
    now = time.monotonic()
    if state is None:
        timeout = execution_timeout(config)
        state = Rollout(
            shift_schedule(config, blue_capacity(blue.plan)),
            rollback_alarms(config),
            now + timeout if timeout else None,
            green.generation,
        )
        reconciler.rollouts[key] = state
    firing = (
        _alarm_in_alarm(reconciler.platform, row.account_id, row.region, state.alarms)
        if state.index >= 0
        else []
    )
    if firing:
        rollback(
            reconciler,
            row,
            key,
            green,
            state,
            f"Deployment was rolled back: CloudWatch alarm(s) {', '.join(firing)} went into ALARM state "
            f"while the new fleet was taking traffic.",
        )
        return False
    if state.deadline is not None and now > state.deadline:
        rollback(
            reconciler,
            row,
            key,
            green,
            state,
            "Deployment was rolled back: it did not complete within MaximumExecutionTimeoutInSeconds.",
        )
        return False
    if not state.due(now):
        return False
    state.index += 1
    if state.index >= len(state.steps):
        reconciler.rollouts.pop(key, None)
        return True
    state.step_started = now
    route = TrafficShiftRoute(controller.route(key, blue), controller.route(key, green), state.fraction)
    controller.router.publish(key, route)
    log.info("endpoint %s: %.0f%% of traffic on the new fleet", key[2], state.fraction * 100)
    return False


def rollback(reconciler, row, key, green, state: Rollout, reason: str) -> None:
    controller = reconciler.controller
    blue = controller.active_deployment(key)
    if blue is not None:
        controller.router.publish(key, controller.route(key, blue))
    keep = set(map(id, blue.instances())) if blue is not None else set()
    state.green_instances = [i for i in green.instances() if id(i) not in keep]
    state.rolled_back_at = time.monotonic()
    controller.discard(green)
    log.warning("endpoint %s: %s", key[2], reason)
    reconciler.write(row, "RollingBack", FailureReason=reason)


def finish_rollback(reconciler, row, key) -> None:
    """RollingBack → InService on the old configuration once the green instances have stopped."""
    state: Rollout | None = reconciler.rollouts.get(key)
    if state is not None and state.rolled_back_at is not None:
        stopped = all(i.state in (STOPPED, FAILED) for i in state.green_instances)
        if not stopped and time.monotonic() - state.rolled_back_at < ROLLBACK_DRAIN_S:
            return
    reconciler.rollouts.pop(key, None)
    pending = row.data.get("_pending") or {}
    reconciler.write(
        row,
        "InService",
        _pending=None,
        LastDeploymentConfig=pending.get("deployment") or row.data.get("LastDeploymentConfig"),
    )
