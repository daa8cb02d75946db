"""Amazon ECR through boto3, answered from podman's local images: repositories are the image names under
``<account>.dkr.ecr.<region>.amazonaws.com/`` (plus created, empty ones)."""

from __future__ import annotations

import os
import subprocess
import uuid

import botocore.exceptions
import pytest

import images
from helpers import error_code

pytestmark = [pytest.mark.slow]

REGISTRY = "123456789012"


def _podman(*args: str) -> None:
    subprocess.run(
        ["podman", *args], check=True, capture_output=True, env={**os.environ, **images.engine_env()}
    )


@pytest.fixture
def tagged(byoc_image):
    """The BYOC image tagged twice in a repository of its own."""
    repo = f"ecr-test-{uuid.uuid4().hex[:8]}"
    uri = f"{REGISTRY}.dkr.ecr.us-east-1.amazonaws.com/{repo}"
    for tag in ("v1", "v2"):
        _podman("tag", byoc_image, f"{uri}:{tag}")
    yield repo, uri
    for tag in ("v1", "v2"):
        subprocess.run(
            ["podman", "rmi", f"{uri}:{tag}"], capture_output=True, env={**os.environ, **images.engine_env()}
        )


def test_local_images_are_repositories_and_images(podman_server, tagged):
    ecr = podman_server.client("ecr")
    repo, uri = tagged
    found = ecr.describe_repositories(registryId=REGISTRY)["repositories"]
    mine = {r["repositoryName"]: r for r in found}
    assert "byoc-test" in mine and repo in mine
    assert mine[repo]["repositoryUri"] == uri
    assert mine[repo]["repositoryArn"] == f"arn:aws:ecr:us-east-1:{REGISTRY}:repository/{repo}"
    one = ecr.describe_repositories(registryId=REGISTRY, repositoryNames=[repo])["repositories"]
    assert [r["repositoryName"] for r in one] == [repo]

    ids = ecr.list_images(registryId=REGISTRY, repositoryName=repo)["imageIds"]
    assert sorted(i["imageTag"] for i in ids) == ["v1", "v2"]
    assert len({i["imageDigest"] for i in ids}) == 1  # one image, two tags
    details = ecr.describe_images(registryId=REGISTRY, repositoryName=repo)["imageDetails"]
    assert len(details) == 1 and details[0]["imageTags"] == ["v1", "v2"]
    assert details[0]["imageSizeInBytes"] > 0 and details[0]["imageDigest"].startswith("sha256:")
    by_tag = ecr.describe_images(registryId=REGISTRY, repositoryName=repo, imageIds=[{"imageTag": "v2"}])
    assert by_tag["imageDetails"][0]["imageDigest"] == details[0]["imageDigest"]

    pages = list(
        ecr.get_paginator("list_images").paginate(
            registryId=REGISTRY, repositoryName=repo, PaginationConfig={"PageSize": 1}
        )
    )
    assert [len(p["imageIds"]) for p in pages] == [1, 1]

    deleted = ecr.batch_delete_image(
        registryId=REGISTRY, repositoryName=repo, imageIds=[{"imageTag": "v1"}, {"imageTag": "nope"}]
    )
    assert deleted["imageIds"] == [{"imageDigest": details[0]["imageDigest"], "imageTag": "v1"}]
    assert deleted["failures"][0]["failureCode"] == "ImageNotFound"
    left = ecr.list_images(registryId=REGISTRY, repositoryName=repo)["imageIds"]
    assert [i["imageTag"] for i in left] == ["v2"]
    gone = subprocess.run(
        ["podman", "image", "exists", f"{uri}:v1"], env={**os.environ, **images.engine_env()}
    ).returncode
    assert gone != 0  # untagged in the engine


def test_created_repositories_and_bad_input(podman_server):
    ecr = podman_server.client("ecr")
    name = f"team/empty-{uuid.uuid4().hex[:8]}"
    created = ecr.create_repository(repositoryName=name, tags=[{"Key": "k", "Value": "v"}])["repository"]
    account = created["registryId"]
    assert created["repositoryUri"] == f"{account}.dkr.ecr.us-east-1.amazonaws.com/{name}"
    assert (
        ecr.describe_repositories(repositoryNames=[name])["repositories"][0]["repositoryArn"]
        == (created["repositoryArn"])
    )
    assert ecr.list_images(repositoryName=name)["imageIds"] == []
    with pytest.raises(botocore.exceptions.ClientError) as info:
        ecr.create_repository(repositoryName=name)
    assert error_code(info) == "RepositoryAlreadyExistsException"
    with pytest.raises(botocore.exceptions.ClientError) as info:
        ecr.describe_repositories(repositoryNames=["no-such-repo"])
    assert error_code(info) == "RepositoryNotFoundException"
    assert "'no-such-repo' does not exist in the registry" in str(info.value)
    with pytest.raises(botocore.exceptions.ClientError) as info:
        ecr.list_images(repositoryName="no-such-repo")
    assert error_code(info) == "RepositoryNotFoundException"
    with pytest.raises(botocore.exceptions.ClientError) as info:
        ecr.create_repository(repositoryName="Bad_Name!")
    assert error_code(info) in ("ValidationException", "InvalidParameterException")
    with pytest.raises(botocore.exceptions.ClientError) as info:
        ecr.describe_images(repositoryName=name, imageIds=[{"imageTag": "missing"}])
    assert error_code(info) == "ImageNotFoundException"
    names = {r["repositoryName"] for r in ecr.describe_repositories()["repositories"]}
    assert "Bad_Name!" not in names and name in names  # nothing stored for the bad request
    ecr.delete_repository(repositoryName=name)
    with pytest.raises(botocore.exceptions.ClientError) as info:
        ecr.describe_repositories(repositoryNames=[name])
    assert error_code(info) == "RepositoryNotFoundException"


def test_authorization_token(podman_server):
    import base64

    data = podman_server.client("ecr").get_authorization_token()["authorizationData"][0]
    user, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
    assert user == "AWS" and password
    assert (
        data["proxyEndpoint"].startswith("https://")
        and ".dkr.ecr.us-east-1.amazonaws.com" in data["proxyEndpoint"]
    )
    assert data["expiresAt"].timestamp() > __import__("time").time()
