"""CreateModel / DescribeModel / ListModels / DeleteModel.

A model is a record: its containers are fetched and loaded only when an endpoint (or a transform job)
deploys it, so CreateModel never touches the artifacts.
"""

from __future__ import annotations

from ...domain.model_packages import resolve_containers
from ...domain.models import TYPE
from ...protocol.errors import ServiceError
from ..context import RequestContext
from ..registry import OperationTable
from .common import arn, check_name, list_page, not_found, now, strip_empty

ops = OperationTable("sagemaker")


def model_arn(ctx: RequestContext, name: str) -> str:
    return arn(ctx, TYPE, name)


def get_model(ctx: RequestContext, name: str) -> dict:
    """The model's description, or the SDK's "Could not find model" error."""
    row = ctx.platform.resources.get(ctx.account_id, ctx.region, TYPE, name)
    if row is None:
        raise not_found("model", model_arn(ctx, name))
    return row.data


@ops.handler("CreateModel")
def create_model(ctx: RequestContext, params: dict) -> dict:
    name = params["ModelName"]
    check_name(name, "modelName")
    primary, containers = params.get("PrimaryContainer"), params.get("Containers")
    if primary and containers:
        raise ServiceError(
            "ValidationException", "Only one of PrimaryContainer or Containers may be specified."
        )
    if not primary and not containers:
        raise ServiceError("ValidationException", "Either PrimaryContainer or Containers must be specified.")
    for container in [primary] if primary else containers:
        if not container.get("Image") and not container.get("ModelPackageName"):
            raise ServiceError("ValidationException", "A container must specify Image or ModelPackageName.")
    mode = (params.get("InferenceExecutionConfig") or {}).get("Mode", "Serial")
    if containers and mode == "Direct":
        hosts = [c.get("ContainerHostname") for c in containers]
        if not all(hosts) or len(set(hosts)) != len(hosts):
            raise ServiceError(
                "ValidationException",
                "Direct inference requires a unique ContainerHostname for every container.",
            )
    resource_arn = model_arn(ctx, name)
    if primary and primary.get("ModelPackageName"):  # a package may hold several containers
        resolved = _from_packages(ctx, [primary])
        primary, containers = (resolved[0], None) if len(resolved) == 1 else (None, resolved)
    elif containers and any(c.get("ModelPackageName") for c in containers):
        containers = _from_packages(ctx, containers)
        if len(containers) == 1 and mode != "Direct":  # one container: served like a PrimaryContainer
            primary, containers = containers[0], None
    data = strip_empty(
        {
            "ModelName": name,
            "PrimaryContainer": _container(primary) if primary else None,
            "Containers": [_container(c) for c in containers] if containers else None,
            "InferenceExecutionConfig": params.get("InferenceExecutionConfig"),
            "ExecutionRoleArn": params.get("ExecutionRoleArn"),
            "VpcConfig": params.get("VpcConfig"),
            "EnableNetworkIsolation": params.get("EnableNetworkIsolation", False),
            "ModelArn": resource_arn,
            "CreationTime": now(),
        }
    )
    ctx.platform.resources.create(
        ctx.account_id, ctx.region, TYPE, name, resource_arn, data, tag_list=params.get("Tags")
    )
    return {"ModelArn": resource_arn}


def _from_packages(ctx: RequestContext, containers: list[dict]) -> list[dict]:
    """Containers naming a model package become the package's inference containers (a versioned package
    must be Approved to be deployed)."""
    from .model_packages import get_package

    out = []
    for container in containers:
        if not container.get("ModelPackageName"):
            out.append(container)
            continue
        package = get_package(ctx, container["ModelPackageName"])
        if package.parent is not None and package.data.get("ModelApprovalStatus") != "Approved":
            raise ServiceError(
                "ValidationException",
                f"Model package {package.arn} is not approved (ModelApprovalStatus "
                f"{package.data.get('ModelApprovalStatus')}); approve it with "
                "UpdateModelPackage before creating a model from it.",
            )
        resolved = resolve_containers(package.data, container)
        if not resolved:
            raise ServiceError(
                "ValidationException",
                f"Model package {package.arn} has no InferenceSpecification containers.",
            )
        out.extend(resolved)
    return out


def _container(container: dict) -> dict:
    value = dict(container)
    value.setdefault("Mode", "SingleModel")
    value.setdefault("Environment", {})
    return value


@ops.handler("DescribeModel")
def describe_model(ctx: RequestContext, params: dict) -> dict:
    data = dict(get_model(ctx, params["ModelName"]))
    # The SDK reads Environment even when empty; keep it, drop other empty structures (SDK v3).
    if "PrimaryContainer" in data:
        data["PrimaryContainer"] = _with_environment(data["PrimaryContainer"])
    if "Containers" in data:
        data["Containers"] = [_with_environment(c) for c in data["Containers"]]
    return data


def _with_environment(container: dict) -> dict:
    return dict(container, Environment=container.get("Environment") or {})


@ops.handler("ListModels")
def list_models(ctx: RequestContext, params: dict) -> dict:
    return list_page(
        ctx,
        TYPE,
        params,
        "Models",
        lambda r: {"ModelName": r.name, "ModelArn": r.arn, "CreationTime": r.data["CreationTime"]},
    )


@ops.handler("DeleteModel")
def delete_model(ctx: RequestContext, params: dict) -> dict:
    name = params["ModelName"]
    if not ctx.platform.resources.delete(ctx.account_id, ctx.region, TYPE, name):
        raise not_found("model", model_arn(ctx, name))
    return {}
