"""ECR repositories and images: CreateRepository, DescribeRepositories, DeleteRepository, DescribeImages,
ListImages, BatchDeleteImage, GetAuthorizationToken."""

from __future__ import annotations

import base64
import datetime as dt
import secrets

from ...domain import repositories as domain
from ...protocol.errors import ServiceError
from ...store.errors import AlreadyExists
from ...store.resources import ListQuery
from ..context import RequestContext
from ..registry import OperationTable
from .common import engine, errors, invalid, not_found, page, registry_id

OPERATIONS = OperationTable("ecr", errors)
TOKEN_HOURS = 12


def _local(ctx: RequestContext, registry: str) -> dict[str, list[domain.LocalImage]]:
    found = engine(ctx)
    if found is None:
        return {}
    return domain.images_by_repository(found.images(), registry, ctx.region)


def _recorded(ctx: RequestContext, registry: str) -> dict[str, dict]:
    records: dict[str, dict] = {}
    token = None
    while True:
        rows, token = ctx.platform.resources.list(
            registry, ctx.region, domain.TYPE, ListQuery(max_results=1000, next_token=token)
        )
        records.update({row.name: row.data for row in rows})
        if not token:
            return records


def _repository(
    ctx: RequestContext, registry: str, name: str, created=None, record: dict | None = None
) -> dict:
    if record:
        return record
    return {
        "repositoryArn": domain.repository_arn(registry, ctx.region, name),
        "registryId": registry,
        "repositoryName": name,
        "repositoryUri": domain.repository_uri(registry, ctx.region, name),
        "createdAt": created or dt.datetime.now(dt.timezone.utc),
        "imageTagMutability": "MUTABLE",
        "imageScanningConfiguration": {"scanOnPush": False},
        "encryptionConfiguration": {"encryptionType": "AES256"},
    }


def _all(ctx: RequestContext, registry: str) -> tuple[dict[str, dict], dict[str, list[domain.LocalImage]]]:
    local = _local(ctx, registry)
    recorded = _recorded(ctx, registry)
    repos = {}
    for name in sorted(set(local) | set(recorded)):
        pushed = [i.pushed_at for i in local.get(name, []) if i.pushed_at]
        repos[name] = _repository(ctx, registry, name, min(pushed) if pushed else None, recorded.get(name))
    return repos, local


@OPERATIONS.handler("CreateRepository")
def create_repository(ctx: RequestContext, params: dict) -> dict:
    registry = registry_id(ctx, params)
    name = params["repositoryName"]
    repos, _ = _all(ctx, registry)
    if name in repos:
        raise ServiceError(
            "RepositoryAlreadyExistsException",
            f"The repository with name '{name}' already exists in the registry with id '{registry}'",
            400,
        )
    record = _repository(ctx, registry, name)
    record["imageTagMutability"] = params.get("imageTagMutability") or "MUTABLE"
    if params.get("imageScanningConfiguration"):
        record["imageScanningConfiguration"] = params["imageScanningConfiguration"]
    if params.get("encryptionConfiguration"):
        record["encryptionConfiguration"] = params["encryptionConfiguration"]
    try:
        ctx.platform.resources.create(
            registry,
            ctx.region,
            domain.TYPE,
            name,
            record["repositoryArn"],
            record,
            tag_list=[{"Key": t["Key"], "Value": t.get("Value", "")} for t in params.get("tags") or []],
        )
    except AlreadyExists:
        raise ServiceError(
            "RepositoryAlreadyExistsException",
            f"The repository with name '{name}' already exists in the registry with id '{registry}'",
            400,
        ) from None
    return {"repository": record}


@OPERATIONS.handler("DescribeRepositories")
def describe_repositories(ctx: RequestContext, params: dict) -> dict:
    registry = registry_id(ctx, params)
    names = params.get("repositoryNames")
    if names is not None and (params.get("maxResults") or params.get("nextToken")):
        raise invalid("maxResults and nextToken cannot be used together with repositoryNames")
    repos, _ = _all(ctx, registry)
    if names is not None:
        for name in names:
            if name not in repos:
                raise not_found(name, registry)
        return {"repositories": [repos[name] for name in names]}
    items, extra = page(list(repos.values()), params)
    return {"repositories": items, **extra}


@OPERATIONS.handler("DeleteRepository")
def delete_repository(ctx: RequestContext, params: dict) -> dict:
    registry = registry_id(ctx, params)
    name = params["repositoryName"]
    repos, local = _all(ctx, registry)
    if name not in repos:
        raise not_found(name, registry)
    if local.get(name):
        if not params.get("force"):
            raise ServiceError(
                "RepositoryNotEmptyException",
                f"The repository with name '{name}' in registry with id '{registry}' cannot be deleted "
                f"because it still contains images",
                400,
            )
        _remove(ctx, registry, name, [t for image in local[name] for t in image.tags])
    ctx.platform.resources.delete(registry, ctx.region, domain.TYPE, name)
    return {"repository": repos[name]}


def _images(ctx: RequestContext, params: dict) -> tuple[str, str, list[domain.LocalImage]]:
    registry = registry_id(ctx, params)
    name = params["repositoryName"]
    repos, local = _all(ctx, registry)
    if name not in repos:
        raise not_found(name, registry)
    images = sorted(local.get(name, []), key=lambda i: i.digest)
    status = (params.get("filter") or {}).get("tagStatus", "ANY")
    if status == "TAGGED":
        images = [i for i in images if i.tags]
    elif status == "UNTAGGED":
        images = [i for i in images if not i.tags]
    return registry, name, images


def _find(images: list[domain.LocalImage], image_id: dict) -> domain.LocalImage | None:
    digest, tag = image_id.get("imageDigest"), image_id.get("imageTag")
    for image in images:
        if digest and image.digest != digest:
            continue
        if tag and tag not in image.tags:
            continue
        return image
    return None


def _check_ids(image_ids: list[dict]) -> None:
    for image_id in image_ids:
        if not image_id.get("imageDigest") and not image_id.get("imageTag"):
            raise invalid("Invalid parameter at 'imageIds': an image id needs an imageDigest or an imageTag")


@OPERATIONS.handler("DescribeImages")
def describe_images(ctx: RequestContext, params: dict) -> dict:
    registry, name, images = _images(ctx, params)
    if params.get("imageIds") is not None:
        if params.get("maxResults") or params.get("nextToken"):
            raise invalid("maxResults and nextToken cannot be used together with imageIds")
        _check_ids(params["imageIds"])
        chosen = []
        for image_id in params["imageIds"]:
            image = _find(images, image_id)
            if image is None:
                shown = ", ".join(f"{k}={v}" for k, v in image_id.items())
                raise ServiceError(
                    "ImageNotFoundException",
                    f"The image with imageId {{{shown}}} does not exist within the repository with name "
                    f"'{name}' in the registry with id '{registry}'",
                    400,
                )
            chosen.append(image)
        items, extra = chosen, {}
    else:
        items, extra = page(images, params)
    details = []
    for image in items:
        detail = {
            "registryId": registry,
            "repositoryName": name,
            "imageDigest": image.digest,
            "imageSizeInBytes": image.size,
            "imageManifestMediaType": "application/vnd.oci.image.manifest.v1+json",
            "artifactMediaType": "application/vnd.oci.image.config.v1+json",
        }
        if image.tags:
            detail["imageTags"] = sorted(image.tags)
        if image.pushed_at:
            detail["imagePushedAt"] = image.pushed_at
        details.append(detail)
    return {"imageDetails": details, **extra}


@OPERATIONS.handler("ListImages")
def list_images(ctx: RequestContext, params: dict) -> dict:
    _, _, images = _images(ctx, params)
    ids = []
    for image in images:
        if image.tags:
            ids += [{"imageDigest": image.digest, "imageTag": tag} for tag in sorted(image.tags)]
        else:
            ids.append({"imageDigest": image.digest})
    items, extra = page(ids, params)
    return {"imageIds": items, **extra}


def _remove(ctx: RequestContext, registry: str, name: str, tags: list[str]) -> None:
    found = engine(ctx)
    for tag in tags:
        found.remove_image(f"{domain.repository_uri(registry, ctx.region, name)}:{tag}")


@OPERATIONS.handler("BatchDeleteImage")
def batch_delete_image(ctx: RequestContext, params: dict) -> dict:
    registry, name, images = _images(ctx, params)
    deleted, failures = [], []
    for image_id in params["imageIds"]:
        if not image_id.get("imageDigest") and not image_id.get("imageTag"):
            failures.append(
                {
                    "imageId": image_id,
                    "failureCode": "MissingDigestAndTag",
                    "failureReason": "Invalid request parameters: both tag and digest cannot be null",
                }
            )
            continue
        image = _find(images, image_id)
        if image is None:
            failures.append(
                {
                    "imageId": image_id,
                    "failureCode": "ImageNotFound",
                    "failureReason": "Requested image not found",
                }
            )
            continue
        tags = [image_id["imageTag"]] if image_id.get("imageTag") else list(image.tags)
        _remove(ctx, registry, name, tags)
        for tag in tags:
            image.tags.remove(tag)
            deleted.append({"imageDigest": image.digest, "imageTag": tag})
    return {"imageIds": deleted, "failures": failures}


@OPERATIONS.handler("GetAuthorizationToken")
def get_authorization_token(ctx: RequestContext, params: dict) -> dict:
    registries = params.get("registryIds") or [ctx.account_id]
    for registry in registries:
        registry_id(ctx, {"registryId": registry})
    expires = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=TOKEN_HOURS)
    return {
        "authorizationData": [
            {
                "authorizationToken": base64.b64encode(f"AWS:{secrets.token_urlsafe(48)}".encode()).decode(),
                "expiresAt": expires,
                "proxyEndpoint": f"https://{domain.registry_host(registry, ctx.region)}",
            }
            for registry in registries
        ]
    }
