"""Models: a record of containers, resolved into what serving deploys only when an endpoint or a transform
job uses it."""

from __future__ import annotations

TYPE = "model"


#: Marks the containers of a model created with EnableNetworkIsolation (what serving reads).
NETWORK_ISOLATION = "_NetworkIsolation"


def model_containers(model: dict) -> list[dict]:
    """The model's containers in invocation order (PrimaryContainer or Containers); a model created with
    EnableNetworkIsolation marks each with :data:`NETWORK_ISOLATION`."""
    if model.get("Containers"):
        containers = list(model["Containers"])
    else:
        containers = [model["PrimaryContainer"]] if model.get("PrimaryContainer") else []
    if model.get("EnableNetworkIsolation"):
        containers = [{**c, NETWORK_ISOLATION: True} for c in containers]
    return containers
