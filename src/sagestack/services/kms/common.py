"""What the KMS handlers share: the key store, key lookup by any KeyId form, KMS's error words."""

from __future__ import annotations

from collections.abc import Callable

from ...protocol.errors import ServiceError
from ...store import tokens
from ...store.errors import InvalidToken
from ...store.kms import Key, KeyStore, KmsError, key_store
from ..context import RequestContext

#: KmsError kind → KMS error code.
CODES = {
    "NotFound": "NotFoundException",
    "Disabled": "DisabledException",
    "InvalidState": "KMSInvalidStateException",
    "InvalidCiphertext": "InvalidCiphertextException",
    "IncorrectKey": "IncorrectKeyException",
    "AlreadyExists": "AlreadyExistsException",
    "InvalidAliasName": "InvalidAliasNameException",
    "InvalidArn": "InvalidArnException",
    "InvalidMarker": "InvalidMarkerException",
}


def service_error(exc: KmsError) -> ServiceError:
    return ServiceError(CODES.get(exc.kind, exc.kind + "Exception"), exc.message, 400)


def errors(exc: Exception) -> ServiceError | None:
    """The KMS tables' ``errors`` mapping: ``KmsError`` failures in KMS's words."""
    return service_error(exc) if isinstance(exc, KmsError) else None


def keys(ctx: RequestContext) -> KeyStore:
    return key_store(ctx.platform)


def find_key(ctx: RequestContext, key_ref: str) -> Key:
    return keys(ctx).find(ctx.account_id, ctx.region, key_ref)


def dry_run(params: dict) -> None:
    if params.get("DryRun"):
        raise ServiceError(
            "DryRunOperationException", "The request would have succeeded, but the DryRun flag is set.", 412
        )


def page(params: dict, fetch: Callable[[int, str | None], tuple[list, str | None]]) -> tuple[list, dict]:
    """One page of a KMS list (Limit/Marker → NextMarker/Truncated)."""
    try:
        items, token = fetch(params.get("Limit") or 100, params.get("Marker"))
    except InvalidToken:
        raise ServiceError("InvalidMarkerException", "Invalid marker", 400) from None
    extra = {"Truncated": token is not None}
    if token is not None:
        extra["NextMarker"] = token
    return items, extra


def page_of(items: list, limit: int, marker: str | None) -> tuple[list, str | None]:
    """One page of a list held whole (a key's tags, its policy names), with an offset marker."""
    offset = tokens.decode_offset(marker)["o"]
    end = offset + limit
    return items[offset:end], (tokens.encode_offset(end) if end < len(items) else None)
