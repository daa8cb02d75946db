"""S3 objects: put (streamed, digests verified), get/head (ranges, conditions), delete, copy, tagging."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from typing import Any

from ...objects import ObjectInfo
from ...objects import errors as object_errors
from ...protocol.errors import ServiceError
from ...protocol.http import HttpResponse
from ..context import RequestContext
from ..registry import OperationTable
from . import errors
from .bucket_config import encryption_key, rule_of
from .common import (
    READ_CHUNK,
    Digests,
    base_headers,
    check_length,
    check_tags,
    checksum_fields,
    file_chunks,
    ingest,
    is_small,
    object_fields,
    owned_bucket,
    owned_object,
    parse_copy_source,
    parse_tagging_header,
    serialize,
    store,
    stored_headers,
    tag_set,
    user_metadata,
    verify_xml_body,
)
from .encryption import Plan, data_key, names_encryption, open_plain, plan

OPERATIONS = OperationTable("s3")

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
#: GetObject's response-* overrides: request member → output member.
OVERRIDES = {
    "ResponseContentType": "ContentType",
    "ResponseContentDisposition": "ContentDisposition",
    "ResponseContentEncoding": "ContentEncoding",
    "ResponseContentLanguage": "ContentLanguage",
    "ResponseCacheControl": "CacheControl",
    "ResponseExpires": "Expires",
}


def _etag_matches(header: str, etag: str) -> bool:
    return any(token.strip().strip('"') in (etag, "*") for token in header.split(","))


def _seconds(value: dt.datetime) -> int:
    return int(value.timestamp())


def evaluate_conditions(info: ObjectInfo, params: dict, prefix: str = "If") -> int | None:
    """RFC 7232 as S3 applies it: raises PreconditionFailed (412); returns 304 when not modified."""
    if_match, if_none_match = params.get(f"{prefix}Match"), params.get(f"{prefix}NoneMatch")
    modified_since = params.get(f"{prefix}ModifiedSince")
    unmodified_since = params.get(f"{prefix}UnmodifiedSince")
    modified = _seconds(info.last_modified)
    label = "x-amz-copy-source-if-" if prefix != "If" else "If-"
    if if_match is not None:
        if not _etag_matches(if_match, info.etag):
            raise errors.precondition_failed(f"{label}Match")
    elif unmodified_since is not None and modified > _seconds(unmodified_since):
        raise errors.precondition_failed(f"{label}Unmodified-Since")
    if if_none_match is not None:
        if _etag_matches(if_none_match, info.etag):
            return 304
    elif modified_since is not None and modified <= _seconds(modified_since):
        return 304
    return None


def _not_modified(ctx: RequestContext, info: ObjectInfo) -> HttpResponse:
    from ...protocol.codec import rfc822

    headers = base_headers(ctx) + [("ETag", info.quoted_etag), ("Last-Modified", rfc822(info.last_modified))]
    return HttpResponse(304, headers, b"")


def byte_range(info: ObjectInfo, params: dict) -> tuple[int, int, dict[str, Any]]:
    """(start, length, extra output members) for the Range header or partNumber; whole object else."""
    size = info.size
    part = params.get("PartNumber")
    if part is not None:
        sizes = info.parts or [size]
        if not 1 <= part <= len(sizes):
            raise ServiceError(
                "InvalidPartNumber",
                "The requested partnumber is not satisfiable",
                416,
                fields={"PartNumberRequested": str(part), "ActualPartCount": str(len(sizes))},
            )
        start = sum(sizes[: part - 1])
        length = sizes[part - 1]
        extra: dict[str, Any] = {"PartsCount": len(sizes)}
        if info.parts:
            extra["ContentRange"] = f"bytes {start}-{start + length - 1}/{size}"
        return start, length, extra
    header = params.get("Range")
    match = _RANGE.match(header.strip()) if header else None
    if match is None or match.group(1) == match.group(2) == "":
        return 0, size, {}
    first, last = match.group(1), match.group(2)
    if first == "":
        count = int(last)
        start, end = max(0, size - count), size - 1
        if count == 0:
            start = size
    else:
        start = int(first)
        end = min(int(last), size - 1) if last else size - 1
        if last and int(last) < start:
            return 0, size, {}  # syntactically invalid ranges are ignored, as HTTP says
    if start >= size or end < start:
        raise ServiceError(
            "InvalidRange",
            "The requested range is not satisfiable",
            416,
            fields={"RangeRequested": header, "ActualObjectSize": str(size)},
        )
    return start, end - start + 1, {"ContentRange": f"bytes {start}-{end}/{size}"}


def _read_result(ctx: RequestContext, params: dict, info: ObjectInfo) -> tuple[dict, int, int, int]:
    start, length, extra = byte_range(info, params)
    partial = "ContentRange" in extra or params.get("PartNumber") is not None
    result = object_fields(info, checksum_mode=params.get("ChecksumMode") == "ENABLED" and not partial)
    result.update(extra)
    result["ContentLength"] = length
    for request_name, output_name in OVERRIDES.items():
        if params.get(request_name) is not None:
            result[output_name] = params[request_name]
    status = 206 if "ContentRange" in extra else 200
    return result, start, length, status


@OPERATIONS.handler("GetObject")
def get_object(ctx: RequestContext, params: dict) -> Any:
    info = owned_object(ctx, params)
    handle, info = open_plain(ctx, params, info)  # decrypting as it reads when stored encrypted
    try:
        if evaluate_conditions(info, params) == 304:
            handle.close()
            return _not_modified(ctx, info)
        result, start, length, status = _read_result(ctx, params, info)
        if length <= READ_CHUNK:
            handle.seek(start)
            result["Body"] = handle.read(length)
            handle.close()
        else:
            result["Body"] = file_chunks(handle, start, length)
    except BaseException:
        handle.close()
        raise
    return serialize(ctx, result, status) if status != 200 else result


@OPERATIONS.handler("HeadObject")
def head_object(ctx: RequestContext, params: dict) -> Any:
    info = owned_object(ctx, params)
    if evaluate_conditions(info, params) == 304:
        return _not_modified(ctx, info)
    result, _, _, status = _read_result(ctx, params, info)
    return serialize(ctx, result, status) if status != 200 else result


#: How many times a small PutObject is planned and written again when its bucket's default encryption
#: changes under it before giving up (OperationAborted).
CONFIG_ATTEMPTS = 3


@OPERATIONS.handler("PutObject")
async def put_object(ctx: RequestContext, params: dict) -> dict:
    bucket, key = params["Bucket"], params["Key"]
    check_length(ctx)
    small = is_small(ctx)
    if not small:  # refuse before reading a large body (small ones are checked in the commit hop)
        await asyncio.to_thread(owned_bucket, ctx, params)
    digests = Digests(ctx, params)
    metadata = user_metadata(params)
    tags = parse_tagging_header(params.get("Tagging"))
    if_match = params.get("IfMatch")
    objects = store(ctx)
    # the bucket's default encryption decides how the body is written when the request names none: a
    # small body plans from the store's last sight of it and has the commit's transaction check that
    # sight (a change since: nothing stored, planned and written again); a streamed one reads it
    config_key = None if names_encryption(params) else encryption_key(ctx, bucket)
    chosen: list[Plan] = []  # the write's encryption, chosen in the worker thread that stages the body
    checked: list = []  # (config key, data) the small write was planned against

    def seal():
        chosen.clear()
        checked.clear()
        if config_key is None:
            chosen.append(plan(ctx, params, bucket, key, default=None))
        else:
            data = objects.config(config_key, fresh=not small)
            if small:
                checked.append((config_key, data))
            chosen.append(plan(ctx, params, bucket, key, default=rule_of(data)))
        return chosen[0].sealer()

    # a small body's bucket is checked in the commit's own transaction (existence, then ownership, as
    # owned_bucket would): no separate lookup before it
    expected_owner = params.get("ExpectedBucketOwner")
    owners = (ctx.account_id,) + ((expected_owner,) if expected_owner is not None else ())

    def commit(staged) -> ObjectInfo:
        return objects.commit(
            staged,
            bucket,
            key,
            content_type=params.get("ContentType"),
            metadata=metadata,
            headers=stored_headers(params),
            checksums=digests.stored(staged),
            sse=chosen[0].sse,
            tags=tags,
            if_match=if_match.strip('"') if if_match else None,
            if_none_match=params.get("IfNoneMatch") is not None,
            encryption=chosen[0].envelope,
            owners=owners,
            config=checked[0] if checked else None,
        )

    for attempt in range(CONFIG_ATTEMPTS):
        try:
            info = await ingest(ctx, digests, commit, seal)
            break
        except object_errors.ConfigChanged:
            if attempt == CONFIG_ATTEMPTS - 1:
                raise errors.operation_aborted() from None
    return {"ETag": info.quoted_etag, **checksum_fields(info.checksums, info.checksum_type), **info.sse}


@OPERATIONS.handler("DeleteObject")
def delete_object(ctx: RequestContext, params: dict) -> dict:
    owned_bucket(ctx, params)
    if params.get("IfMatch") is not None:
        info = store(ctx).head(params["Bucket"], params["Key"])
        if not _etag_matches(params["IfMatch"], info.etag):
            raise errors.precondition_failed("If-Match")
    store(ctx).delete(params["Bucket"], params["Key"])
    return {}


@OPERATIONS.handler("DeleteObjects")
def delete_objects(ctx: RequestContext, params: dict) -> dict:
    owned_bucket(ctx, params)
    headers = ctx.request.headers
    if "content-md5" not in headers and not any(k.startswith("x-amz-checksum-") for k, _ in headers.items()):
        raise errors.invalid_request("Missing required header for this request: Content-MD5")
    verify_xml_body(ctx)
    delete = params.get("Delete") or {}
    entries = delete.get("Objects") or []
    if not entries or len(entries) > 1000:
        raise errors.malformed_xml()
    keys = [entry["Key"] for entry in entries]
    store(ctx).delete_many(params["Bucket"], keys)
    if delete.get("Quiet"):
        return {}
    return {"Deleted": [{"Key": key} for key in dict.fromkeys(keys)]}


@OPERATIONS.handler("CopyObject")
def copy_object(ctx: RequestContext, params: dict) -> dict:
    bucket, key = params["Bucket"], params["Key"]
    src_bucket, src_key = parse_copy_source(params["CopySource"])
    owned_bucket(ctx, params)
    owned_bucket(ctx, params, name=src_bucket, expected=params.get("ExpectedSourceBucketOwner"))
    objects = store(ctx)
    source = objects.head(src_bucket, src_key)
    if evaluate_conditions(source, params, prefix="CopySourceIf") == 304:
        raise errors.precondition_failed("x-amz-copy-source-If-None-Match")
    replace = params.get("MetadataDirective", "COPY") == "REPLACE"
    tags = (
        parse_tagging_header(params.get("Tagging")) if params.get("TaggingDirective") == "REPLACE" else None
    )
    changes_sse = params.get("ServerSideEncryption") is not None
    if (
        (src_bucket, src_key) == (bucket, key)
        and not replace
        and not changes_sse
        and params.get("StorageClass") is None
        and params.get("WebsiteRedirectLocation") is None
    ):
        raise errors.invalid_request(
            "This copy request is illegal because it is trying to copy an object to itself without changing "
            "the object's metadata, storage class, website redirect location or encryption attributes."
        )
    algorithm = params.get("ChecksumAlgorithm")
    # the copy's encryption: its own headers, else the destination bucket's default (as S3 does); a copy
    # that stays SSE-KMS keeps its source's data key, re-wrapped, and so shares its sealed bytes
    target = plan(ctx, params, bucket, key, data_key(ctx, source.encryption) if source.encryption else None)
    info = objects.copy(
        source,
        bucket,
        key,
        content_type=(params.get("ContentType") or "binary/octet-stream") if replace else None,
        metadata=user_metadata(params) if replace else None,
        headers=stored_headers(params) if replace else None,
        sse=target.sse,
        tags=tags,
        algorithms=[algorithm.lower()] if algorithm else (),
        encryption=target.envelope,
        data_key=target.data_key,
    )
    result = {"ETag": info.quoted_etag, "LastModified": info.last_modified}
    result.update(checksum_fields(info.checksums, info.checksum_type))
    return {"CopyObjectResult": result, **info.sse}


@OPERATIONS.handler("PutObjectTagging")
def put_object_tagging(ctx: RequestContext, params: dict) -> dict:
    owned_bucket(ctx, params)
    verify_xml_body(ctx)
    tags = check_tags((params.get("Tagging") or {}).get("TagSet") or [])
    store(ctx).set_tags(params["Bucket"], params["Key"], tags)
    return {}


@OPERATIONS.handler("GetObjectTagging")
def get_object_tagging(ctx: RequestContext, params: dict) -> dict:
    return {"TagSet": tag_set(owned_object(ctx, params).tags)}


@OPERATIONS.handler("DeleteObjectTagging")
def delete_object_tagging(ctx: RequestContext, params: dict) -> dict:
    owned_bucket(ctx, params)
    store(ctx).set_tags(params["Bucket"], params["Key"], {})
    return {}
