"""The endpoint control loop: moves endpoints toward the state their handlers recorded (the status
machine and the plan: ``domain/endpoints.py``), acting through the serving controller.

The store is the truth: after a server restart, InService endpoints are started again without user
action (routed at once, so early requests wait for the model instead of failing).

Several servers (``--cluster``): the server holding an endpoint's lease (kind ``endpoint``) runs its
instances and records their addresses; the others route invocations to those addresses
(serving/remote.py). When the owner dies, the server that takes the lease over starts the fleet again as
after a restart, and the others follow the new addresses.
"""

from __future__ import annotations

import logging

from ..domain import endpoints
from ..domain.endpoints import TYPE, WATCHED, variant_fields
from ..domain.state import mutate
from ..serving.controller import ServingController, serving_controller
from ..serving.instances import FAILED, READY
from ..serving.remote import addresses_of, publish_remote, withdraw_remote
from . import rollouts
from .base import Reconciler

log = logging.getLogger("sagestack.reconcilers.endpoints")


LEASE = "endpoint"
#: Statuses in which the owner's instances serve (and other servers route to them).
SERVING = ("InService", "Updating", "RollingBack")


class EndpointReconciler(Reconciler):
    name = "endpoints"
    ownership = "resource"

    def __init__(self, platform, controller: ServingController | None = None):
        super().__init__(platform)
        self.controller = controller or serving_controller(platform)
        self.rollouts: dict = {}  # endpoint key → rollouts.Rollout (guarded updates in progress)
        self.remote: dict = {}  # endpoint key → the owner's addresses this server routes to (--cluster)

    def on_start(self) -> None:
        self.controller.attach()

    def step(self) -> None:
        rows = self.platform.resources.in_states(TYPE, WATCHED)
        live = {(row.account_id, row.region, row.name) for row in rows}
        clustered = self.platform.leases.clustered
        owned = []
        for row in rows:
            key = (row.account_id, row.region, row.name)
            if clustered and self.lease(LEASE, row) is None:
                if key in self.controller.keys():  # the lease moved on: the new owner serves it
                    self.controller.remove(key)
                self.each([row], lambda row, key=key: self.follow(row, key), "endpoint")
                continue
            self.remote.pop(key, None)  # ours now: the controller publishes our own route
            owned.append(row)
        self.each(owned, lambda row: self.reconcile(row, (row.account_id, row.region, row.name)), "endpoint")
        for key in self.controller.keys() - live:
            self.controller.remove(key)
        for key in set(self.remote) - live:
            withdraw_remote(self.controller, key)
            del self.remote[key]
        if clustered:
            for row in rows:
                if row.status == "Deleting":
                    continue
                self.each([row], self.record_addresses, "endpoint")

    def follow(self, row, key) -> None:
        """Route to the instances of an endpoint another server owns, as its record says."""
        addresses = row.data.get("_addresses") or {}
        if row.status not in SERVING or not any(addresses.values()):
            if self.remote.pop(key, None) is not None:
                withdraw_remote(self.controller, key)
            return
        if self.remote.get(key) == addresses:
            return
        publish_remote(self.controller, key, row.data["_plan"], addresses)
        self.remote[key] = addresses

    def record_addresses(self, row) -> None:
        """The owner writes where its active instances listen, for the other servers' gateways."""
        key = (row.account_id, row.region, row.name)
        if key in self.remote or row.status not in SERVING:
            return
        generation = int(row.data.get("_generation", 1))
        dep = self.controller.active_deployment(key) or self.controller.deployment(key, generation)
        addresses = addresses_of(dep)
        if not any(addresses.values()) or row.data.get("_addresses") == addresses:
            return

        def change(resource) -> None:
            resource.data["_addresses"] = addresses
            return None

        mutate(self.platform.resources, row.account_id, row.region, TYPE, row.name, change)

    def write(self, row, status: str, **changes) -> None:
        endpoints.write(self.platform.resources, row, status, **changes)

    def reconcile(self, row, key) -> None:
        controller = self.controller
        data = row.data
        generation = int(data.get("_generation", 1))
        if row.status == "Deleting":
            controller.remove(key)
            self.platform.resources.delete(row.account_id, row.region, TYPE, row.name)
            if self.platform.leases.clustered:
                self.release(LEASE, row)
            return
        if row.status == "Creating":
            dep = controller.deployment(key, generation) or controller.deploy(key, generation, data["_plan"])
            if dep.state == READY:
                controller.activate(key, dep)
                self.write(row, "InService", **variant_fields(data["_plan"], dep.variant_counts()))
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
            key, new_generation, pending["plan"], reuse=bool(pending.get("in_place"))
        )
        if dep.state == READY:
            if rollouts.needs_rollout(pending) and not rollouts.advance(self, row, key, dep, pending):
                return  # traffic still shifting (or rolled back)
            controller.activate(key, dep)
            self.write(
                row,
                "InService",
                EndpointConfigName=pending["plan"]["EndpointConfigName"],
                _plan=pending["plan"],
                _generation=new_generation,
                _pending=None,
                FailureReason=None,
                LastDeploymentConfig=pending.get("deployment") or data.get("LastDeploymentConfig"),
                **variant_fields(pending["plan"], dep.variant_counts()),
            )
        elif dep.state == FAILED:
            controller.discard(dep)
            reason = f"Failed to update endpoint: {dep.failure}"
            if pending.get("from_failed"):
                self.write(row, "Failed", FailureReason=reason, _pending=None)
            else:
                self.write(row, "InService", FailureReason=reason, _pending=None)


def start(platform) -> None:
    EndpointReconciler.start(platform)
