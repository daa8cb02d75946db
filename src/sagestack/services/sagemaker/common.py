"""Helpers every SageMaker resource family shares: ARNs, names, list parameters, errors."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from ...domain import experiments
from ...domain.state import strip_empty  # noqa: F401 (re-exported: the families use it from here)
from ...protocol.errors import ServiceError
from ...store.resources import ListQuery
from ..context import RequestContext
from ..errors import in_use_if_exists

if TYPE_CHECKING:
    from ...store.resources import Resource

#: ARN resource-type segment per resource type (arn:aws:sagemaker:<region>:<account>:<segment>/<name>).
ARN_SEGMENTS = {
    "training-job": "training-job",
    "model": "model",
    "endpoint-config": "endpoint-config",
    "endpoint": "endpoint",
    "transform-job": "transform-job",
    "processing-job": "processing-job",
    "hyper-parameter-tuning-job": "hyper-parameter-tuning-job",
    "inference-experiment": "inference-experiment",
}

NAME_PATTERN = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")


def arn(ctx: RequestContext, resource_type: str, name: str) -> str:
    # SageMaker lower-cases names inside ARNs.
    return (
        f"arn:aws:sagemaker:{ctx.region}:{ctx.account_id}:{ARN_SEGMENTS.get(resource_type, resource_type)}/"
        f"{name.lower()}"
    )


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def check_name(name: str, field: str) -> None:
    if not NAME_PATTERN.match(name):
        raise ServiceError(
            "ValidationException",
            f"1 validation error detected: Value '{name}' at '{field}' failed to satisfy constraint: "
            "Member must satisfy regular expression pattern: ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}",
        )


def list_query(params: dict, sort_default: str = "CreationTime") -> ListQuery:
    """Translate the common List* parameters (NameContains, StatusEquals, Creation/LastModified
    Time After/Before, SortBy, SortOrder, MaxResults, NextToken) into a store query."""
    return ListQuery(
        name_contains=params.get("NameContains"),
        status_equals=params.get("StatusEquals"),
        created_after=params.get("CreationTimeAfter"),
        created_before=params.get("CreationTimeBefore"),
        modified_after=params.get("LastModifiedTimeAfter"),
        modified_before=params.get("LastModifiedTimeBefore"),
        sort_by=params.get("SortBy", sort_default),
        sort_order=params.get("SortOrder", "Descending"),
        max_results=params.get("MaxResults", 100),
        next_token=params.get("NextToken"),
    )


def list_page(
    ctx: RequestContext,
    resource_type: str,
    params: dict,
    key: str,
    summarize: Callable[[Resource], dict],
    sort_default: str = "CreationTime",
) -> dict:
    """A List* answer: filter, sort and paginate in the store, one summary per resource (members that
    are None dropped), ``NextToken`` only when there is another page."""
    rows, token = ctx.platform.resources.list(
        ctx.account_id, ctx.region, resource_type, list_query(params, sort_default)
    )
    result: dict = {key: [{k: v for k, v in summarize(row).items() if v is not None} for row in rows]}
    if token:
        result["NextToken"] = token
    return result


def wake(ctx: RequestContext, reconciler: str) -> None:
    """Tell a reconciler (if it runs) that desired state changed, so it acts now, not next tick."""
    component = ctx.platform.get_component(f"{reconciler}-reconciler")
    if component is not None:
        component.wake()


def not_found(kind: str, name: str, ctx: RequestContext | None = None) -> ServiceError:
    """SageMaker's "not found" wording (the SDK matches "Could not find")."""
    return ServiceError("ValidationException", f'Could not find {kind} "{name}".')


def resource_not_found(message: str) -> ServiceError:
    return ServiceError("ResourceNotFound", message)


def check_kms_keys(ctx: RequestContext, params: dict, *paths: tuple[str, ...]) -> None:
    """Every KMS key a request names (``("OutputDataConfig", "KmsKeyId")``, …) must exist and be enabled
    (key id, key ARN, alias name or alias ARN), else ValidationException as SageMaker answers."""
    from ...store.kms import KmsError, key_store

    keys = key_store(ctx.platform)
    for path in paths:
        value = params
        for part in path:
            value = value.get(part) if isinstance(value, dict) else None
        if not value:
            continue
        try:
            keys.check_usable(keys.find(ctx.account_id, ctx.region, value))
        except KmsError as exc:
            raise ServiceError(
                "ValidationException",
                f"Invalid KmsKeyId '{value}' in {'.'.join(path)}: {exc.message or 'the key cannot be used.'}",
            ) from None


def record_job(
    ctx: RequestContext,
    resource_type: str,
    name: str,
    job_arn: str,
    description: dict,
    tags: list | None,
    reconciler: str,
) -> None:
    """Record a new processing or transform job (``ResourceInUse`` for a name in use, as SageMaker words it),
    its SageMaker-created trial component, and wake the job family's loop."""
    with in_use_if_exists(
        f"Job name must be unique within an AWS account and region, and a job with this "
        f"name already exists ({job_arn})"
    ):
        ctx.platform.resources.create(
            ctx.account_id,
            ctx.region,
            resource_type,
            name,
            job_arn,
            description,
            status="InProgress",
            tag_list=tags,
        )
    experiments.create_job_component(
        ctx.platform.resources,
        ctx.account_id,
        ctx.region,
        resource_type,
        description,
        job_arn,
        {"IamIdentity": {"Arn": ctx.principal_arn}},
    )
    wake(ctx, reconciler)
