"""S3's legacy Signature Version 2: what boto3 still uses for ``generate_presigned_url`` by default
(``?AWSAccessKeyId=…&Signature=…&Expires=…``), and the ``Authorization: AWS key:signature`` header.

StringToSign = Method \\n Content-MD5 \\n Content-Type \\n Expires|Date \\n CanonicalizedAmzHeaders
CanonicalizedResource; the signature is base64(HMAC-SHA1(secret, StringToSign)).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable, Iterable
from email.utils import parsedate_to_datetime
from urllib.parse import parse_qsl

from .auth_errors import AuthError
from .sigv4 import AuthResult, Credentials

#: Sub-resources and response overrides that are part of the canonicalized resource.
SUB_RESOURCES = frozenset(
    {
        "acl",
        "cors",
        "delete",
        "lifecycle",
        "location",
        "logging",
        "notification",
        "partNumber",
        "policy",
        "requestPayment",
        "response-cache-control",
        "response-content-disposition",
        "response-content-encoding",
        "response-content-language",
        "response-content-type",
        "response-expires",
        "restore",
        "tagging",
        "torrent",
        "uploadId",
        "uploads",
        "versionId",
        "versioning",
        "versions",
        "website",
        "object-lock",
        "retention",
        "legal-hold",
        "select",
        "select-type",
    }
)
MAX_SKEW_SECONDS = 15 * 60


def is_sigv2(headers: Iterable[tuple[str, str]], raw_query: str) -> bool:
    if "AWSAccessKeyId=" in raw_query and "Signature=" in raw_query:
        return True
    for name, value in headers:
        if name.lower() == "authorization":
            return value.startswith("AWS ") and not value.startswith("AWS4-")
    return False


def _canonical_resource(raw_path: str, pairs: list[tuple[str, str]]) -> str:
    subs = sorted((k, v) for k, v in pairs if k in SUB_RESOURCES)
    if not subs:
        return raw_path
    return raw_path + "?" + "&".join(f"{k}={v}" if v else k for k, v in subs)


def _amz_headers(headers: list[tuple[str, str]]) -> str:
    grouped: dict[str, list[str]] = {}
    for name, value in headers:
        lowered = name.lower()
        if lowered.startswith("x-amz-"):
            grouped.setdefault(lowered, []).append(" ".join(value.strip().split()))
    return "".join(f"{k}:{','.join(v)}\n" for k, v in sorted(grouped.items()))


def verify(
    method: str,
    raw_path: str,
    raw_query: str,
    headers: list[tuple[str, str]],
    lookup: Callable[[str], Credentials | None],
    region: str,
    now: float | None = None,
) -> AuthResult:
    now = time.time() if now is None else now
    pairs = parse_qsl(raw_query, keep_blank_values=True)
    query = dict(pairs)
    hmap = {k.lower(): v for k, v in headers}
    if "AWSAccessKeyId" in query:
        key_id, signature = query["AWSAccessKeyId"], query.get("Signature", "")
        expires = query.get("Expires", "")
        try:
            expires_at = int(expires)
        except ValueError:
            raise AuthError(
                "AccessDenied",
                "Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters",
                403,
            ) from None
        if now > expires_at:
            raise AuthError(
                "AccessDenied",
                "Request has expired",
                403,
                {"Expires": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expires_at))},
            )
        when = expires
        token = query.get("x-amz-security-token") or hmap.get("x-amz-security-token")
    else:
        scheme, _, credential = hmap["authorization"].partition(" ")
        key_id, _, signature = credential.partition(":")
        date_text = hmap.get("x-amz-date") or hmap.get("date") or ""
        try:
            request_time = parsedate_to_datetime(date_text).timestamp()
        except (TypeError, ValueError):
            raise AuthError(
                "AccessDenied", "AWS authentication requires a valid Date or x-amz-date header", 403
            ) from None
        if abs(now - request_time) > MAX_SKEW_SECONDS:
            raise AuthError(
                "RequestTimeTooSkewed",
                "The difference between the request time and the current time is too large.",
                403,
            )
        when = "" if "x-amz-date" in hmap else date_text
        token = hmap.get("x-amz-security-token")
    credentials = lookup(key_id)
    if credentials is None:
        raise AuthError(
            "InvalidAccessKeyId",
            "The AWS Access Key Id you provided does not exist in our records.",
            403,
            {"AWSAccessKeyId": key_id},
        )
    if credentials.session_token and token != credentials.session_token:
        raise AuthError("InvalidToken", "The provided token is malformed or otherwise invalid.", 400)
    if credentials.expires_at is not None and now > credentials.expires_at:
        raise AuthError("ExpiredToken", "The provided token has expired.", 400)
    string_to_sign = "\n".join(
        [
            method,
            hmap.get("content-md5", ""),
            hmap.get("content-type", ""),
            when,
            _amz_headers(headers) + _canonical_resource(raw_path, pairs),
        ]
    )
    expected = base64.b64encode(
        hmac.new(credentials.secret_access_key.encode(), string_to_sign.encode(), hashlib.sha1).digest()
    ).decode()
    if not hmac.compare_digest(expected, signature):
        raise AuthError(
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the "
            "signature you provided. Check your key and signing method.",
            403,
            {"AWSAccessKeyId": key_id, "StringToSign": string_to_sign},
        )
    return AuthResult(
        credentials=credentials,
        service="s3",
        region=region,
        signed_headers=(),
        payload_mode="presigned" if "AWSAccessKeyId" in query else "unsigned",
        declared_payload_sha256=None,
        seed_signature=None,
        signing_key=None,
        timestamp=time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now)),
    )
