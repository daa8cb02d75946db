"""AWS Signature Version 4: the canonical request and the signing math, as pure functions.

Canonical request rules, as botocore signs them:

* path: S3 signs the path as sent (no normalisation, no second encoding); every other service removes
  dot segments / duplicate slashes and URI-encodes the (already encoded) path once more.
* query: pairs split on ``&``/``=``, decoded, re-encoded per RFC 3986 (unreserved characters only),
  sorted by encoded key then value; a key without ``=`` gets an empty value.
* headers: the signed names, lower-cased; values trimmed, inner whitespace collapsed, repeated
  headers joined by ``,``.

The verifier (``gateway/sigv4.py``) and the aws-chunked decoder (``protocol/aws_chunked.py``) sign with
these; neither this module nor the decoder words errors.
"""

from __future__ import annotations

import calendar
import functools
import hashlib
import hmac
import time
from collections.abc import Iterable, Mapping
from urllib.parse import quote, unquote

ALGORITHM = "AWS4-HMAC-SHA256"
EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
AMZ_DATE = "%Y%m%dT%H%M%SZ"
MAX_SKEW_SECONDS = 15 * 60  # how far a request's time may be from the server's


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


def signature(key: bytes, string_to_sign: str) -> str:
    return hmac.new(key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def uri_encode(value: str, safe: str = "") -> str:
    # RFC 3986 unreserved characters stay; everything else is %XX of its UTF-8 bytes (upper-case hex).
    return quote(value, safe=safe + "-_.~")


def header_map(headers: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """Lower-cased header name → its values, in wire order."""
    out: dict[str, list[str]] = {}
    for name, value in headers:
        out.setdefault(name.strip().lower(), []).append(value)
    return out


def first_header(hmap: Mapping[str, list[str]], name: str) -> str | None:
    values = hmap.get(name)
    return values[0].strip() if values else None


def parse_query(raw_query: str) -> list[tuple[str, str]]:
    """Decoded (key, value) pairs in wire order; ``+`` is a literal plus, as SigV4 treats it."""
    pairs: list[tuple[str, str]] = []
    for part in raw_query.split("&"):
        if not part:
            continue
        key, _, value = part.partition("=")
        pairs.append((unquote(key), unquote(value)))
    return pairs


def canonical_query_string(pairs: Iterable[tuple[str, str]]) -> str:
    if not pairs:
        return ""
    encoded = sorted((uri_encode(k), uri_encode(v)) for k, v in pairs)
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


@functools.lru_cache(maxsize=1024)
def canonical_uri(raw_path: str, service: str) -> str:
    if service == "s3":
        return raw_path or "/"
    return uri_encode(_remove_dot_segments(raw_path), safe="/")


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


def amz_date(epoch: float) -> str:
    """``YYYYMMDDTHHMMSSZ`` (UTC), the form of ``X-Amz-Date``."""
    return time.strftime(AMZ_DATE, time.gmtime(epoch))


@functools.lru_cache(maxsize=4096)
def parse_amz_date(value: str) -> float | None:
    try:
        return float(calendar.timegm(time.strptime(value, AMZ_DATE)))
    except ValueError:
        return None
