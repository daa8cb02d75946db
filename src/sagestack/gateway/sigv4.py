"""Server-side AWS Signature Version 4 verification.

Pure functions over raw request data (no web framework): the gateway hands in the method, the path and
query exactly as they came on the wire, the header list, and a key lookup; it gets back an
``AuthResult`` or an ``AuthError`` carrying the AWS error code, message and HTTP status for the service
the request was signed for.

Covers header auth (``Authorization: AWS4-HMAC-SHA256 ...``), presigned URLs (``X-Amz-*`` query
parameters), every ``x-amz-content-sha256`` mode S3 accepts, temporary (STS) credentials, clock skew,
and the ``aws-chunked`` body encoding (``ChunkedDecoder``) with chunk and trailer signatures.

Canonical request rules, as botocore signs them:

* path: S3 signs the path as sent (no normalisation, no second encoding); every other service removes
  dot segments / duplicate slashes and URI-encodes the (already encoded) path once more.
* query: pairs split on ``&``/``=``, decoded, re-encoded per RFC 3986 (unreserved characters only),
  sorted by encoded key then value; a key without ``=`` gets an empty value.
* headers: the signed names, lower-cased; values trimmed, inner whitespace collapsed, repeated
  headers joined by ``,``.

Error wording differs by protocol family, as AWS's does: S3 (rest-xml codes such as
``SignatureDoesNotMatch`` / ``InvalidAccessKeyId``), query services (sts, iam, monitoring:
``SignatureDoesNotMatch`` / ``InvalidClientTokenId``, 403) and JSON services (sagemaker, logs, ...:
``InvalidSignatureException`` / ``UnrecognizedClientException``, 400).
"""

from __future__ import annotations

import calendar
import functools
import hashlib
import hmac
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from urllib.parse import quote, unquote

ALGORITHM = "AWS4-HMAC-SHA256"
EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
STREAMING_SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
STREAMING_SIGNED_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
STREAMING_UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
MAX_SKEW_SECONDS = 15 * 60
MAX_PRESIGN_EXPIRES = 604800

PAYLOAD_MODES = {
    UNSIGNED_PAYLOAD: "unsigned",
    STREAMING_SIGNED: "streaming-signed",
    STREAMING_SIGNED_TRAILER: "streaming-signed-trailer",
    STREAMING_UNSIGNED_TRAILER: "streaming-unsigned-trailer",
}

# Signing names of the services answering in the query protocol's error vocabulary.
QUERY_STYLE_SERVICES = frozenset({"sts", "iam", "monitoring", "sns", "sqs", "ec2", "autoscaling"})

_HEX64 = re.compile(r"[0-9a-f]{64}")
_HEX_SIZE = re.compile(r"[0-9a-fA-F]{1,16}")
_AMZ_DATE = "%Y%m%dT%H%M%SZ"
_S3_SIG_MESSAGE = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your key and signing method."
)
_SIG_MESSAGE = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)


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


class AuthError(Exception):
    """An authentication failure, worded as the AWS service answers it."""

    def __init__(self, code: str, message: str, status: int = 403, s3_extra: dict[str, str] | None = None):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.s3_extra: dict[str, str] = dict(s3_extra or {})


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


# ------------------------------------------------------------------------------------------- helpers


def sha256_hex(data: bytes | str) -> str:
    if isinstance(data, str):
        data = data.encode("utf-8")
    return hashlib.sha256(data).hexdigest()


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


@functools.lru_cache(maxsize=1024)
def sign_key(secret: str, date: str, region: str, service: str) -> bytes:
    """The SigV4 signing key for ``date`` (YYYYMMDD), region and service."""
    k_date = _hmac(("AWS4" + secret).encode("utf-8"), date)
    return _hmac(_hmac(_hmac(k_date, region), service), "aws4_request")


def _signature(key: bytes, string_to_sign: str) -> str:
    return hmac.new(key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def _uri_encode(value: str, safe: str = "") -> str:
    # RFC 3986 unreserved characters stay; everything else is %XX of its UTF-8 bytes (upper-case hex).
    return quote(value, safe=safe + "-_.~")


def _header_map(headers: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, value in headers:
        out.setdefault(name.strip().lower(), []).append(value)
    return out


def _first(hmap: Mapping[str, list[str]], name: str) -> str | None:
    values = hmap.get(name)
    return values[0].strip() if values else None


def _parse_query(raw_query: str) -> list[tuple[str, str]]:
    """Decoded (key, value) pairs in wire order; ``+`` is a literal plus, as SigV4 treats it."""
    pairs: list[tuple[str, str]] = []
    for part in raw_query.split("&"):
        if not part:
            continue
        key, _, value = part.partition("=")
        pairs.append((unquote(key), unquote(value)))
    return pairs


def canonical_query_string(pairs: Iterable[tuple[str, str]]) -> str:
    encoded = sorted((_uri_encode(k), _uri_encode(v)) for k, v in pairs)
    return "&".join(f"{k}={v}" for k, v in encoded)


def _remove_dot_segments(path: str) -> str:
    # RFC 3986 5.2.4, and collapse empty segments (AWS services treat "//" as "/"), as botocore does.
    if not path:
        return "/"
    out: list[str] = []
    for segment in path.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if out:
                out.pop()
        else:
            out.append(segment)
    first = "/" if path.startswith("/") else ""
    last = "/" if path.endswith("/") and out else ""
    return first + "/".join(out) + last


def canonical_uri(raw_path: str, service: str) -> str:
    if service == "s3":
        return raw_path or "/"
    return _uri_encode(_remove_dot_segments(raw_path), safe="/")


def canonical_headers(hmap: Mapping[str, list[str]], signed: Iterable[str]) -> str:
    lines = []
    for name in signed:
        values = hmap.get(name, [])
        lines.append(f"{name}:" + ",".join(" ".join(v.split()) for v in values))
    return "\n".join(lines) + "\n"


def canonical_request(
    method: str,
    uri: str,
    query: str,
    hmap: Mapping[str, list[str]],
    signed: tuple[str, ...],
    payload_hash: str,
) -> str:
    return "\n".join(
        [method.upper(), uri, query, canonical_headers(hmap, signed), ";".join(signed), payload_hash]
    )


def string_to_sign(timestamp: str, scope: str, canonical: str) -> str:
    return "\n".join([ALGORITHM, timestamp, scope, sha256_hex(canonical)])


def _fmt(epoch: float) -> str:
    return time.strftime(_AMZ_DATE, time.gmtime(epoch))


@functools.lru_cache(maxsize=4096)
def _parse_amz_date(value: str) -> float | None:
    try:
        return float(calendar.timegm(time.strptime(value, _AMZ_DATE)))
    except ValueError:
        return None


def _iso_ms(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


# ----------------------------------------------------------------------------- error vocabulary


class _Errors:
    """Builds AuthErrors in the vocabulary of the service family the request was signed for."""

    def __init__(self, service: str | None):
        self.service = service or ""
        self.s3 = service == "s3"
        self.json = not self.s3 and self.service not in QUERY_STYLE_SERVICES

    def _coded(self, base: str, message: str, json_status: int = 400, query_status: int = 403) -> AuthError:
        if self.json:
            return AuthError(base + "Exception", message, json_status)
        return AuthError(base, message, query_status)

    def missing(self) -> AuthError:
        if self.s3:
            return AuthError("AccessDenied", "Access Denied", 403)
        if self.json:
            return AuthError("MissingAuthenticationTokenException", "Missing Authentication Token", 403)
        return AuthError("MissingAuthenticationToken", "Request is missing Authentication Token", 403)

    def malformed(self, message: str) -> AuthError:
        if self.s3:
            return AuthError(
                "AuthorizationHeaderMalformed", f"The authorization header is malformed; {message}", 400
            )
        return self._coded("IncompleteSignature", message, 400, 400)

    def malformed_query(self, message: str) -> AuthError:
        if self.s3:
            return AuthError("AuthorizationQueryParametersError", message, 400)
        return self._coded("IncompleteSignature", message, 400, 400)

    def unknown_key(self, access_key_id: str) -> AuthError:
        if self.s3:
            return AuthError(
                "InvalidAccessKeyId",
                "The AWS Access Key Id you provided does not exist in our records.",
                403,
                {"AWSAccessKeyId": access_key_id},
            )
        message = "The security token included in the request is invalid."
        return AuthError(
            *(
                ("UnrecognizedClientException", message, 400)
                if self.json
                else ("InvalidClientTokenId", message, 403)
            )
        )

    def bad_token(self, access_key_id: str) -> AuthError:
        if self.s3:
            return AuthError("InvalidToken", "The provided token is malformed or otherwise invalid.", 400)
        return self.unknown_key(access_key_id)

    def expired_token(self, token: str) -> AuthError:
        if self.s3:
            return AuthError("ExpiredToken", "The provided token has expired.", 400, {"Token-0": token})
        message = "The security token included in the request is expired"
        return self._coded("ExpiredToken", message, 400, 403)

    def signature(self, message: str | None = None, extra: dict[str, str] | None = None) -> AuthError:
        if self.s3:
            return AuthError("SignatureDoesNotMatch", message or _S3_SIG_MESSAGE, 403, extra)
        if self.json:
            return AuthError("InvalidSignatureException", message or _SIG_MESSAGE, 400)
        return AuthError("SignatureDoesNotMatch", message or _SIG_MESSAGE, 403)

    def skewed(self, request_time: float, now: float) -> AuthError:
        if self.s3:
            return AuthError(
                "RequestTimeTooSkewed",
                "The difference between the request time and the current time is too large.",
                403,
                {
                    "RequestTime": _fmt(request_time),
                    "ServerTime": _iso_ms(now),
                    "MaxAllowedSkewMilliseconds": str(MAX_SKEW_SECONDS * 1000),
                },
            )
        if request_time < now:
            message = (
                f"Signature expired: {_fmt(request_time)} is now earlier than "
                f"{_fmt(now - MAX_SKEW_SECONDS)} ({_fmt(now)} - 15 min.)"
            )
        else:
            message = (
                f"Signature not yet current: {_fmt(request_time)} is still later than "
                f"{_fmt(now + MAX_SKEW_SECONDS)} ({_fmt(now)} + 15 min.)"
            )
        return self.signature(message)

    def content_sha_mismatch(self, declared: str, computed: str) -> AuthError:
        if self.s3:
            return AuthError(
                "XAmzContentSHA256Mismatch",
                "The provided 'x-amz-content-sha256' header does not match what was computed.",
                400,
                {"ClientComputedContentSHA256": declared, "S3ComputedContentSHA256": computed},
            )
        return self.signature()

    def bad_content_sha(self) -> AuthError:
        if self.s3:
            return AuthError(
                "InvalidArgument",
                "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, "
                "STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, "
                "or a valid sha256 value.",
                400,
                {"ArgumentName": "x-amz-content-sha256"},
            )
        return self.signature()


def content_sha256_mismatch(service: str, declared: str, computed: str) -> AuthError:
    """The error for a body whose hash differs from the declared one (for callers checking later)."""
    return _Errors(service).content_sha_mismatch(declared, computed)


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


def _parse_credential(value: str) -> tuple[str, str, str, str] | None:
    parts = value.split("/")
    if len(parts) != 5 or parts[4] != "aws4_request" or not all(parts[:4]):
        return None
    return parts[0], parts[1], parts[2], parts[3]


def _auth_header_fields(value: str) -> dict[str, str] | None:
    if not value.startswith(ALGORITHM + " "):
        return None
    out: dict[str, str] = {}
    for item in value[len(ALGORITHM) + 1 :].split(","):
        key, sep, val = item.strip().partition("=")
        if sep:
            out[key.strip()] = val.strip()
    return out


def credential_scope_service(
    headers: Iterable[tuple[str, str]], query: str | Mapping[str, str] | Iterable[tuple[str, str]]
) -> tuple[str | None, str | None]:
    """(service, region) named by the request's credential scope; (None, None) when it is unsigned.

    ``query`` is the raw query string (or already-decoded pairs / mapping).
    """
    hmap = _header_map(headers)
    auth = _first(hmap, "authorization")
    credential: str | None = None
    if auth:
        fields = _auth_header_fields(auth)
        if fields:
            credential = fields.get("Credential")
    else:
        credential = dict(_parse_query(query) if isinstance(query, str) else query).get("X-Amz-Credential")
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
) -> AuthResult:
    """Verify a SigV4-signed request; return what it proved or raise ``AuthError``.

    ``body_sha256``: hex SHA-256 of the body when the caller has read it. Needed for non-S3 services
    (their canonical request carries the body hash); for S3 it lets the declared hash be checked here.
    ``service``: the service the router matched, used only to word the error for unsigned requests.
    """
    now = time.time() if now is None else now
    hmap = _header_map(headers)
    pairs = _parse_query(raw_query)
    qmap = dict(pairs)
    auth_header = _first(hmap, "authorization")

    if auth_header:
        signed = _from_header(auth_header, service)
    elif "X-Amz-Algorithm" in qmap or "X-Amz-Credential" in qmap or "X-Amz-Signature" in qmap:
        signed = _from_query(qmap, service)
    else:
        raise _Errors(service).missing()

    errors = _Errors(signed.service)
    if signed.presigned:
        timestamp = qmap.get("X-Amz-Date", "")
        request_time = _parse_amz_date(timestamp)
        if request_time is None:
            raise errors.malformed_query(
                "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\""
            )
    else:
        timestamp, request_time = _header_time(hmap, errors)

    if timestamp[:8] != signed.date:
        if errors.s3:
            raise errors.malformed("Invalid credential date. Date is not the same as X-Amz-Date.")
        raise errors.signature(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
            f"'{signed.date}' != '{timestamp[:8]}', from '{timestamp}'."
        )

    if signed.presigned:
        _check_presign_time(qmap, request_time, now, errors)
    elif abs(now - request_time) > MAX_SKEW_SECONDS:
        raise errors.skewed(request_time, now)

    creds = lookup(signed.access_key_id)
    if creds is None:
        raise errors.unknown_key(signed.access_key_id)
    token = qmap.get("X-Amz-Security-Token") if signed.presigned else _first(hmap, "x-amz-security-token")
    if creds.session_token is not None:
        if not token or not hmac.compare_digest(token.encode(), creds.session_token.encode()):
            raise errors.bad_token(signed.access_key_id)
        if creds.expires_at is not None and now >= creds.expires_at:
            raise errors.expired_token(token)
    elif token:
        raise errors.bad_token(signed.access_key_id)

    _check_signed_headers(signed, hmap, errors)
    declared = _first(hmap, "x-amz-content-sha256")
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
    expected = _signature(key, to_sign)
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

    trailer = _first(hmap, "x-amz-trailer")
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
    hint_errors = _Errors(service_hint)
    if fields is None:
        if value.startswith("AWS "):
            raise hint_errors.malformed_query("Signature Version 2 is not supported; use AWS4-HMAC-SHA256.")
        raise hint_errors.malformed(f"Unsupported Authorization Type: {value.split(' ', 1)[0]}")
    credential = fields.get("Credential", "")
    parsed = _parse_credential(credential)
    if parsed is None:
        raise hint_errors.malformed(
            'the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".'
        )
    for name in ("SignedHeaders", "Signature"):
        if not fields.get(name):
            raise _Errors(parsed[3]).malformed(f"Authorization header requires '{name}' parameter.")
    return _Signed(*parsed, tuple(fields["SignedHeaders"].lower().split(";")), fields["Signature"], False)


def _from_query(qmap: Mapping[str, str], service_hint: str | None) -> _Signed:
    parsed = _parse_credential(qmap.get("X-Amz-Credential", ""))
    errors = _Errors(parsed[3] if parsed else service_hint)
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


def _check_signed_headers(signed: _Signed, hmap: Mapping[str, list[str]], errors: _Errors) -> None:
    if "host" not in signed.signed_headers:
        if errors.s3:
            raise errors.malformed("the SignedHeaders must include 'host'.")
        raise errors.malformed("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
    if errors.s3 and not signed.presigned:
        unsigned = sorted(n for n in hmap if n.startswith("x-amz-") and n not in signed.signed_headers)
        if unsigned:
            raise AuthError(
                "AccessDenied",
                "There were headers present in the request which were not signed",
                403,
                {"HeadersNotSigned": ", ".join(unsigned)},
            )


def _header_time(hmap: Mapping[str, list[str]], errors: _Errors) -> tuple[str, float]:
    amz_date = _first(hmap, "x-amz-date")
    if amz_date:
        parsed = _parse_amz_date(amz_date)
        if parsed is not None:
            return amz_date, parsed
    else:
        http_date = _first(hmap, "date")
        if http_date:
            try:
                stamp = parsedate_to_datetime(http_date).timestamp()
            except (TypeError, ValueError):
                stamp = None
            if stamp is not None:
                return _fmt(stamp), stamp
    if errors.s3:
        raise AuthError("AccessDenied", "AWS authentication requires a valid Date or x-amz-date header", 403)
    raise errors.malformed(
        "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
    )


def _check_presign_time(qmap: Mapping[str, str], request_time: float, now: float, errors: _Errors) -> None:
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
        if errors.s3:
            raise AuthError("AccessDenied", "Request is not valid yet", 403)
        raise errors.skewed(request_time, now)
    if now > request_time + expires:
        if errors.s3:
            raise AuthError(
                "AccessDenied",
                "Request has expired",
                403,
                {
                    "X-Amz-Expires": str(expires),
                    "Expires": _iso_ms(request_time + expires),
                    "ServerTime": _iso_ms(now),
                },
            )
        raise errors.signature(
            f"Signature expired: {_fmt(request_time + expires)} is now earlier than {_fmt(now)}."
        )


def _payload(
    signed: _Signed,
    declared: str | None,
    body_sha256: str | None,
    hmap: Mapping[str, list[str]],
    errors: _Errors,
) -> tuple[str, str, str | None]:
    """(hash used in the canonical request, payload_mode, hash left for the caller to check)."""
    if signed.presigned and (declared is None or "x-amz-content-sha256" not in signed.signed_headers):
        if errors.s3:
            return UNSIGNED_PAYLOAD, "presigned", None
        return body_sha256 or EMPTY_SHA256, "presigned", None
    if declared is None:
        if errors.s3:
            raise AuthError(
                "InvalidRequest", "Missing required header for this request: x-amz-content-sha256", 400
            )
        if body_sha256 is None:
            if _first(hmap, "content-length") not in (None, "", "0") or _first(hmap, "transfer-encoding"):
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


# --------------------------------------------------------------------------- aws-chunked decoding

_MAX_LINE = 4096
_MAX_TRAILER_BYTES = 16 * 1024
_HEADER, _DATA, _DATA_CRLF, _FINAL_CRLF, _TRAILER, _DONE = range(6)


class ChunkedDecoder:
    """Incremental decoder for ``Content-Encoding: aws-chunked`` bodies.

    Feed the body (after any HTTP ``Transfer-Encoding: chunked`` framing was removed by the server) in
    pieces of any size; ``feed`` returns the payload bytes decoded so far. Memory is bounded by the size
    of the pieces fed plus one header line: chunk data is passed through as it arrives and hashed
    incrementally, so a chunk's bytes are only authenticated once its end has been seen. Callers write
    to a temporary location and must discard everything when ``feed`` or ``finish`` raises.

    Wire format (``[...]`` only when signed)::

        <hex-size>[;chunk-signature=<sig>]\\r\\n<data>\\r\\n      ... repeated ...
        0[;chunk-signature=<sig>]\\r\\n
        then, for signed streaming without trailer: \\r\\n
        else trailer lines  name:value\\r\\n  ([x-amz-trailer-signature:<sig>\\r\\n] when signed)  and \\r\\n
    """

    def __init__(
        self,
        mode: str,
        *,
        signing_key: bytes | None = None,
        seed_signature: str | None = None,
        timestamp: str | None = None,
        scope: str | None = None,
        decoded_length: int | None = None,
    ):
        if mode not in ("streaming-signed", "streaming-signed-trailer", "streaming-unsigned-trailer"):
            raise ValueError(f"not a streaming payload mode: {mode!r}")
        self.signed = mode != "streaming-unsigned-trailer"
        self.has_trailer = mode.endswith("-trailer")
        if self.signed and not (signing_key and seed_signature and timestamp and scope):
            raise ValueError("signed streaming needs signing_key, seed_signature, timestamp and scope")
        self._key = signing_key
        self._prev = seed_signature
        self._timestamp = timestamp
        self._scope = scope
        self._expected_length = decoded_length
        self._buf = bytearray()
        self._state = _HEADER
        self._remaining = 0
        self._chunk_sig: str | None = None
        self._hash = hashlib.sha256()
        self._trailer_bytes = 0
        self._trailer_lines: list[tuple[str, str]] = []
        self._trailer_sig: str | None = None
        self.decoded_bytes = 0
        self.trailers: dict[str, str] = {}

    @classmethod
    def for_auth(cls, auth: AuthResult, decoded_length: int | None = None) -> ChunkedDecoder:
        return cls(
            auth.payload_mode,
            signing_key=auth.signing_key,
            seed_signature=auth.seed_signature,
            timestamp=auth.timestamp,
            scope=auth.scope,
            decoded_length=decoded_length,
        )

    @property
    def done(self) -> bool:
        return self._state == _DONE

    def feed(self, data: bytes) -> bytes:
        if not isinstance(data, bytes):
            data = bytes(data)
        out = bytearray()
        view = memoryview(data)
        pos = 0
        end = len(view)
        while pos < end:
            state = self._state
            if state == _DATA:
                take = min(self._remaining, end - pos)
                piece = view[pos : pos + take]
                if self.signed:
                    self._hash.update(piece)
                out += piece
                pos += take
                self._remaining -= take
                self.decoded_bytes += take
                if self._expected_length is not None and self.decoded_bytes > self._expected_length:
                    raise _framing("more data than x-amz-decoded-content-length")
                if self._remaining == 0:
                    self._state = _DATA_CRLF
                continue
            if state == _DONE:
                if data[pos:end].strip(b"\r\n"):
                    raise _framing("data after the end of the aws-chunked body")
                break
            # line-oriented states: accumulate up to CRLF
            nl = data.find(b"\n", pos)
            if nl < 0:
                self._buf += view[pos:end]
                self._check_partial()
                break
            self._buf += view[pos : nl + 1]
            pos = nl + 1
            self._check_partial()
            line = bytes(self._buf)
            self._buf.clear()
            if not line.endswith(b"\r\n"):
                raise _framing("aws-chunked lines must end with CRLF")
            self._line(line[:-2])
        return bytes(out)

    def finish(self) -> None:
        """Raise unless the body was complete (and every signature checked)."""
        if self._state == _TRAILER and not self._buf and (self._trailer_lines or self._trailer_sig):
            # tolerate a missing blank line after the trailers
            self._end_trailer()
        if self._state != _DONE or self._buf:
            raise AuthError("IncompleteBody", "The request body terminated unexpectedly", 400)
        if self._expected_length is not None and self.decoded_bytes != self._expected_length:
            raise AuthError(
                "IncompleteBody",
                "You did not provide the number of bytes specified by the x-amz-decoded-content-length HTTP header",
                400,
            )

    # ----------------------------------------------------------------------------------- internals

    def _check_partial(self) -> None:
        if self._state in (_DATA_CRLF, _FINAL_CRLF):
            if not b"\r\n".startswith(bytes(self._buf[:3])):
                raise _framing("chunk data longer than its declared size")
            return
        limit = _MAX_TRAILER_BYTES if self._state == _TRAILER else _MAX_LINE
        if len(self._buf) > limit:
            raise _framing("aws-chunked header line too long")

    def _line(self, line: bytes) -> None:
        state = self._state
        if state == _HEADER:
            self._chunk_header(line)
        elif state == _DATA_CRLF:
            if line:
                raise _framing("chunk data longer than its declared size")
            self._end_chunk()
        elif state == _FINAL_CRLF:
            if line:
                raise _framing("unexpected data after the final chunk")
            self._state = _DONE
        elif state == _TRAILER:
            self._trailer_line(line)

    def _chunk_header(self, line: bytes) -> None:
        text = line.decode("latin-1")
        size_text, _, ext = text.partition(";")
        if not _HEX_SIZE.fullmatch(size_text.strip()):
            raise _framing(f"invalid chunk size {size_text[:32]!r}")
        size = int(size_text, 16)
        sig = None
        for item in ext.split(";") if ext else ():
            name, _, value = item.strip().partition("=")
            if name == "chunk-signature":
                sig = value.strip()
        if self.signed and not sig:
            raise _framing("chunk is missing its chunk-signature")
        self._chunk_sig = sig
        if size:
            self._remaining = size
            self._state = _DATA
            return
        # final zero-length chunk
        self._end_chunk()
        if self.has_trailer:
            self._state = _TRAILER
        else:
            self._state = _FINAL_CRLF

    def _check(self, kind: str, last_hash: str, provided: str | None) -> str:
        parts = [kind, self._timestamp or "", self._scope or "", self._prev or ""]
        if kind == "AWS4-HMAC-SHA256-PAYLOAD":
            parts.append(EMPTY_SHA256)
        to_sign = "\n".join([*parts, last_hash])
        expected = _signature(self._key or b"", to_sign)
        if not hmac.compare_digest(expected.encode(), (provided or "").encode()):
            raise AuthError("SignatureDoesNotMatch", _S3_SIG_MESSAGE, 403, {"StringToSign": to_sign})
        return expected

    def _end_chunk(self) -> None:
        if self.signed:
            self._prev = self._check("AWS4-HMAC-SHA256-PAYLOAD", self._hash.hexdigest(), self._chunk_sig)
            self._hash = hashlib.sha256()
        self._state = _HEADER

    def _trailer_line(self, line: bytes) -> None:
        if not line:
            self._end_trailer()
            return
        self._trailer_bytes += len(line)
        if self._trailer_bytes > _MAX_TRAILER_BYTES:
            raise _framing("aws-chunked trailer too long")
        name, sep, value = line.decode("latin-1").partition(":")
        if not sep:
            raise _framing("malformed trailing header")
        name, value = name.strip().lower(), value.strip()
        if name == "x-amz-trailer-signature":
            self._trailer_sig = value
        else:
            if self._trailer_sig is not None:
                raise _framing("trailing header after the trailer signature")
            self._trailer_lines.append((name, value))

    def _end_trailer(self) -> None:
        if self.signed:
            canonical = "".join(f"{n}:{v}\n" for n, v in self._trailer_lines)
            self._check("AWS4-HMAC-SHA256-TRAILER", sha256_hex(canonical), self._trailer_sig)
        self.trailers = dict(self._trailer_lines)
        self._state = _DONE


def _framing(message: str) -> AuthError:
    return AuthError("IncompleteBody", f"The aws-chunked body is malformed: {message}", 400)
