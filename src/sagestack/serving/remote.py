"""Routes to the workers of endpoints another server owns (``--cluster``).

The server holding an endpoint's lease runs its instances and records their addresses in the endpoint's
record (``_addresses``: variant → ``host:port``); every other server's gateway publishes a route to those
addresses and forwards invocations to them over HTTP, exactly as it forwards to its own workers. The owner
health-checks and restarts its instances; the others only forward, and follow the record when it changes
(a new owner after a takeover starts new instances, with new addresses).

Serverless and multi-model variants keep their workers to the owner (started on demand there): the
others route only to provisioned, single-model instances.
"""

from __future__ import annotations

from .controller import Deployment, ServingController
from .instances import READY


class RemoteInstance:
    """A worker of another server: what the router needs of an instance (address, load, connections)."""

    def __init__(self, address: str):
        host, _, port = address.rpartition(":")
        self.id = address
        self.host = host
        self.port = int(port)
        self.state = READY
        self.failure: str | None = None
        self.inflight = 0
        self.served = 0
        self.pool = None  # the router's connection pool (upstream.InstancePool)


def addresses_of(deployment: Deployment | None) -> dict[str, list[str]]:
    """``variant → ["host:port", …]`` of a deployment's provisioned instances (what the owner records)."""
    if deployment is None:
        return {}
    out: dict[str, list[str]] = {}
    for name, instances in deployment.variants.items():
        if (deployment.extras.get(name) or {}).get("pool") is not None:
            continue  # serverless: workers on demand, on the owner only
        out[name] = [f"{i.host}:{i.port}" for i in instances]
    return out


def publish_remote(
    controller: ServingController, key: tuple[str, str, str], plan: dict, addresses: dict[str, list[str]]
) -> None:
    """Route ``key``'s invocations on this server to the owner's instances at ``addresses``."""
    dep = Deployment(key, 0, plan)
    dep.variants = {name: [RemoteInstance(a) for a in group] for name, group in addresses.items()}
    controller.router.publish(key, controller.route(key, dep))


def withdraw_remote(controller: ServingController, key: tuple[str, str, str]) -> None:
    controller.router.withdraw(key)
