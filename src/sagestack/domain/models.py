"""Models: a record of containers, resolved into what serving deploys only when an endpoint or a transform
job uses it."""

from __future__ import annotations

TYPE = "model"


def model_containers(model: dict) -> list[dict]:
    """The model's containers in invocation order (PrimaryContainer or Containers)."""
    if model.get("Containers"):
        return list(model["Containers"])
    return [model["PrimaryContainer"]] if model.get("PrimaryContainer") else []
