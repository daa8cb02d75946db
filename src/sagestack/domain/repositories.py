"""ECR repositories here: the container engine's local images under
``<account>.dkr.ecr.<region>.amazonaws.com/<name>:<tag>``, plus the repositories CreateRepository recorded
(an empty one is allowed). Pure logic: names, ARNs, URIs, and grouping the engine's images."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

TYPE = "EcrRepository"


def registry_host(account: str, region: str) -> str:
    return f"{account}.dkr.ecr.{region}.amazonaws.com"


def repository_arn(account: str, region: str, name: str) -> str:
    return f"arn:aws:ecr:{region}:{account}:repository/{name}"


def repository_uri(account: str, region: str, name: str) -> str:
    return f"{registry_host(account, region)}/{name}"


@dataclass
class LocalImage:
    """One engine image seen as an ECR image of one repository."""

    digest: str
    tags: list[str] = field(default_factory=list)
    size: int = 0
    pushed_at: dt.datetime | None = None


def _created(value) -> dt.datetime | None:
    if isinstance(value, (int, float)):
        return dt.datetime.fromtimestamp(value, dt.timezone.utc)
    if isinstance(value, str) and value:
        text = value.strip()
        try:
            return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            pass
        try:  # docker: "2024-05-01 10:00:00 +0000 UTC"
            return dt.datetime.strptime(" ".join(text.split()[:3]), "%Y-%m-%d %H:%M:%S %z")
        except ValueError:
            return None
    return None


def images_by_repository(engine_images: list[dict], account: str, region: str) -> dict[str, list[LocalImage]]:
    """The engine's images (``Engine.images()``) under this account's and region's registry host:
    repository name → its images (one per image id, with every tag it has in that repository)."""
    prefix = registry_host(account, region) + "/"
    found: dict[str, dict[str, LocalImage]] = {}
    for image in engine_images:
        for name in image["names"]:
            if not name.startswith(prefix):
                continue
            rest = name[len(prefix) :]
            repo, _, tag = rest.rpartition(":") if ":" in rest.rsplit("/", 1)[-1] else (rest, "", "")
            if "@" in repo:
                repo = repo.split("@", 1)[0]
            digest = image["digest"] or ("sha256:" + image["id"].removeprefix("sha256:"))
            entry = found.setdefault(repo, {}).setdefault(
                image["id"], LocalImage(digest, [], image["size"], _created(image["created"]))
            )
            if tag and tag not in entry.tags:
                entry.tags.append(tag)
    return {repo: list(images.values()) for repo, images in found.items()}
