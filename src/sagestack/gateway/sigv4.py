"""Server-side AWS Signature Version 4 verification.

Pure functions over raw request data (no web framework): the gateway hands in the method, the path and
query exactly as they came on the wire, the header list, and a key lookup; it gets back an
``AuthResult`` or an ``AuthError`` carrying the AWS error code, message and HTTP status for the service
the request was signed for.

Covers header auth (``Authorization: AWS4-HMAC-SHA256 ...``), presigned URLs (``X-Amz-*`` query
parameters), every ``x-amz-content-sha256`` mode S3 accepts, temporary (STS) credentials and clock
skew. The canonical request and the signing math are ``protocol/signing.py``; the error wording is
``auth_errors.py``; streaming (``aws-chunked``) bodies are decoded, chunk signatures checked, by
``protocol/aws_chunked.py`` from what ``AuthResult`` proved.
"""

from __future__ import annotations

import functools
import hmac
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime

from ..protocol.signing import (
    ALGORITHM,
    EMPTY_SHA256,
    MAX_SKEW_SECONDS,
    amz_date,
    canonical_query_string,
    canonical_request,
    canonical_uri,
    first_header,
    header_map,
    parse_amz_date,
    parse_query,
    sign_key,
    signature,
    string_to_sign,
)
from .auth_errors import AuthErrors

UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
STREAMING_SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
STREAMING_SIGNED_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
STREAMING_UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
MAX_PRESIGN_EXPIRES = 604800

PAYLOAD_MODES = {
    UNSIGNED_PAYLOAD: "unsigned",
    STREAMING_SIGNED: "streaming-signed",
    STREAMING_SIGNED_TRAILER: "streaming-signed-trailer",
    STREAMING_UNSIGNED_TRAILER: "streaming-unsigned-trailer",
}

_HEX64 = re.compile(r"[0-9a-f]{64}")


# --------------------------------------------------------------------------------------------- types


@dataclass(frozen=True)
class Credentials:
    """What the key lookup returns for an access key id."""

    access_key_id: str
    secret_access_key: str
    account_id: str
    principal_arn: str
    session_token: str | None = None  # set for temporary (STS) credentials
    expires_at: float | None = None  # epoch seconds; temporary credentials only


@dataclass(frozen=True)
class AuthResult:
    credentials: Credentials
    service: str
    region: str
    signed_headers: tuple[str, ...]
    # "signed" | "unsigned" | "streaming-signed" | "streaming-signed-trailer"
    # | "streaming-unsigned-trailer" | "presigned"
    payload_mode: str
    # Hex hash the client declared and that still has to be checked against the body (None when there is
    # nothing left to check: the caller passed body_sha256, or the payload is unsigned/streaming).
    declared_payload_sha256: str | None
    seed_signature: str | None
    signing_key: bytes | None
    timestamp: str  # YYYYMMDDTHHMMSSZ, as in the string to sign
    trailer_names: tuple[str, ...] = field(default=())  # from x-amz-trailer

    @property
    def scope(self) -> str:
        return f"{self.timestamp[:8]}/{self.region}/{self.service}/aws4_request"

    @property
    def is_streaming(self) -> bool:
        return self.payload_mode.startswith("streaming-")


# ---------------------------------------------------------------------------------- parsing


@dataclass(frozen=True)
class _Signed:
    access_key_id: str
    date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str
    presigned: bool


@functools.lru_cache(maxsize=512)
def _parse_credential(value: str) -> tuple[str, str, str, str] | None:
    # cached: the same for every request of a key, day, region and service
    parts = value.split("/")
    if len(parts) != 5 or parts[4] != "aws4_request" or not all(parts[:4]):
        return None
    return parts[0], parts[1], parts[2], parts[3]


@functools.lru_cache(maxsize=512)
def _auth_header_fields(value: str) -> dict[str, str] | None:
    """The ``Authorization`` header's ``Name=value`` fields (cached per header value: the routing step
    and the verifier both read them; callers must not modify the dict)."""
    if not value.startswith(ALGORITHM + " "):
        return None
    out: dict[str, str] = {}
    for item in value[len(ALGORITHM) + 1 :].split(","):
        key, sep, val = item.strip().partition("=")
        if sep:
            out[key.strip()] = val.strip()
    return out


def credential_scope_service(
    headers: Iterable[tuple[str, str]],
    query: str | Mapping[str, str] | Iterable[tuple[str, str]],
    hmap: Mapping[str, list[str]] | None = None,
) -> tuple[str | None, str | None]:
    """(service, region) named by the request's credential scope; (None, None) when it is unsigned.

    ``query`` is the raw query string (or already-decoded pairs / mapping); ``hmap``: the headers as
    ``header_map`` builds them, when the caller has them already.
    """
    if hmap is None:
        hmap = header_map(headers)
    auth = first_header(hmap, "authorization")
    credential: str | None = None
    if auth:
        fields = _auth_header_fields(auth)
        if fields:
            credential = fields.get("Credential")
    else:
        credential = dict(parse_query(query) if isinstance(query, str) else query).get("X-Amz-Credential")
    parsed = _parse_credential(credential) if credential else None
    if not parsed:
        return None, None
    return parsed[3], parsed[2]


# ---------------------------------------------------------------------------------- verify


def verify(
    method: str,
    raw_path: str,
    raw_query: str,
    headers: list[tuple[str, str]],
    lookup: Callable[[str], Credentials | None],
    now: float | None = None,
    body_sha256: str | None = None,
    *,
    service: str | None = None,
    hmap: Mapping[str, list[str]] | None = None,
) -> AuthResult:
    """Verify a SigV4-signed request; return what it proved or raise ``AuthError``.

    ``body_sha256``: hex SHA-256 of the body when the caller has read it. Needed for non-S3 services
    (their canonical request carries the body hash); for S3 it lets the declared hash be checked here.
    ``service``: the service the router matched, used only to word the error for unsigned requests.
    ``hmap``: ``header_map(headers)`` when the caller has built it already.
    """
    now = time.time() if now is None else now
    if hmap is None:
        hmap = header_map(headers)
    pairs = parse_query(raw_query) if raw_query else []
    qmap = dict(pairs)
    auth_header = first_header(hmap, "authorization")

    if auth_header:
        signed = _from_header(auth_header, service)
    elif "X-Amz-Algorithm" in qmap or "X-Amz-Credential" in qmap or "X-Amz-Signature" in qmap:
        signed = _from_query(qmap, service)
    else:
        raise AuthErrors(service).missing()

    errors = AuthErrors(signed.service)
    if signed.presigned:
        timestamp = qmap.get("X-Amz-Date", "")
        request_time = parse_amz_date(timestamp)
        if request_time is None:
            raise errors.malformed_query(
                "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\""
            )
    else:
        timestamp, request_time = _header_time(hmap, errors)

    if timestamp[:8] != signed.date:
        raise errors.credential_date_mismatch(signed.date, timestamp)

    if signed.presigned:
        _check_presign_time(qmap, request_time, now, errors)
    elif abs(now - request_time) > MAX_SKEW_SECONDS:
        raise errors.skewed(request_time, now)

    creds = lookup(signed.access_key_id)
    if creds is None:
        raise errors.unknown_key(signed.access_key_id)
    if signed.presigned:
        token = qmap.get("X-Amz-Security-Token")
    else:
        token = first_header(hmap, "x-amz-security-token")
    if creds.session_token is not None:
        if not token or not hmac.compare_digest(token.encode(), creds.session_token.encode()):
            raise errors.bad_token(signed.access_key_id)
        if creds.expires_at is not None and now >= creds.expires_at:
            raise errors.expired_token(token)
    elif token:
        raise errors.bad_token(signed.access_key_id)

    _check_signed_headers(signed, hmap, errors)
    declared = first_header(hmap, "x-amz-content-sha256")
    payload_hash, mode, left_to_check = _payload(signed, declared, body_sha256, hmap, errors)

    if signed.presigned:
        canonical_pairs = [(k, v) for k, v in pairs if k != "X-Amz-Signature"]
    else:
        canonical_pairs = pairs
    canonical = canonical_request(
        method,
        canonical_uri(raw_path, signed.service),
        canonical_query_string(canonical_pairs),
        hmap,
        signed.signed_headers,
        payload_hash,
    )
    scope = f"{signed.date}/{signed.region}/{signed.service}/aws4_request"
    to_sign = string_to_sign(timestamp, scope, canonical)
    key = sign_key(creds.secret_access_key, signed.date, signed.region, signed.service)
    expected = signature(key, to_sign)
    if not hmac.compare_digest(expected.encode(), signed.signature.encode()):
        raise errors.signature(
            extra={
                "AWSAccessKeyId": signed.access_key_id,
                "StringToSign": to_sign,
                "SignatureProvided": signed.signature,
                "StringToSignBytes": " ".join(f"{b:02x}" for b in to_sign.encode()),
                "CanonicalRequest": canonical,
                "CanonicalRequestBytes": " ".join(f"{b:02x}" for b in canonical.encode()),
            }
        )

    trailer = first_header(hmap, "x-amz-trailer")
    streaming = mode.startswith("streaming-")
    return AuthResult(
        credentials=creds,
        service=signed.service,
        region=signed.region,
        signed_headers=signed.signed_headers,
        payload_mode=mode,
        declared_payload_sha256=left_to_check,
        seed_signature=signed.signature if streaming else None,
        signing_key=key if streaming else None,
        timestamp=timestamp,
        trailer_names=tuple(t.strip().lower() for t in trailer.split(",") if t.strip()) if trailer else (),
    )


def _from_header(value: str, service_hint: str | None) -> _Signed:
    fields = _auth_header_fields(value)
    if fields is None:
        hint_errors = AuthErrors(service_hint)
        if value.startswith("AWS "):
            raise hint_errors.malformed_query("Signature Version 2 is not supported; use AWS4-HMAC-SHA256.")
        raise hint_errors.malformed(f"Unsupported Authorization Type: {value.split(' ', 1)[0]}")
    credential = fields.get("Credential", "")
    parsed = _parse_credential(credential)
    if parsed is None:
        raise AuthErrors(service_hint).malformed(
            'the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".'
        )
    for name in ("SignedHeaders", "Signature"):
        if not fields.get(name):
            raise AuthErrors(parsed[3]).malformed(f"Authorization header requires '{name}' parameter.")
    return _Signed(*parsed, tuple(fields["SignedHeaders"].lower().split(";")), fields["Signature"], False)


def _from_query(qmap: Mapping[str, str], service_hint: str | None) -> _Signed:
    parsed = _parse_credential(qmap.get("X-Amz-Credential", ""))
    errors = AuthErrors(parsed[3] if parsed else service_hint)
    if qmap.get("X-Amz-Algorithm") != ALGORITHM:
        raise errors.malformed_query(
            'X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"'
            if "X-Amz-Algorithm" in qmap
            else "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, "
            "X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters."
        )
    if parsed is None:
        raise errors.malformed_query(
            "Error parsing the X-Amz-Credential parameter; the Credential is mal-formed; expecting "
            '"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".'
        )
    missing = [n for n in ("X-Amz-Date", "X-Amz-SignedHeaders", "X-Amz-Signature") if not qmap.get(n)]
    if missing or (errors.s3 and "X-Amz-Expires" not in qmap):
        raise errors.malformed_query(
            "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, "
            "X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters."
        )
    return _Signed(
        *parsed, tuple(qmap["X-Amz-SignedHeaders"].lower().split(";")), qmap["X-Amz-Signature"], True
    )


def _check_signed_headers(signed: _Signed, hmap: Mapping[str, list[str]], errors: AuthErrors) -> None:
    if "host" not in signed.signed_headers:
        raise errors.host_not_signed()
    if errors.s3 and not signed.presigned:
        unsigned = sorted(n for n in hmap if n.startswith("x-amz-") and n not in signed.signed_headers)
        if unsigned:
            raise errors.headers_not_signed(unsigned)


def _header_time(hmap: Mapping[str, list[str]], errors: AuthErrors) -> tuple[str, float]:
    header_date = first_header(hmap, "x-amz-date")
    if header_date:
        parsed = parse_amz_date(header_date)
        if parsed is not None:
            return header_date, parsed
    else:
        http_date = first_header(hmap, "date")
        if http_date:
            try:
                stamp = parsedate_to_datetime(http_date).timestamp()
            except (TypeError, ValueError):
                stamp = None
            if stamp is not None:
                return amz_date(stamp), stamp
    raise errors.missing_date()


def _check_presign_time(qmap: Mapping[str, str], request_time: float, now: float, errors: AuthErrors) -> None:
    raw = qmap.get("X-Amz-Expires")
    if raw is None:
        expires = MAX_PRESIGN_EXPIRES
    else:
        try:
            expires = int(raw)
        except ValueError:
            raise errors.malformed_query("X-Amz-Expires should be a number") from None
        if expires < 0:
            raise errors.malformed_query("X-Amz-Expires must be non-negative")
        if expires > MAX_PRESIGN_EXPIRES:
            raise errors.malformed_query("X-Amz-Expires must be less than a week (in seconds) that is 604800")
    if request_time - now > MAX_SKEW_SECONDS:
        raise errors.presign_not_yet_valid(request_time, now)
    if now > request_time + expires:
        raise errors.presign_expired(request_time, expires, now)


def _payload(
    signed: _Signed,
    declared: str | None,
    body_sha256: str | None,
    hmap: Mapping[str, list[str]],
    errors: AuthErrors,
) -> tuple[str, str, str | None]:
    """(hash used in the canonical request, payload_mode, hash left for the caller to check)."""
    if signed.presigned and (declared is None or "x-amz-content-sha256" not in signed.signed_headers):
        if errors.s3:
            return UNSIGNED_PAYLOAD, "presigned", None
        return body_sha256 or EMPTY_SHA256, "presigned", None
    if declared is None:
        if errors.s3:
            raise errors.missing_content_sha()
        if body_sha256 is None:
            length = first_header(hmap, "content-length")
            if length not in (None, "", "0") or first_header(hmap, "transfer-encoding"):
                raise ValueError("verify(): body_sha256 is required for a non-S3 request with a body")
            body_sha256 = EMPTY_SHA256
        return body_sha256, "signed", None
    mode = "presigned" if signed.presigned else PAYLOAD_MODES.get(declared, "signed")
    if declared in PAYLOAD_MODES:
        return declared, mode, None
    if not _HEX64.fullmatch(declared):
        raise errors.bad_content_sha()
    if body_sha256 is None:
        return declared, mode, declared
    if body_sha256 != declared:
        raise errors.content_sha_mismatch(declared, body_sha256)
    return declared, mode, None
