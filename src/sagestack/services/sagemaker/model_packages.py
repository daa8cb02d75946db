"""Model registry: model package groups (Create/Describe/List/Delete, group policies) and model packages
(Create/Describe/List/Update/Delete, BatchDescribeModelPackage).

A package created with ``ModelPackageGroupName`` is versioned: versions count 1, 2, … per group (the
group keeps the last number), ARN ``…:model-package/<group>/<version>``, name ``<group>`` in Describe.
Packages are ``Completed`` at once (nothing to validate asynchronously).
"""

from __future__ import annotations

from ...domain import lineage
from ...domain.model_packages import GROUP, PACKAGE, versioned
from ...domain.state import mutate
from ...protocol.errors import ServiceError
from ...store.resources import ListQuery
from ..context import RequestContext
from ..errors import in_use_if_exists
from ..registry import OperationTable
from .common import arn, check_name, list_query, now, strip_empty
from .experiments import public, user_context

ops = OperationTable("sagemaker")


def _group(ctx: RequestContext, name: str):
    resources = ctx.platform.resources
    row = (
        resources.get_by_arn(name)
        if name.startswith("arn:")
        else resources.get(ctx.account_id, ctx.region, GROUP, name)
    )
    if row is None or row.resource_type != GROUP:
        raise ServiceError("ValidationException", f"ModelPackageGroup {name} does not exist.")
    return row


def get_package(ctx: RequestContext, name: str):
    """A package by name, ARN or ``group/version``; else AWS's ValidationException."""
    resources = ctx.platform.resources
    row = (
        resources.get_by_arn(name)
        if name.startswith("arn:")
        else resources.get(ctx.account_id, ctx.region, PACKAGE, name)
    )
    if row is None or row.resource_type != PACKAGE:
        raise ServiceError("ValidationException", f"ModelPackage {name} does not exist.")
    return row


def _page(ctx, resource_type, params, key, summarize, conditions=(), parent=None, sort_order="Descending"):
    base = list_query(params)
    query = ListQuery(
        name_contains=params.get("NameContains"),
        created_after=params.get("CreationTimeAfter"),
        created_before=params.get("CreationTimeBefore"),
        parent=parent,
        status_equals=params.get("ModelApprovalStatus"),
        conditions=tuple(conditions),
        sort_by=base.sort_by,
        sort_order=params.get("SortOrder", sort_order),
        max_results=base.max_results,
        next_token=base.next_token,
    )
    rows, token = ctx.platform.resources.list(ctx.account_id, ctx.region, resource_type, query)
    result: dict = {key: [strip_empty(summarize(r)) for r in rows]}
    if token:
        result["NextToken"] = token
    return result


# -- groups --------------------------------------------------------------------------------------


@ops.handler("CreateModelPackageGroup")
def create_model_package_group(ctx: RequestContext, params: dict) -> dict:
    name = params["ModelPackageGroupName"]
    check_name(name, "modelPackageGroupName")
    group_arn = arn(ctx, GROUP, name)
    data = strip_empty(
        {
            "ModelPackageGroupName": name,
            "ModelPackageGroupArn": group_arn,
            "ModelPackageGroupDescription": params.get("ModelPackageGroupDescription"),
            "CreationTime": now(),
            "CreatedBy": user_context(ctx),
            "ModelPackageGroupStatus": "Completed",
            "ManagedConfiguration": params.get("ManagedConfiguration"),
            "_LastVersion": 0,
        }
    )
    with in_use_if_exists(f"Model Package Group already exists: {group_arn}", code="ValidationException"):
        ctx.platform.resources.create(
            ctx.account_id,
            ctx.region,
            GROUP,
            name,
            group_arn,
            data,
            status="Completed",
            tag_list=params.get("Tags"),
        )
    return {"ModelPackageGroupArn": group_arn}


@ops.handler("DescribeModelPackageGroup")
def describe_model_package_group(ctx: RequestContext, params: dict) -> dict:
    return public(_group(ctx, params["ModelPackageGroupName"]).data)


@ops.handler("ListModelPackageGroups")
def list_model_package_groups(ctx: RequestContext, params: dict) -> dict:
    return _page(
        ctx,
        GROUP,
        params,
        "ModelPackageGroupSummaryList",
        lambda r: {
            k: r.data.get(k)
            for k in (
                "ModelPackageGroupName",
                "ModelPackageGroupArn",
                "ModelPackageGroupDescription",
                "CreationTime",
                "ModelPackageGroupStatus",
                "ManagedConfiguration",
            )
        },
    )


@ops.handler("DeleteModelPackageGroup")
def delete_model_package_group(ctx: RequestContext, params: dict) -> dict:
    group = _group(ctx, params["ModelPackageGroupName"])
    rows, _ = ctx.platform.resources.list(
        ctx.account_id, ctx.region, PACKAGE, ListQuery(parent=group.name, max_results=1)
    )
    if rows:
        raise ServiceError(
            "ConflictException",
            f"Model Package Group {group.name} has model packages; delete them before deleting the group.",
        )
    ctx.platform.resources.delete(ctx.account_id, ctx.region, GROUP, group.name)
    return {}


@ops.handler("PutModelPackageGroupPolicy")
def put_model_package_group_policy(ctx: RequestContext, params: dict) -> dict:
    group = _group(ctx, params["ModelPackageGroupName"])
    ctx.platform.resources.update(group, dict(group.data, _ResourcePolicy=params["ResourcePolicy"]))
    return {"ModelPackageGroupArn": group.arn}


@ops.handler("GetModelPackageGroupPolicy")
def get_model_package_group_policy(ctx: RequestContext, params: dict) -> dict:
    group = _group(ctx, params["ModelPackageGroupName"])
    if not group.data.get("_ResourcePolicy"):
        raise ServiceError("ValidationException", f"Cannot find resource policy for {group.arn}")
    return {"ResourcePolicy": group.data["_ResourcePolicy"]}


@ops.handler("DeleteModelPackageGroupPolicy")
def delete_model_package_group_policy(ctx: RequestContext, params: dict) -> dict:
    group = _group(ctx, params["ModelPackageGroupName"])
    if not group.data.get("_ResourcePolicy"):
        raise ServiceError("ValidationException", f"Cannot find resource policy for {group.arn}")
    data = dict(group.data)
    data.pop("_ResourcePolicy")
    ctx.platform.resources.update(group, data)
    return {}


# -- packages ------------------------------------------------------------------------------------

_COPIED = (
    "ModelPackageDescription",
    "ModelPackageRegistrationType",
    "InferenceSpecification",
    "ValidationSpecification",
    "SourceAlgorithmSpecification",
    "CertifyForMarketplace",
    "MetadataProperties",
    "ModelMetrics",
    "Domain",
    "Task",
    "SamplePayloadUrl",
    "CustomerMetadataProperties",
    "DriftCheckBaselines",
    "AdditionalInferenceSpecifications",
    "SkipModelValidation",
    "SourceUri",
    "SecurityConfig",
    "ModelCard",
    "ModelLifeCycle",
    "ManagedStorageType",
)


def _next_version(ctx: RequestContext, group) -> int:
    holder = {}

    def change(row):
        holder["version"] = int(row.data.get("_LastVersion", 0)) + 1
        row.data["_LastVersion"] = holder["version"]

    mutate(ctx.platform.resources, ctx.account_id, ctx.region, GROUP, group.name, change)
    return holder["version"]


def _source_spec(ctx: RequestContext, source: str) -> dict | None:
    """InferenceSpecification cloned from a model package or model ARN given as SourceUri."""
    row = ctx.platform.resources.get_by_arn(source) if source.startswith("arn:") else None
    if row is None:
        return None
    if row.resource_type == PACKAGE:
        return row.data.get("InferenceSpecification")
    if row.resource_type == "model":
        containers = row.data.get("Containers") or [row.data["PrimaryContainer"]]
        return {
            "Containers": [
                {k: v for k, v in c.items() if k in ("Image", "ModelDataUrl", "Environment")}
                for c in containers
            ]
        }
    return None


@ops.handler("CreateModelPackage")
def create_model_package(ctx: RequestContext, params: dict) -> dict:
    name, group_name = params.get("ModelPackageName"), params.get("ModelPackageGroupName")
    if name and group_name:
        raise ServiceError(
            "ValidationException",
            "Both ModelPackageName and ModelPackageGroupName are "
            "provided in the input. Cannot determine which one to use.",
        )
    if not name and not group_name:
        raise ServiceError("ValidationException", "Missing ARN.")
    if params.get("ModelApprovalStatus") and params["ModelApprovalStatus"] not in (
        "Approved",
        "Rejected",
        "PendingManualApproval",
    ):
        raise ServiceError(
            "ValidationException", "ModelApprovalStatus must be Approved, Rejected or PendingManualApproval."
        )
    spec = params.get("InferenceSpecification")
    source = params.get("SourceUri")
    if source and spec and not source.startswith("arn:"):
        raise ServiceError(
            "ValidationException",
            "Passing SourceUri and InferenceSpecification together is "
            "not allowed; add the SourceUri with UpdateModelPackage.",
        )
    if source and not spec:
        spec = _source_spec(ctx, source)
    stamp = now()
    data = {k: params[k] for k in _COPIED if params.get(k) is not None}
    if spec:
        data["InferenceSpecification"] = spec
    data.update(
        {
            "CreationTime": stamp,
            "LastModifiedTime": stamp,
            "CreatedBy": user_context(ctx),
            "LastModifiedBy": user_context(ctx),
            "ModelPackageStatus": "Completed",
        }
    )
    tags = params.get("Tags")
    if group_name:
        group = _group(ctx, group_name)
        if tags:
            raise ServiceError(
                "ValidationException",
                "Tags cannot be specified for a versioned model package; it inherits the tags of its group.",
            )
        version = _next_version(ctx, group)
        store_name = f"{group.name}/{version}"
        approval = params.get("ModelApprovalStatus") or "PendingManualApproval"
        data.update(
            {
                "ModelPackageName": group.name,
                "ModelPackageGroupName": group.name,
                "ModelPackageVersion": version,
                "ModelApprovalStatus": approval,
            }
        )
        parent = group.name
    else:
        check_name(name, "modelPackageName")
        store_name, approval, parent = name, None, None
        data["ModelPackageName"] = name
    package_arn = arn(ctx, PACKAGE, store_name)
    data["ModelPackageArn"] = package_arn
    data["ModelPackageStatusDetails"] = {
        "ValidationStatuses": [{"Name": data["ModelPackageName"], "Status": "Completed"}]
    }
    with in_use_if_exists(f"ModelPackage already exists: {package_arn}", code="ValidationException"):
        ctx.platform.resources.create(
            ctx.account_id,
            ctx.region,
            PACKAGE,
            store_name,
            package_arn,
            strip_empty(data),
            status=approval,
            parent=parent,
            tag_list=tags,
        )
    lineage.model_package(ctx.platform.resources, ctx.account_id, ctx.region, data)
    return {"ModelPackageArn": package_arn}


@ops.handler("DescribeModelPackage")
def describe_model_package(ctx: RequestContext, params: dict) -> dict:
    return public(get_package(ctx, params["ModelPackageName"]).data)


def _summary(row) -> dict:
    data = row.data
    out = {
        k: data.get(k)
        for k in (
            "ModelPackageGroupName",
            "ModelPackageVersion",
            "ModelPackageArn",
            "ModelPackageDescription",
            "CreationTime",
            "ModelPackageStatus",
            "ModelApprovalStatus",
            "ModelLifeCycle",
            "ModelPackageRegistrationType",
        )
    }
    if row.parent is None:
        out["ModelPackageName"] = data["ModelPackageName"]
    return out


@ops.handler("ListModelPackages")
def list_model_packages(ctx: RequestContext, params: dict) -> dict:
    group = params.get("ModelPackageGroupName")
    parent = _group(ctx, group).name if group else None
    kind = params.get("ModelPackageType") or ("Versioned" if group else "Unversioned")
    conditions = [] if kind == "Both" or group else [versioned(kind == "Versioned")]
    return _page(
        ctx, PACKAGE, params, "ModelPackageSummaryList", _summary, conditions, parent, sort_order="Ascending"
    )


@ops.handler("UpdateModelPackage")
def update_model_package(ctx: RequestContext, params: dict) -> dict:
    row = get_package(ctx, params["ModelPackageArn"])

    def change(package):
        data = package.data
        status = None
        if params.get("ModelApprovalStatus"):
            if package.parent is None:
                raise ServiceError(
                    "ValidationException", "ModelApprovalStatus applies to versioned model packages only."
                )
            status = data["ModelApprovalStatus"] = params["ModelApprovalStatus"]
        for key in (
            "ApprovalDescription",
            "ModelPackageRegistrationType",
            "InferenceSpecification",
            "SourceUri",
            "ModelCard",
            "ModelLifeCycle",
        ):
            if params.get(key) is not None:
                data[key] = params[key]
        metadata = dict(
            data.get("CustomerMetadataProperties") or {}, **(params.get("CustomerMetadataProperties") or {})
        )
        for key in params.get("CustomerMetadataPropertiesToRemove") or ():
            metadata.pop(key, None)
        if metadata:
            data["CustomerMetadataProperties"] = metadata
        else:
            data.pop("CustomerMetadataProperties", None)
        added = params.get("AdditionalInferenceSpecificationsToAdd") or []
        if added:
            specs = list(data.get("AdditionalInferenceSpecifications") or []) + added
            if len(specs) > 15:
                raise ServiceError(
                    "ValidationException",
                    "A model package can have at most 15 AdditionalInferenceSpecifications.",
                )
            data["AdditionalInferenceSpecifications"] = specs
        data["LastModifiedTime"] = now()
        data["LastModifiedBy"] = user_context(ctx)
        return status

    mutate(ctx.platform.resources, row.account_id, row.region, PACKAGE, row.name, change)
    return {"ModelPackageArn": row.arn}


@ops.handler("DeleteModelPackage")
def delete_model_package(ctx: RequestContext, params: dict) -> dict:
    row = get_package(ctx, params["ModelPackageName"])
    ctx.platform.resources.delete(row.account_id, row.region, PACKAGE, row.name)
    return {}


@ops.handler("BatchDescribeModelPackage")
def batch_describe_model_package(ctx: RequestContext, params: dict) -> dict:
    summaries, errors = {}, {}
    for package_arn in params["ModelPackageArnList"]:
        row = ctx.platform.resources.get_by_arn(package_arn)
        if row is None or row.resource_type != PACKAGE or row.parent is None:
            errors[package_arn] = {
                "ErrorCode": "ValidationException",
                "ErrorResponse": f"ModelPackage {package_arn} does not exist.",
            }
            continue
        data = row.data
        summaries[package_arn] = strip_empty(
            {
                k: data.get(k)
                for k in (
                    "ModelPackageGroupName",
                    "ModelPackageVersion",
                    "ModelPackageArn",
                    "ModelPackageDescription",
                    "CreationTime",
                    "InferenceSpecification",
                    "ModelPackageStatus",
                    "ModelApprovalStatus",
                    "ModelPackageRegistrationType",
                )
            }
        )
    return {"ModelPackageSummaries": summaries, "BatchDescribeModelPackageErrorMap": errors}
