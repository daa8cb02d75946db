"""What the S3 handlers share: bucket access checks, request bodies (plain or aws-chunked), digests
(Content-MD5, x-amz-checksum-*, the signed payload hash), tagging and response building."""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime as dt
import hashlib
import re
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar
from urllib.parse import parse_qsl, unquote

from ...objects import ObjectInfo, ObjectStore, StagedFile, object_store
from ...objects import checksums as cks
from ...protocol.aws_chunked import ChunkedDecoder
from ...protocol.errors import ServiceError
from ...protocol.http import HttpResponse
from ...store.objects_index import BucketInfo
from ..context import RequestContext
from . import errors

MAX_OBJECT_SIZE = 5 * 1024**3  # single PUT and single part
MIN_PART_SIZE = 5 * 1024**2
MAX_PART_NUMBER = 10000
MAX_METADATA_BYTES = 2048
READ_CHUNK = 1 << 20
SMALL_BODY = 256 * 1024  # bodies up to this size are read whole and handled in one thread hop
T = TypeVar("T")
#: Stored with the object and returned on GET/HEAD: output member → request member.
STORED_HEADERS = (
    "CacheControl",
    "ContentDisposition",
    "ContentEncoding",
    "ContentLanguage",
    "Expires",
    "WebsiteRedirectLocation",
    "StorageClass",
)

_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_IP_ADDRESS = re.compile(r"^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$")


def store(ctx: RequestContext) -> ObjectStore:
    return object_store(ctx.platform)


def valid_bucket_name(name: str) -> bool:
    """S3's general-purpose bucket naming rules."""
    if not _BUCKET_NAME.match(name) or ".." in name or ".-" in name or "-." in name:
        return False
    if _IP_ADDRESS.match(name):
        return False
    if name.startswith(("xn--", "sthree-", "amzn-s3-demo-")):
        return False
    return not name.endswith(("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"))


def owned_bucket(
    ctx: RequestContext, params: dict, name: str | None = None, expected: str | None = None
) -> BucketInfo:
    """The bucket named in the request, owned by the caller (else AccessDenied), checking
    ``x-amz-expected-bucket-owner``."""
    bucket = name if name is not None else params["Bucket"]
    info = store(ctx).get_bucket(bucket)
    owner = expected if expected is not None else params.get("ExpectedBucketOwner")
    if info.account_id != ctx.account_id or (owner is not None and owner != info.account_id):
        raise errors.access_denied()
    return info


def owned_object(ctx: RequestContext, params: dict) -> ObjectInfo:
    """The object named in the request, its bucket checked as ``owned_bucket`` does (one query)."""
    bucket_info, info = store(ctx).index.lookup(params["Bucket"], params["Key"])
    if bucket_info is None:
        raise errors.no_such_bucket(params["Bucket"])
    expected = params.get("ExpectedBucketOwner")
    if bucket_info.account_id != ctx.account_id or (
        expected is not None and expected != bucket_info.account_id
    ):
        raise errors.access_denied()
    if info is None:
        raise errors.no_such_key(params["Key"])
    return info


def canonical_user_id(account_id: str) -> str:
    return hashlib.sha256(f"sagestack-canonical-{account_id}".encode()).hexdigest()


def owner(account_id: str) -> dict:
    return {"ID": canonical_user_id(account_id), "DisplayName": f"sagestack-{account_id}"}


# -- request bodies ---------------------------------------------------------------------------


class RequestBody:
    """The decoded payload of a streaming request: plain bytes, or aws-chunked decoded incrementally
    (chunk and trailer signatures verified). ``trailers`` is filled once the stream is exhausted."""

    def __init__(self, ctx: RequestContext):
        self.request = ctx.request
        auth = ctx.auth
        self.decoder: ChunkedDecoder | None = None
        mode = getattr(auth, "payload_mode", "")
        if mode.startswith("streaming"):
            length = ctx.request.headers.get("x-amz-decoded-content-length")
            try:
                decoded = int(length) if length is not None else None
            except ValueError:
                raise errors.invalid_argument(
                    "x-amz-decoded-content-length must be an integer", "x-amz-decoded-content-length", length
                ) from None
            self.decoder = ChunkedDecoder.for_auth(auth, decoded_length=decoded)
        self.trailers: dict[str, str] = {}

    @property
    def declared_length(self) -> int | None:
        name = "x-amz-decoded-content-length" if self.decoder is not None else "content-length"
        value = self.request.headers.get(name)
        return int(value) if value and value.isdigit() else None

    async def __aiter__(self) -> AsyncIterator[bytes]:
        decoder = self.decoder
        async for chunk in self.request.stream():
            if decoder is None:
                yield chunk
                continue
            data = decoder.feed(chunk)
            if data:
                yield data
        if decoder is not None:
            decoder.finish()
            self.trailers = dict(decoder.trailers)


def checksum_value(params: dict, headers, algorithm: str) -> str | None:
    return params.get("Checksum" + cks.MEMBER_NAMES[algorithm]) or headers.get(f"x-amz-checksum-{algorithm}")


class Digests:
    """What a request says its body hashes to, checked once the body has been staged."""

    def __init__(self, ctx: RequestContext, params: dict, extra_algorithm: str | None = None):
        headers = ctx.request.headers
        self.content_md5 = params.get("ContentMD5") or headers.get("content-md5")
        if self.content_md5 is not None:
            try:
                if len(base64.b64decode(self.content_md5, validate=True)) != 16:
                    raise ValueError
            except (ValueError, binascii.Error):
                raise ServiceError(
                    "InvalidDigest",
                    "The Content-MD5 you specified was invalid.",
                    400,
                    fields={"Content-MD5": self.content_md5},
                ) from None
        self.expected: dict[str, str] = {}
        for algorithm in cks.MEMBER_NAMES:
            value = checksum_value(params, headers, algorithm)
            if value is None:
                continue
            try:
                raw = base64.b64decode(value, validate=True)
            except (ValueError, binascii.Error):
                raw = b""
            if len(raw) != cks.digest_size(algorithm):
                raise errors.invalid_request(f"Value for x-amz-checksum-{algorithm} header is invalid.")
            self.expected[algorithm] = value
        if len(self.expected) > 1:
            raise errors.invalid_request(
                "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed."
            )
        auth = ctx.auth
        self.trailer_algorithms = [
            name[len("x-amz-checksum-") :]
            for name in getattr(auth, "trailer_names", ())
            if name.startswith("x-amz-checksum-")
        ]
        for name in self.trailer_algorithms:
            if not cks.supported(name):
                raise errors.invalid_request(
                    f"The value specified in the x-amz-trailer header is not supported: x-amz-checksum-{name}"
                )
        declared = params.get("ChecksumAlgorithm") or headers.get("x-amz-sdk-checksum-algorithm")
        names = list(self.expected) + self.trailer_algorithms
        if declared and cks.supported(declared):
            names.append(declared.lower())
        if extra_algorithm:
            names.append(extra_algorithm.lower())
        self.algorithms = list(dict.fromkeys(n for n in names if cks.supported(n)))
        self.payload_sha256: str | None = getattr(auth, "declared_payload_sha256", None)

    def verify(self, staged: StagedFile, trailers: dict[str, str]) -> None:
        if self.payload_sha256 is not None and staged.sha256 != self.payload_sha256:
            raise errors.content_sha256_mismatch(self.payload_sha256, staged.sha256 or "")
        if self.content_md5 is not None and base64.b64decode(self.content_md5) != staged.md5:
            raise ServiceError(
                "BadDigest",
                "The Content-MD5 you specified did not match what we received.",
                400,
                fields={
                    "ExpectedDigest": self.content_md5,
                    "CalculatedDigest": base64.b64encode(staged.md5).decode(),
                },
            )
        expected = dict(self.expected)
        for algorithm in self.trailer_algorithms:
            value = trailers.get(f"x-amz-checksum-{algorithm}")
            if value is None:
                raise errors.invalid_request(
                    f"The x-amz-checksum-{algorithm} trailer was declared but not sent."
                )
            expected[algorithm] = value
        for algorithm, value in expected.items():
            if staged.checksums.get(algorithm) != value:
                raise ServiceError(
                    "BadDigest",
                    f"The {cks.MEMBER_NAMES[algorithm]} you specified did not match the calculated checksum.",
                    400,
                )

    def stored(self, staged: StagedFile) -> dict[str, str]:
        return {name: staged.checksums[name] for name in self.algorithms if name in staged.checksums}


async def ingest(
    ctx: RequestContext,
    digests: Digests,
    commit: Callable[[StagedFile], T],
    sealer: Callable[[], Any] | None = None,
) -> T:
    """Stage the request body, check every digest, then ``commit(staged)`` in a worker thread.

    Small plain bodies are read on the loop and staged, checked and committed in one thread hop; larger
    ones (and aws-chunked ones) stream to disk. The staged file is discarded on any failure. ``sealer()``
    (run in the worker thread before staging) gives the FrameSealer of an encrypted write, or None."""
    body = RequestBody(ctx)
    objects = store(ctx)
    want_sha = digests.payload_sha256 is not None

    def finish(staged: StagedFile) -> T:
        try:
            digests.verify(staged, body.trailers)
            return commit(staged)
        finally:
            staged.discard()  # a no-op once commit has moved the file into place

    length = body.declared_length
    if body.decoder is None and length is not None and length <= SMALL_BODY:
        data = await ctx.request.read_body(SMALL_BODY)

        def stage_and_finish() -> T:
            stager = objects.new_stager(digests.algorithms, want_sha, sealer=sealer() if sealer else None)
            try:
                stager.write(data)
                staged = stager.finish()
            except BaseException:
                stager.discard()
                raise
            return finish(staged)

        return await asyncio.to_thread(stage_and_finish)
    seal = await asyncio.to_thread(sealer) if sealer else None
    staged = await objects.stage_stream(body, digests.algorithms, sha256=want_sha, sealer=seal)
    return await asyncio.to_thread(finish, staged)


def is_small(ctx: RequestContext) -> bool:
    """A plain (not aws-chunked) body whose declared length is at most ``SMALL_BODY``."""
    if getattr(ctx.auth, "payload_mode", "").startswith("streaming"):
        return False
    value = ctx.request.headers.get("content-length")
    return value is not None and value.isdigit() and int(value) <= SMALL_BODY


def check_length(ctx: RequestContext, limit: int = MAX_OBJECT_SIZE) -> None:
    headers = ctx.request.headers
    value = headers.get("x-amz-decoded-content-length") or headers.get("content-length")
    if value and value.isdigit() and int(value) > limit:
        raise ServiceError(
            "EntityTooLarge",
            "Your proposed upload exceeds the maximum allowed size",
            400,
            fields={"ProposedSize": value, "MaxSizeAllowed": str(limit)},
        )


def verify_xml_body(ctx: RequestContext) -> None:
    """Content-MD5 / x-amz-checksum-* of a small (already read) request body."""
    body = ctx.request.body or b""
    headers = ctx.request.headers
    md5 = headers.get("content-md5")
    if md5 is not None:
        try:
            raw = base64.b64decode(md5, validate=True)
        except (ValueError, binascii.Error):
            raw = b""
        if len(raw) != 16:
            raise ServiceError("InvalidDigest", "The Content-MD5 you specified was invalid.", 400)
        if hashlib.md5(body).digest() != raw:
            raise ServiceError(
                "BadDigest", "The Content-MD5 you specified did not match what we received.", 400
            )
    for algorithm, member in cks.MEMBER_NAMES.items():
        value = headers.get(f"x-amz-checksum-{algorithm}")
        if value is not None and cks.of_bytes(algorithm, body) != value:
            raise ServiceError(
                "BadDigest", f"The {member} you specified did not match the calculated checksum.", 400
            )


# -- object attributes ------------------------------------------------------------------------


def user_metadata(params: dict) -> dict[str, str]:
    metadata = {k.lower(): v for k, v in (params.get("Metadata") or {}).items()}
    size = sum(len(k) + len(v) for k, v in metadata.items())
    if size > MAX_METADATA_BYTES:
        raise ServiceError(
            "MetadataTooLarge",
            "Your metadata headers exceed the maximum allowed metadata size",
            400,
            fields={"Size": str(size), "MaxSizeAllowed": str(MAX_METADATA_BYTES)},
        )
    return metadata


def stored_headers(params: dict) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in STORED_HEADERS:
        value = params.get(name)
        if value is None:
            continue
        if name == "ContentEncoding":
            value = ",".join(
                p.strip() for p in str(value).split(",") if p.strip() and p.strip() != "aws-chunked"
            )
            if not value:
                continue
        if name == "Expires":
            value = value.timestamp() if isinstance(value, dt.datetime) else value
        if name == "StorageClass" and value == "STANDARD":
            continue
        out[name] = value
    return out


def parse_tagging_header(value: str | None) -> dict[str, str]:
    if not value:
        return {}
    return check_tags([{"Key": k, "Value": v} for k, v in parse_qsl(value, keep_blank_values=True)])


def check_tags(tag_set: list[dict], limit: int = 10, bucket: bool = False) -> dict[str, str]:
    tags: dict[str, str] = {}
    for tag in tag_set:
        key, value = tag.get("Key", ""), tag.get("Value", "")
        if key in tags:
            raise ServiceError(
                "InvalidTag", "Cannot provide multiple Tags with the same key", 400, fields={"TagKey": key}
            )
        if not 1 <= len(key) <= 128:
            raise ServiceError(
                "InvalidTag", "The TagKey you have provided is invalid", 400, fields={"TagKey": key}
            )
        if len(value) > 256:
            raise ServiceError(
                "InvalidTag",
                "The TagValue you have provided is invalid",
                400,
                fields={"TagKey": key, "TagValue": value},
            )
        tags[key] = value
    if len(tags) > limit:
        if bucket:
            raise ServiceError("InvalidTag", f"Bucket tag count cannot be greater than {limit}", 400)
        raise ServiceError("BadRequest", f"Object tags cannot be greater than {limit}", 400)
    return tags


def tag_set(tags: dict[str, str]) -> list[dict]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def checksum_fields(checksums: dict[str, str], checksum_type: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "Checksum" + cks.MEMBER_NAMES[k]: v for k, v in checksums.items() if k in cks.MEMBER_NAMES
    }
    if out and checksum_type:
        out["ChecksumType"] = checksum_type
    return out


def object_fields(info: ObjectInfo, checksum_mode: bool = False) -> dict[str, Any]:
    """Output members shared by GetObject and HeadObject."""
    out: dict[str, Any] = {
        "ContentLength": info.size,
        "ContentType": info.content_type,
        "ETag": info.quoted_etag,
        "LastModified": info.last_modified,
        "AcceptRanges": "bytes",
        "Metadata": info.metadata,
    }
    out.update(info.sse)
    for name, value in info.headers.items():
        if name == "Expires":
            if isinstance(value, (int, float)):
                out["Expires"] = dt.datetime.fromtimestamp(value, dt.timezone.utc)
            continue
        out[name] = value
    if info.tags:
        out["TagCount"] = len(info.tags)
    if info.parts:
        out["PartsCount"] = len(info.parts)
    if checksum_mode:
        out.update(checksum_fields(info.checksums, info.checksum_type))
    return out


def parse_copy_source(value: str) -> tuple[str, str]:
    """``x-amz-copy-source`` (``bucket/key`` or ``/bucket/key``, URL-encoded, optional ``?versionId=``)."""
    text = value.split("?versionId=", 1)[0]
    text = unquote(text).lstrip("/")
    bucket, sep, key = text.partition("/")
    if not sep or not bucket or not key:
        raise errors.invalid_argument("Invalid copy source object key", "x-amz-copy-source", value)
    return bucket, key


# -- responses --------------------------------------------------------------------------------


def base_headers(ctx: RequestContext) -> list[tuple[str, str]]:
    request_id = ctx.request.request_id
    return [("x-amz-request-id", request_id[:16].upper().replace("-", "")), ("x-amz-id-2", request_id)]


def serialize(ctx: RequestContext, result: dict, status: int) -> HttpResponse:
    """The model-driven response for ``result`` with a status the model does not carry (206)."""
    gateway = ctx.platform.gateway
    protocol = gateway.protocols["s3"] if gateway is not None else None
    if protocol is None:
        from ...protocol.rest import RestXmlProtocol

        protocol = RestXmlProtocol("s3")
    response = protocol.serialize(ctx.request, protocol.operation_model(ctx.operation), result)
    response.status = status
    return response


async def file_chunks(handle, start: int, length: int) -> AsyncIterator[bytes]:
    """Stream ``length`` bytes of an open file from ``start``; closes the file."""
    try:
        await asyncio.to_thread(handle.seek, start)
        remaining = length
        while remaining > 0:
            data = await asyncio.to_thread(handle.read, min(READ_CHUNK, remaining))
            if not data:
                break
            remaining -= len(data)
            yield data
    finally:
        handle.close()
