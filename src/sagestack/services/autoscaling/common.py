"""Shared by the Application Auto Scaling handlers: store keys, ARNs, errors, the supported dimension."""

from __future__ import annotations

import datetime as dt
import uuid

from ...domain.scalable_targets import (  # noqa: F401 (re-exported)
    ACTIVITY,
    DEFAULT_COOLDOWN,
    POLICY,
    TARGET,
    VARIANT_DIMENSION,
    parse_variant,
    variant_state,
)
from ...protocol.errors import ServiceError
from ...store.resources import FieldFilter, ListQuery
from ..context import RequestContext

SUPPORTED = {("sagemaker", VARIANT_DIMENSION)}


def validation(message: str) -> ServiceError:
    return ServiceError("ValidationException", message)


def object_not_found(message: str) -> ServiceError:
    return ServiceError("ObjectNotFoundException", message)


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def target_key(namespace: str, resource_id: str, dimension: str) -> str:
    return f"{namespace}|{resource_id}|{dimension}"


def describe_target(namespace: str, resource_id: str, dimension: str) -> str:
    return f"service namespace: {namespace}, resource ID: {resource_id}, scalable dimension: {dimension}"


def check_target(ctx: RequestContext, namespace: str, resource_id: str, dimension: str) -> None:
    """The namespace/dimension pair sagestack scales, and a resource that exists."""
    if (namespace, dimension) not in SUPPORTED:
        raise validation(
            f"Unsupported service namespace, resource type or scalable dimension: {namespace}, "
            f"{dimension}. sagestack scales sagemaker:variant:DesiredInstanceCount."
        )
    parsed = parse_variant(resource_id)
    if parsed is None:
        raise validation(
            f"Unsupported resource ID {resource_id}: expected endpoint/<endpoint name>/variant/"
            f"<variant name>."
        )
    state = variant_state(ctx.platform.resources, ctx.account_id, ctx.region, resource_id)
    if state is None:
        raise validation(f"The endpoint {parsed[0]} does not exist.")
    if state.current is None:
        raise validation(f"The variant {parsed[1]} does not exist for endpoint {parsed[0]}.")


def get_target(ctx: RequestContext, namespace: str, resource_id: str, dimension: str):
    row = ctx.platform.resources.get(
        ctx.account_id, ctx.region, TARGET, target_key(namespace, resource_id, dimension)
    )
    if row is None:
        raise object_not_found(
            f"No scalable target registered for {describe_target(namespace, resource_id, dimension)}"
        )
    return row


def new_target_arn(ctx: RequestContext) -> str:
    return ctx.arn("application-autoscaling", f"scalable-target/{uuid.uuid4().hex}{uuid.uuid4().hex[:4]}")


def policy_arn(ctx: RequestContext, namespace: str, resource_id: str, name: str) -> str:
    return ctx.arn(
        "autoscaling", f"scalingPolicy:{uuid.uuid4()}:resource/{namespace}/{resource_id}:policyName/{name}"
    )


def public(data: dict) -> dict:
    return {k: v for k, v in data.items() if not k.startswith("_") and v is not None}


def page(params: dict, **query) -> ListQuery:
    return ListQuery(
        max_results=min(int(params.get("MaxResults") or 50), 50), next_token=params.get("NextToken"), **query
    )


def scope(params: dict, resource_ids: list[str] | None = None) -> tuple[FieldFilter, ...]:
    """The Describe* filters (ServiceNamespace, ResourceId(s), ScalableDimension) as store conditions, so
    that they apply in SQL before the page is cut."""
    fields = [FieldFilter.equals("ServiceNamespace", params["ServiceNamespace"])]
    if resource_ids:
        fields.append(FieldFilter.any_of("ResourceId", resource_ids))
    if params.get("ScalableDimension"):
        fields.append(FieldFilter.equals("ScalableDimension", params["ScalableDimension"]))
    return tuple(fields)


def listed(rows: list, token: str | None, key: str, render=None) -> dict:
    """A Describe* answer: the page's items, ``NextToken`` only when there is another page."""
    result: dict = {key: [(render or public)(r.data) for r in rows]}
    if token:
        result["NextToken"] = token
    return result


def invalid_token() -> ServiceError:
    return ServiceError("InvalidNextTokenException", "Invalid token.")
