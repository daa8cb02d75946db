"""S3 multipart uploads: create, upload part (streamed) and part copy, complete (parts concatenated
on disk, ETag ``<md5 of part md5s>-N``), abort, list parts and list uploads."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import itertools
import secrets
from urllib.parse import quote

from ...objects import ObjectInfo, UploadInfo
from ...objects import checksums as cks
from ...objects.encryption import FrameSealer
from ...protocol.errors import ServiceError
from ..context import RequestContext
from ..registry import OperationTable
from . import errors
from .common import (
    MAX_OBJECT_SIZE,
    MAX_PART_NUMBER,
    MIN_PART_SIZE,
    Digests,
    check_length,
    checksum_fields,
    checksum_value,
    ingest,
    owned_bucket,
    owner,
    parse_copy_source,
    parse_tagging_header,
    store,
    stored_headers,
    user_metadata,
)
from .encryption import data_key, open_plain, plan
from .objects import evaluate_conditions

OPERATIONS = OperationTable("s3")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _part_number(params: dict) -> int:
    number = params["PartNumber"]
    if not 1 <= number <= MAX_PART_NUMBER:
        raise errors.invalid_argument(
            "Part number must be an integer between 1 and 10000, inclusive", "partNumber", str(number)
        )
    return number


@OPERATIONS.handler("CreateMultipartUpload")
def create_multipart_upload(ctx: RequestContext, params: dict) -> dict:
    owned_bucket(ctx, params)
    algorithm = params.get("ChecksumAlgorithm")
    kind = params.get("ChecksumType")
    if kind and not algorithm:
        raise errors.invalid_request(
            "The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header."
        )
    if kind == "FULL_OBJECT" and algorithm and algorithm.upper() not in ("CRC32", "CRC32C", "CRC64NVME"):
        raise errors.invalid_request(
            f"The FULL_OBJECT checksum type cannot be used with the {algorithm.lower()} checksum algorithm."
        )
    encryption = plan(ctx, params, params["Bucket"], params["Key"])  # one data key seals every part
    upload = UploadInfo(
        upload_id=secrets.token_urlsafe(48),
        bucket=params["Bucket"],
        key=params["Key"],
        account_id=ctx.account_id,
        initiated=_now(),
        content_type=params.get("ContentType") or "binary/octet-stream",
        metadata=user_metadata(params),
        headers=stored_headers(params),
        sse=encryption.sse,
        tags=parse_tagging_header(params.get("Tagging")),
        checksum_algorithm=algorithm.lower() if algorithm else None,
        checksum_type=(kind or "COMPOSITE") if algorithm else None,
        encryption=encryption.envelope,
    )
    store(ctx).create_upload(upload)
    result = {"Bucket": upload.bucket, "Key": upload.key, "UploadId": upload.upload_id, **upload.sse}
    if algorithm:
        result.update(ChecksumAlgorithm=algorithm.upper(), ChecksumType=upload.checksum_type)
    return result


@OPERATIONS.handler("UploadPart")
async def upload_part(ctx: RequestContext, params: dict) -> dict:
    number = _part_number(params)
    objects = store(ctx)
    await asyncio.to_thread(owned_bucket, ctx, params)
    upload = await asyncio.to_thread(objects.get_upload, params["Bucket"], params["Key"], params["UploadId"])
    check_length(ctx)
    digests = Digests(ctx, params, extra_algorithm=upload.checksum_algorithm)
    mismatched = [a for a in digests.expected if upload.checksum_algorithm and a != upload.checksum_algorithm]
    if mismatched:
        raise errors.invalid_request(
            f"Checksum Type mismatch occurred, expected checksum Type: "
            f"{upload.checksum_algorithm}, actual checksum Type: {mismatched[0]}"
        )
    sealer = (lambda: FrameSealer(data_key(ctx, upload.encryption), number)) if upload.encryption else None
    part = await ingest(
        ctx, digests, lambda staged: objects.commit_part(upload.upload_id, number, staged), sealer
    )
    return {"ETag": f'"{part.etag}"', **checksum_fields(part.checksums), **upload.sse}


@OPERATIONS.handler("UploadPartCopy")
def upload_part_copy(ctx: RequestContext, params: dict) -> dict:
    number = _part_number(params)
    objects = store(ctx)
    owned_bucket(ctx, params)
    upload = objects.get_upload(params["Bucket"], params["Key"], params["UploadId"])
    src_bucket, src_key = parse_copy_source(params["CopySource"])
    owned_bucket(ctx, params, name=src_bucket, expected=params.get("ExpectedSourceBucketOwner"))
    source = objects.head(src_bucket, src_key)
    if evaluate_conditions(source, params, prefix="CopySourceIf") == 304:
        raise errors.precondition_failed("x-amz-copy-source-If-None-Match")
    start, length = 0, source.size
    text = params.get("CopySourceRange")
    if text:
        first, _, last = text.removeprefix("bytes=").partition("-")
        if not (text.startswith("bytes=") and first.isdigit() and last.isdigit()) or int(last) < int(first):
            raise errors.invalid_argument(
                "The x-amz-copy-source-range value must be of the form "
                "bytes=first-last where first and last are the zero-based offsets "
                "of the first and last bytes to copy",
                "x-amz-copy-source-range",
                text,
            )
        start, end = int(first), int(last)
        if end >= source.size:
            raise ServiceError(
                "InvalidRange",
                "The requested range is not satisfiable",
                416,
                fields={"RangeRequested": text, "ActualObjectSize": str(source.size)},
            )
        length = end - start + 1
    if length > MAX_OBJECT_SIZE:
        raise ServiceError("EntityTooLarge", "Your proposed upload exceeds the maximum allowed size", 400)
    algorithms = [upload.checksum_algorithm] if upload.checksum_algorithm else []
    sealer = FrameSealer(data_key(ctx, upload.encryption), number) if upload.encryption else None
    reader, source = open_plain(ctx, {"Bucket": src_bucket, "Key": src_key}, source)
    staged = objects.stage_file(reader, algorithms, start=start, length=length, sealer=sealer)
    part = objects.commit_part(upload.upload_id, number, staged)
    result = {"ETag": f'"{part.etag}"', "LastModified": part.last_modified, **checksum_fields(part.checksums)}
    return {"CopyPartResult": result, **upload.sse}


def _validate_parts(ctx: RequestContext, upload: UploadInfo, requested: list[dict]):
    if not requested:
        raise errors.malformed_xml()
    numbers = [p.get("PartNumber") for p in requested]
    if any(n is None for n in numbers) or any(b <= a for a, b in itertools.pairwise(numbers)):
        raise ServiceError(
            "InvalidPartOrder",
            "The list of parts was not in ascending order. Parts must be ordered by part number.",
            400,
            fields={"UploadId": upload.upload_id},
        )
    stored = {p.part_number: p for p in store(ctx).list_parts(upload.upload_id)}
    chosen = []
    algorithm = upload.checksum_algorithm
    for index, entry in enumerate(requested):
        part = stored.get(entry["PartNumber"])
        etag = (entry.get("ETag") or "").strip().strip('"')
        mismatch = part is None or etag != part.etag
        if not mismatch:
            for name in cks.MEMBER_NAMES:
                value = entry.get("Checksum" + cks.MEMBER_NAMES[name])
                if value is not None and part.checksums.get(name) != value:
                    mismatch = True
        if mismatch:
            raise ServiceError(
                "InvalidPart",
                "One or more of the specified parts could not be found.  The part "
                "may not have been uploaded, or the specified entity tag may not match the "
                "part's entity tag.",
                400,
                fields={
                    "UploadId": upload.upload_id,
                    "PartNumber": str(entry["PartNumber"]),
                    "ETag": entry.get("ETag") or "",
                },
            )
        if (
            algorithm
            and upload.checksum_type == "COMPOSITE"
            and entry.get("Checksum" + cks.MEMBER_NAMES[algorithm]) is None
        ):
            raise errors.invalid_request(
                f"The upload was created using a {algorithm} checksum. The complete "
                f"request must include the checksum for each part. It was missing for "
                f"part {entry['PartNumber']} in the request."
            )
        if index < len(requested) - 1 and part.size < MIN_PART_SIZE:
            raise ServiceError(
                "EntityTooSmall",
                "Your proposed upload is smaller than the minimum allowed object size.",
                400,
                fields={
                    "ProposedSize": str(part.size),
                    "MinSizeAllowed": str(MIN_PART_SIZE),
                    "PartNumber": str(part.part_number),
                    "ETag": f'"{part.etag}"',
                },
            )
        chosen.append(part)
    return chosen


@OPERATIONS.handler("CompleteMultipartUpload")
def complete_multipart_upload(ctx: RequestContext, params: dict) -> dict:
    bucket, key = params["Bucket"], params["Key"]
    objects = store(ctx)
    owned_bucket(ctx, params)
    upload = objects.get_upload(bucket, key, params["UploadId"])
    parts = _validate_parts(ctx, upload, (params.get("MultipartUpload") or {}).get("Parts") or [])
    algorithm = upload.checksum_algorithm
    full = upload.checksum_type == "FULL_OBJECT"
    key_bytes = data_key(ctx, upload.encryption) if upload.encryption else None
    staged = objects.assemble(parts, algorithm if full else None, key_bytes)
    size = params.get("MpuObjectSize")
    if size is not None and size != staged.size:
        staged.discard()
        raise errors.invalid_request(
            f"The provided 'x-amz-mp-object-size' header value {size} does not match "
            f"what was computed: {staged.size}"
        )
    etag = hashlib.md5(b"".join(bytes.fromhex(p.etag) for p in parts)).hexdigest() + f"-{len(parts)}"
    checksums: dict[str, str] = {}
    if algorithm:
        if full:
            checksums = dict(staged.checksums)
            claimed = checksum_value(params, ctx.request.headers, algorithm)
            if claimed is not None and claimed != checksums.get(algorithm):
                staged.discard()
                raise ServiceError(
                    "BadDigest",
                    f"The {cks.MEMBER_NAMES[algorithm]} you specified did not match the calculated checksum.",
                    400,
                )
        else:
            checksums = {algorithm: cks.composite(algorithm, [p.checksums[algorithm] for p in parts])}
    info = ObjectInfo(
        bucket=bucket,
        key=key,
        size=staged.size,
        etag=etag,
        content_type=upload.content_type,
        last_modified=_now(),
        storage_path="",
        metadata=upload.metadata,
        headers=upload.headers,
        checksums=checksums,
        checksum_type=upload.checksum_type if algorithm else None,
        sse=upload.sse,
        tags=upload.tags,
        parts=[p.size for p in parts],
        encryption={**upload.encryption, "segments": [[p.part_number, p.size] for p in parts]}
        if upload.encryption
        else None,
    )
    if_match = params.get("IfMatch")
    info = objects.complete_upload(
        upload,
        staged,
        info,
        if_match=if_match.strip('"') if if_match else None,
        if_none_match=params.get("IfNoneMatch") is not None,
    )
    host = ctx.request.headers.get("host") or "localhost"
    result = {
        "Location": f"http://{host}/{bucket}/{quote(key)}",
        "Bucket": bucket,
        "Key": key,
        "ETag": info.quoted_etag,
        **upload.sse,
    }
    result.update(checksum_fields(info.checksums, info.checksum_type))
    return result


@OPERATIONS.handler("AbortMultipartUpload")
def abort_multipart_upload(ctx: RequestContext, params: dict) -> dict:
    owned_bucket(ctx, params)
    store(ctx).abort_upload(params["Bucket"], params["Key"], params["UploadId"])
    return {}


@OPERATIONS.handler("ListParts")
def list_parts(ctx: RequestContext, params: dict) -> dict:
    owned_bucket(ctx, params)
    objects = store(ctx)
    upload = objects.get_upload(params["Bucket"], params["Key"], params["UploadId"])
    limit = min(max(params.get("MaxParts", 1000), 0), 1000)
    marker = params.get("PartNumberMarker") or 0
    parts = objects.list_parts(upload.upload_id, marker, limit + 1)
    truncated = len(parts) > limit
    parts = parts[:limit]
    result = {
        "Bucket": upload.bucket,
        "Key": upload.key,
        "UploadId": upload.upload_id,
        "PartNumberMarker": marker,
        "MaxParts": limit,
        "IsTruncated": truncated,
        "Parts": [
            {
                "PartNumber": p.part_number,
                "LastModified": p.last_modified,
                "ETag": f'"{p.etag}"',
                "Size": p.size,
                **checksum_fields(p.checksums),
            }
            for p in parts
        ]
        or None,
        "Initiator": {"ID": ctx.principal_arn, "DisplayName": ctx.principal_arn.rsplit("/", 1)[-1]},
        "Owner": owner(upload.account_id),
        "StorageClass": upload.headers.get("StorageClass", "STANDARD"),
    }
    if parts:
        result["NextPartNumberMarker"] = parts[-1].part_number
    if upload.checksum_algorithm:
        result.update(ChecksumAlgorithm=upload.checksum_algorithm.upper(), ChecksumType=upload.checksum_type)
    return result


@OPERATIONS.handler("ListMultipartUploads")
def list_multipart_uploads(ctx: RequestContext, params: dict) -> dict:
    owned_bucket(ctx, params)
    limit = min(max(params.get("MaxUploads", 1000), 0), 1000)
    prefix = params.get("Prefix") or ""
    delimiter = params.get("Delimiter") or None
    encode = (lambda t: quote(t, safe="/")) if params.get("EncodingType") == "url" else (lambda t: t)
    page = store(ctx).list_uploads(
        params["Bucket"], prefix, delimiter, params.get("KeyMarker"), params.get("UploadIdMarker"), limit
    )
    result = {
        "Bucket": params["Bucket"],
        "KeyMarker": params.get("KeyMarker") or "",
        "UploadIdMarker": params.get("UploadIdMarker") or "",
        "Prefix": encode(prefix),
        "MaxUploads": limit,
        "IsTruncated": page.truncated,
        "Uploads": [
            {
                "UploadId": u.upload_id,
                "Key": encode(u.key),
                "Initiated": u.initiated,
                "StorageClass": u.headers.get("StorageClass", "STANDARD"),
                "Owner": owner(u.account_id),
                "Initiator": {
                    "ID": owner(u.account_id)["ID"],
                    "DisplayName": owner(u.account_id)["DisplayName"],
                },
                **(
                    {"ChecksumAlgorithm": u.checksum_algorithm.upper(), "ChecksumType": u.checksum_type}
                    if u.checksum_algorithm
                    else {}
                ),
            }
            for u in page.uploads
        ]
        or None,
        "CommonPrefixes": [{"Prefix": encode(p)} for p in page.prefixes] or None,
    }
    if delimiter:
        result["Delimiter"] = delimiter
    if params.get("EncodingType"):
        result["EncodingType"] = params["EncodingType"]
    if page.next_key is not None:
        result["NextKeyMarker"] = encode(page.next_key)
    if page.next_upload_id is not None:
        result["NextUploadIdMarker"] = page.next_upload_id
    return result
