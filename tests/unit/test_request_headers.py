"""The request objects the gateway builds once per call: headers mapped in one pass for routing and
SigV4, request ids as random version-4 UUIDs."""

from __future__ import annotations

import uuid

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials

from sagestack.gateway.auth_errors import AuthError
from sagestack.gateway.sigv4 import Credentials, credential_scope_service, verify
from sagestack.protocol.http import Headers, new_request_id
from sagestack.protocol.signing import header_map, sha256_hex

AKID, SECRET = "AKIDHEADERSTEST01", "headers-secret"
CREDS = Credentials(AKID, SECRET, "123456789012", "arn:aws:iam::123456789012:user/u")


def test_multi_map_is_what_header_map_builds():
    raw = [
        (b"Host", b"localhost:5000"),
        (b"X-Amz-Meta-A", b"1"),
        (b"x-amz-meta-a", b"  two  "),
        (b"Content-Type", b"text/csv"),
    ]
    headers = Headers(raw)
    assert headers.multi == header_map(headers.raw)
    assert headers.multi["x-amz-meta-a"] == ["1", "  two  "]
    assert headers.get("X-AMZ-META-A") == "1,  two  " and headers["content-type"] == "text/csv"


def test_request_ids_are_distinct_version_4_uuids():
    ids = {new_request_id() for _ in range(2000)}
    assert len(ids) == 2000
    for value in list(ids)[:200]:
        parsed = uuid.UUID(value)
        assert str(parsed) == value and parsed.version == 4 and parsed.variant == uuid.RFC_4122


def _signed(body: bytes, secret: str = SECRET) -> tuple[str, list[tuple[str, str]]]:
    request = AWSRequest(
        "POST",
        "http://localhost:5000/endpoints/ep/invocations",
        data=body,
        headers={"Content-Type": "text/csv"},
    )
    SigV4Auth(BotoCredentials(AKID, secret), "sagemaker", "us-east-1").add_auth(request)
    headers = [(k, v) for k, v in request.headers.items()] + [("host", "localhost:5000")]
    return "/endpoints/ep/invocations", headers


def test_verify_with_the_prebuilt_map_matches_verify_without_it():
    path, raw = _signed(b"1,2,3")
    headers = Headers(raw)
    assert credential_scope_service(raw, "", headers.multi) == ("sagemaker", "us-east-1")
    body_hash = sha256_hex(b"1,2,3")
    plain = verify("POST", path, "", raw, lambda k: CREDS, body_sha256=body_hash)
    mapped = verify("POST", path, "", raw, lambda k: CREDS, body_sha256=body_hash, hmap=headers.multi)
    assert plain == mapped and mapped.service == "sagemaker"


def test_cached_parsing_still_rejects_a_bad_signature_every_time():
    """The Authorization fields are cached per value; the signature is still checked on every call."""
    path, raw = _signed(b"1,2,3", secret="not-the-secret")
    headers = Headers(raw)
    for _ in range(2):
        try:
            verify(
                "POST", path, "", raw, lambda k: CREDS, body_sha256=sha256_hex(b"1,2,3"), hmap=headers.multi
            )
        except AuthError as exc:
            assert exc.code == "InvalidSignatureException"
        else:
            raise AssertionError("a request signed with the wrong secret verified")
