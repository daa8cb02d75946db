"""Tags as the services that take a ``{key: value}`` map (Lambda, SQS, Application Auto Scaling, …)
write them, and the store's ``[{"Key", "Value"}]`` list."""

from __future__ import annotations

from collections.abc import Iterable, Mapping


def tag_list(tags: Mapping[str, str] | None) -> list[dict[str, str]]:
    """A ``{key: value}`` map as the store's tag list."""
    return [{"Key": key, "Value": value} for key, value in (tags or {}).items()]


def tag_map(tags: Iterable[dict[str, str]]) -> dict[str, str]:
    """The store's tag list as a ``{key: value}`` map."""
    return {tag["Key"]: tag["Value"] for tag in tags}
