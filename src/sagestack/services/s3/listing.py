"""ListObjectsV2 and ListObjects: prefix, delimiter, max-keys, continuation-token / start-after / marker
and ``encoding-type=url``, served page by page from the index (see ``store.objects_index.list_page``)."""

from __future__ import annotations

import base64
import binascii
from urllib.parse import quote

from ...objects import ObjectInfo
from ...objects import checksums as cks
from ..context import RequestContext
from ..registry import OperationTable
from . import errors
from .common import owned_bucket, owner, store

OPERATIONS = OperationTable("s3")
MAX_KEYS = 1000


def _max_keys(params: dict) -> int:
    value = params.get("MaxKeys", MAX_KEYS)
    if value < 0:
        raise errors.invalid_argument("max-keys cannot be negative", "max-keys", str(value))
    return min(value, MAX_KEYS)


def _encoder(params: dict):
    if params.get("EncodingType") == "url":
        return lambda text: quote(text, safe="/") if text is not None else None
    if params.get("EncodingType") not in (None, ""):
        raise errors.invalid_argument(
            "Invalid Encoding Method specified in Request", "encoding-type", params["EncodingType"]
        )
    return lambda text: text


def _entry(info: ObjectInfo, encode, with_owner: bool, account_id: str) -> dict:
    entry = {
        "Key": encode(info.key),
        "LastModified": info.last_modified,
        "ETag": info.quoted_etag,
        "Size": info.size,
        "StorageClass": info.headers.get("StorageClass", "STANDARD"),
    }
    if info.checksums:
        entry["ChecksumAlgorithm"] = [cks.MEMBER_NAMES[a] for a in info.checksums if a in cks.MEMBER_NAMES]
        if info.checksum_type:
            entry["ChecksumType"] = info.checksum_type
    if with_owner:
        entry["Owner"] = owner(account_id)
    return entry


def _page(ctx: RequestContext, params: dict, after: str | None, max_keys: int):
    delimiter = params.get("Delimiter") or None
    return store(ctx).list(
        params["Bucket"], params.get("Prefix") or "", delimiter, start_after=after, max_keys=max_keys
    )


@OPERATIONS.handler("ListObjectsV2")
def list_objects_v2(ctx: RequestContext, params: dict) -> dict:
    info = owned_bucket(ctx, params)
    max_keys = _max_keys(params)
    encode = _encoder(params)
    token = params.get("ContinuationToken")
    after = params.get("StartAfter") or None
    if token is not None:
        try:
            after = base64.urlsafe_b64decode(token.encode()).decode("utf-8")
            if not after:
                raise ValueError
        except (ValueError, binascii.Error, UnicodeDecodeError):
            raise errors.invalid_argument(
                "The continuation token provided is incorrect", "continuation-token", token
            ) from None
    page = _page(ctx, params, after, max_keys)
    result = {
        "Name": info.name,
        "Prefix": encode(params.get("Prefix") or ""),
        "MaxKeys": max_keys,
        "KeyCount": len(page.objects) + len(page.prefixes),
        "IsTruncated": page.truncated,
        "Contents": [_entry(o, encode, bool(params.get("FetchOwner")), info.account_id) for o in page.objects]
        or None,
        "CommonPrefixes": [{"Prefix": encode(p)} for p in page.prefixes] or None,
    }
    if params.get("Delimiter"):
        result["Delimiter"] = encode(params["Delimiter"])
    if params.get("EncodingType"):
        result["EncodingType"] = params["EncodingType"]
    if token is not None:
        result["ContinuationToken"] = token
    if params.get("StartAfter"):
        result["StartAfter"] = encode(params["StartAfter"])
    if page.truncated and page.last is not None:
        result["NextContinuationToken"] = base64.urlsafe_b64encode(page.last.encode()).decode()
    return result


@OPERATIONS.handler("ListObjects")
def list_objects(ctx: RequestContext, params: dict) -> dict:
    info = owned_bucket(ctx, params)
    max_keys = _max_keys(params)
    encode = _encoder(params)
    page = _page(ctx, params, params.get("Marker") or None, max_keys)
    result = {
        "Name": info.name,
        "Prefix": encode(params.get("Prefix") or ""),
        "Marker": encode(params.get("Marker") or ""),
        "MaxKeys": max_keys,
        "IsTruncated": page.truncated,
        "Contents": [_entry(o, encode, True, info.account_id) for o in page.objects] or None,
        "CommonPrefixes": [{"Prefix": encode(p)} for p in page.prefixes] or None,
    }
    if params.get("Delimiter"):
        result["Delimiter"] = encode(params["Delimiter"])
        if page.truncated:
            result["NextMarker"] = encode(page.last)
    if params.get("EncodingType"):
        result["EncodingType"] = params["EncodingType"]
    return result
