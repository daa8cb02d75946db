"""The endpoint control loop: moves endpoints toward the state their handlers recorded.

    Creating  → InService (fleet ready, traffic on) | Failed (FailureReason quotes the model's error)
    InService → Updating (UpdateEndpoint / UpdateEndpointWeightsAndCapacities) | Deleting
    Updating  → InService (new fleet ready, traffic moved, old fleet drained; or, if the new fleet
                failed, the old one still serving and FailureReason set) | Failed (update of a failed
                endpoint that failed again)
    Failed    → Updating | Deleting
    Updating  → RollingBack (a guarded update's alarm fired: traffic back on the old fleet; rollouts.py)
    RollingBack → InService (old configuration, FailureReason set) | Deleting
    Deleting  → (row removed once the workers are stopped)

The store is the truth: after a server restart, InService endpoints are started again without user
action (routed at once, so early requests wait for the model instead of failing).
"""

from __future__ import annotations

import logging

from ..services.sagemaker.common import now
from ..services.sagemaker.endpoints import TYPE, variant_summaries
from ..serving.controller import ServingController, serving_controller
from ..serving.instances import FAILED, READY
from ..store.resources import ConcurrentModification
from . import rollouts

log = logging.getLogger("sagestack.reconcilers.endpoints")

TRANSITIONS: dict[str, frozenset[str]] = {
    "Creating": frozenset({"InService", "Failed", "Deleting"}),
    "InService": frozenset({"Updating", "Deleting", "Failed"}),
    "Updating": frozenset({"InService", "Failed", "Deleting", "RollingBack"}),
    "RollingBack": frozenset({"InService", "Failed", "Deleting"}),
    "Failed": frozenset({"Updating", "Deleting"}),
    "Deleting": frozenset(),
}
WATCHED = ("Creating", "InService", "Updating", "RollingBack", "Deleting")


class IllegalTransition(Exception):
    pass


def check_transition(current: str, new: str) -> None:
    if new != current and new not in TRANSITIONS.get(current, frozenset()):
        raise IllegalTransition(f"endpoint status cannot go from {current} to {new}")


class EndpointReconciler:
    def __init__(self, platform, controller: ServingController):
        self.platform = platform
        self.controller = controller
        self.rollouts: dict = {}  # endpoint key → rollouts.Rollout (guarded updates in progress)

    def step(self) -> None:
        rows = self.platform.resources.in_states(TYPE, WATCHED)
        live = set()
        for row in rows:
            key = (row.account_id, row.region, row.name)
            live.add(key)
            try:
                self.reconcile(row, key)
            except ConcurrentModification:
                continue  # a handler wrote first; look again next pass
            except Exception:
                log.exception("reconciling endpoint %s failed", row.name)
        for key in self.controller.keys() - live:
            self.controller.remove(key)

    def write(self, row, status: str, **changes) -> None:
        check_transition(row.status, status)
        data = dict(row.data)
        for name, value in changes.items():
            if value is None:
                data.pop(name, None)
            else:
                data[name] = value
        data["LastModifiedTime"] = now()
        self.platform.resources.update(row, data, status=status, expect_version=True)

    def reconcile(self, row, key) -> None:
        controller = self.controller
        data = row.data
        generation = int(data.get("_generation", 1))
        if row.status == "Deleting":
            controller.remove(key)
            self.platform.resources.delete(row.account_id, row.region, TYPE, row.name)
            return
        if row.status == "Creating":
            dep = controller.deployment(key, generation) or controller.deploy(key, generation, data["_plan"])
            if dep.state == READY:
                controller.activate(key, dep)
                self.write(row, "InService", **_variant_fields(data["_plan"], dep.variant_counts()))
            elif dep.state == FAILED:
                controller.discard(dep)
                self.write(row, "Failed", FailureReason=dep.failure)
            return
        if row.status == "InService":
            dep = controller.deployment(key, generation)
            if dep is None:  # after a restart: bring the fleet back, routed at once
                controller.deploy(key, generation, data["_plan"], publish_early=True)
            elif dep.state == FAILED:
                controller.discard(dep)
                self.write(row, "Failed", FailureReason=dep.failure, ProductionVariants=None)
            return
        if row.status == "Updating":
            self.update(row, key, generation)
        elif row.status == "RollingBack":
            rollouts.finish_rollback(self, row, key)

    def update(self, row, key, generation: int) -> None:
        controller = self.controller
        data = row.data
        pending = data["_pending"]
        if not pending.get("from_failed"):
            current = controller.deployment(key, generation)
            if current is None:  # restarted mid-update: the old fleet serves while the new one starts
                controller.deploy(key, generation, data["_plan"], publish_early=True)
                return
            if controller.active_deployment(key) is not current:
                return
        new_generation = int(pending["generation"])
        dep = controller.deployment(key, new_generation) or controller.deploy(
            key, new_generation, pending["plan"], reuse=bool(pending.get("in_place")))
        if dep.state == READY:
            if rollouts.needs_rollout(pending) and not rollouts.advance(self, row, key, dep, pending):
                return  # traffic still shifting (or rolled back)
            controller.activate(key, dep)
            self.write(row, "InService", EndpointConfigName=pending["plan"]["EndpointConfigName"],
                       _plan=pending["plan"], _generation=new_generation, _pending=None, FailureReason=None,
                       LastDeploymentConfig=pending.get("deployment") or data.get("LastDeploymentConfig"),
                       **_variant_fields(pending["plan"], dep.variant_counts()))
        elif dep.state == FAILED:
            controller.discard(dep)
            reason = f"Failed to update endpoint: {dep.failure}"
            if pending.get("from_failed"):
                self.write(row, "Failed", FailureReason=reason, _pending=None)
            else:
                self.write(row, "InService", FailureReason=reason, _pending=None)


def _variant_fields(plan: dict, counts: dict[str, int]) -> dict:
    shadows = plan.get("ShadowVariants")
    return {"ProductionVariants": variant_summaries(plan, counts),
            "ShadowProductionVariants": variant_summaries({"Variants": shadows}, counts) if shadows else None}


def start(platform) -> None:
    controller = serving_controller(platform)
    controller.attach()
    reconciler = EndpointReconciler(platform, controller)
    platform.add_loop("endpoints", reconciler.step, platform.settings.reconcile_interval)
