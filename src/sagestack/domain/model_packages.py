"""Model registry: model package groups and model packages (versioned in a group — stored under the
name ``<group>/<version>``, the group's row its ``parent`` — or unversioned), and how a model container
that names a package resolves to the package's inference containers."""

from __future__ import annotations

from ..store.resources import resources as resource_table

GROUP = "model-package-group"
PACKAGE = "model-package"
APPROVAL_STATUSES = ("Approved", "Rejected", "PendingManualApproval")


def versioned(flag: bool):
    """A list condition: versioned packages (in a group) or unversioned ones."""
    return resource_table.c.parent.isnot(None) if flag else resource_table.c.parent.is_(None)


def store_name(name_or_version: str) -> str:
    """``group/3`` and plain names are stored as given."""
    return name_or_version


def resolve_containers(package: dict, override: dict) -> list[dict]:
    """What a model container naming ``package`` runs: the package's inference containers, the
    container's own Environment merged over each one's."""
    out = []
    for container in (package.get("InferenceSpecification") or {}).get("Containers") or []:
        resolved = {
            k: v
            for k, v in container.items()
            if k
            in (
                "ContainerHostname",
                "Image",
                "ImageDigest",
                "ModelDataUrl",
                "ModelDataSource",
                "Environment",
                "AdditionalModelDataSources",
            )
        }
        resolved["Environment"] = dict(
            container.get("Environment") or {}, **(override.get("Environment") or {})
        )
        resolved["ModelPackageName"] = override["ModelPackageName"]
        out.append(resolved)
    return out
