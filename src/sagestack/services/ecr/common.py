"""What the ECR handlers share: the engine, ECR's error words, paging."""

from __future__ import annotations

from ...containers.engine import Engine, EngineError, engine_for
from ...protocol.errors import ServiceError
from ...store import tokens
from ...store.errors import InvalidToken
from ..context import RequestContext


def errors(exc: Exception) -> ServiceError | None:
    if isinstance(exc, EngineError):
        return ServiceError("ServerException", f"The container engine failed: {exc}", 500)
    return None


def invalid(message: str) -> ServiceError:
    return ServiceError("InvalidParameterException", message, 400)


def engine(ctx: RequestContext) -> Engine | None:
    return engine_for(ctx.platform)


def registry_id(ctx: RequestContext, params: dict) -> str:
    registry = params.get("registryId") or ctx.account_id
    if not (len(registry) == 12 and registry.isdigit()):
        raise invalid(
            f"Invalid parameter at 'registryId' failed to satisfy constraint: 'must satisfy regular "
            f"expression '[0-9]{{12}}'' (got {registry!r})"
        )
    return registry


def not_found(name: str, registry: str) -> ServiceError:
    return ServiceError(
        "RepositoryNotFoundException",
        f"The repository with name '{name}' does not exist in the registry with id '{registry}'",
        400,
    )


def page(items: list, params: dict, default: int = 100) -> tuple[list, dict]:
    """One page (maxResults / nextToken → nextToken)."""
    try:
        offset = tokens.decode_offset(params.get("nextToken"))["o"]
    except InvalidToken:
        raise invalid("Invalid parameter at 'nextToken': the token is not valid") from None
    size = params.get("maxResults") or default
    chunk = items[offset : offset + size]
    extra = {}
    if offset + size < len(items):
        extra["nextToken"] = tokens.encode_offset(offset + size)
    return chunk, extra
