"""SigV4 verification against requests signed by botocore itself, and AWS's published examples.

Requests are produced by real boto3 clients with a ``before-send`` hook that captures the prepared
request (exactly what would go on the wire) and answers with a minimal 200, so no network is used.
"""

from __future__ import annotations

import base64
import calendar
import dataclasses
import hashlib
import hmac
import time
import zlib
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth, SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest, AWSResponse
from botocore.config import Config
from botocore.credentials import Credentials as BotoCredentials

from sagestack.gateway.auth_errors import AuthError
from sagestack.gateway.sigv4 import AuthResult, Credentials, credential_scope_service, verify
from sagestack.protocol.aws_chunked import (
    ChunkedBodyError,
    ChunkedDecoder,
    ChunkSignatureMismatch,
    LengthMismatch,
    MalformedBody,
    TruncatedBody,
)
from sagestack.protocol.signing import EMPTY_SHA256, sha256_hex, sign_key
from sagestack.services.s3.errors import s3_error

AKID = "AKIDSAGESTACKTEST01"
SECRET = "sEcReT/KeY+with/odd=chars"
ACCOUNT = "123456789012"
USER = Credentials(AKID, SECRET, ACCOUNT, f"arn:aws:iam::{ACCOUNT}:user/alice")
TEMP = Credentials(
    "ASIATEMPORARYKEY0001",
    "tempsecret",
    ACCOUNT,
    f"arn:aws:sts::{ACCOUNT}:assumed-role/r/s",
    session_token="FwoGZXIvYXdzEJr//////////token+/=",
    expires_at=time.time() + 3600,
)
KEYS = {c.access_key_id: c for c in (USER, TEMP)}
ENDPOINT = "http://127.0.0.1:9"
ODD_KEY = "dir/a b+c=d/ü€~(1)!*'.txt"


def lookup(akid: str) -> Credentials | None:
    return KEYS.get(akid)


# ------------------------------------------------------------------------------------------ helpers


class _Raw:
    def __init__(self, body: bytes):
        self.body = body

    def stream(self, **_kwargs):
        yield self.body


def capture(service: str, call, *, creds: Credentials = USER, endpoint: str = ENDPOINT, config=None, **kw):
    """Run one boto3 call and return the prepared (signed) request it would have sent."""
    client = boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=creds.access_key_id,
        aws_secret_access_key=creds.secret_access_key,
        aws_session_token=creds.session_token,
        config=config or Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
        verify=False,
    )
    seen = []

    def before_send(request, **_):
        seen.append(request)
        op = client.meta.method_to_api_mapping[call]
        if service in ("sts", "iam"):
            body = f"<{op}Response><{op}Result/></{op}Response>".encode()
        else:
            body = b"<R/>" if service == "s3" else b"{}"
        headers = {"Content-Type": "text/xml" if body.startswith(b"<") else "application/json"}
        return AWSResponse(request.url, 200, headers, _Raw(body))

    client.meta.events.register("before-send", before_send)
    getattr(client, call)(**kw)
    assert seen, "no request captured"
    return seen[-1]


def wire(prepared) -> tuple[str, str, str, list[tuple[str, str]]]:
    """(method, raw_path, raw_query, headers) as a server sees them; the HTTP client adds Host."""
    parts = urlsplit(prepared.url)
    headers = [(k, v.decode() if isinstance(v, bytes) else v) for k, v in prepared.headers.items()]
    if not any(k.lower() == "host" for k, _ in headers):
        headers.append(("Host", parts.netloc))
    return prepared.method, parts.path, parts.query, headers


def body_bytes(prepared) -> bytes:
    body = prepared.body
    if body is None:
        return b""
    if isinstance(body, (bytes, bytearray)):
        return bytes(body)
    if isinstance(body, str):
        return body.encode()
    return body.read()


def check(prepared, *, now=None, with_body=True, **kw) -> AuthResult:
    method, path, query, headers = wire(prepared)
    body = body_bytes(prepared) if with_body else None
    return verify(
        method,
        path,
        query,
        headers,
        lookup,
        now=now,
        body_sha256=sha256_hex(body) if with_body else None,
        **kw,
    )


def sign_raw(signer_cls, service: str, url: str, *, method="GET", body=b"", headers=None, creds=USER, **kw):
    request = AWSRequest(method=method, url=url, data=body, headers=headers or {})
    signer_cls(
        BotoCredentials(creds.access_key_id, creds.secret_access_key, creds.session_token),
        service,
        "us-east-1",
        **kw,
    ).add_auth(request)
    return request.prepare()


def epoch(stamp: str) -> float:
    return float(calendar.timegm(time.strptime(stamp, "%Y%m%dT%H%M%SZ")))


# --------------------------------------------------------------------------------- known answers


def test_signing_key_matches_aws_documentation_example():
    key = sign_key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20150830", "us-east-1", "iam")
    assert key.hex() == "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"


DOC_CREDS = Credentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ACCOUNT, "arn")


def _doc_headers(signed_headers: str, seed: str, content_sha: str, extra=()):
    return [
        ("Host", "s3.amazonaws.com"),
        ("x-amz-date", "20130524T000000Z"),
        ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
        (
            "Authorization",
            (
                "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
                f"SignedHeaders={signed_headers},Signature={seed}"
            ),
        ),
        ("x-amz-content-sha256", content_sha),
        ("Content-Encoding", "aws-chunked"),
        ("x-amz-decoded-content-length", "66560"),
        *extra,
    ]


def test_aws_documentation_streaming_example_verifies():
    # "Example: PUT Object" of the S3 SigV4 chunked-upload documentation: 65 KiB of 'a' in 64 KiB chunks.
    headers = _doc_headers(
        "content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class",
        "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9",
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        [("Content-Length", "66824")],
    )
    auth = verify(
        "PUT",
        "/examplebucket/chunkObject.txt",
        "",
        headers,
        lambda k: DOC_CREDS,
        now=epoch("20130524T000000Z"),
    )
    assert auth.payload_mode == "streaming-signed"
    assert auth.seed_signature == "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
    body = (
        b"10000;chunk-signature=ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648\r\n"
        + b"a" * 65536
        + b"\r\n400;chunk-signature=0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497\r\n"
        + b"a" * 1024
        + b"\r\n0;chunk-signature=b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9\r\n\r\n"
    )
    assert len(body) == 66824
    decoder = ChunkedDecoder.for_auth(auth, decoded_length=66560)
    assert decoder.feed(body) == b"a" * 66560
    decoder.finish()


def test_aws_documentation_signed_trailer_example_verifies():
    headers = _doc_headers(
        "content-encoding;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class;x-amz-trailer",
        "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e",
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
        [("x-amz-trailer", "x-amz-checksum-crc32c")],
    )
    auth = verify(
        "PUT",
        "/examplebucket/chunkObject.txt",
        "",
        headers,
        lambda k: DOC_CREDS,
        now=epoch("20130524T000000Z"),
    )
    assert auth.payload_mode == "streaming-signed-trailer"
    assert auth.trailer_names == ("x-amz-checksum-crc32c",)
    body = (
        b"10000;chunk-signature=b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2\r\n"
        + b"a" * 65536
        + b"\r\n400;chunk-signature=1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7\r\n"
        + b"a" * 1024
        + b"\r\n0;chunk-signature=2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992\r\n"
        + b"x-amz-checksum-crc32c:sOO8/Q==\r\n"
        + b"x-amz-trailer-signature:d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435\r\n\r\n"
    )
    decoder = ChunkedDecoder.for_auth(auth)
    out = b"".join(decoder.feed(body[i : i + 777]) for i in range(0, len(body), 777))
    decoder.finish()
    assert out == b"a" * 66560
    assert decoder.trailers == {"x-amz-checksum-crc32c": "sOO8/Q=="}
    tampered = body.replace(b"sOO8/Q==", b"AAAAAA==")
    decoder = ChunkedDecoder.for_auth(auth)
    with pytest.raises(ChunkSignatureMismatch) as err:
        decoder.feed(tampered)
        decoder.finish()
    assert s3_error(err.value).code == "SignatureDoesNotMatch"


# ------------------------------------------------------------------------------------- header auth


def test_s3_put_object_with_odd_key_over_http_signs_payload_hash():
    data = b"hello world"
    req = capture("s3", "put_object", Bucket="bkt", Key=ODD_KEY, Body=data)
    method, path, query, headers = wire(req)
    assert "%20" in path and "%2B" in path and "%3D" in path  # botocore sends the key percent-encoded
    auth = verify(method, path, query, headers, lookup)
    assert (auth.service, auth.region, auth.payload_mode) == ("s3", "us-east-1", "signed")
    assert auth.declared_payload_sha256 == sha256_hex(data)  # left for the caller to check
    assert auth.credentials is USER
    assert "host" in auth.signed_headers and "x-amz-content-sha256" in auth.signed_headers
    # with the body hash in hand it is checked here
    assert (
        verify(method, path, query, headers, lookup, body_sha256=sha256_hex(data)).declared_payload_sha256
        is None
    )
    with pytest.raises(AuthError) as err:
        verify(method, path, query, headers, lookup, body_sha256=sha256_hex(b"other"))
    assert (err.value.code, err.value.status) == ("XAmzContentSHA256Mismatch", 400)
    assert err.value.s3_extra["ClientComputedContentSHA256"] == sha256_hex(data)


def test_s3_query_with_special_characters_and_repeated_keys():
    req = capture("s3", "list_objects_v2", Bucket="bkt", Prefix="a b/ü+=&x", Delimiter="/", StartAfter="~z*")
    assert check(req, with_body=False).service == "s3"
    # repeated keys and a bare key, signed by botocore from the raw URL
    url = f"{ENDPOINT}/bkt/obj%20x?uploads&tag=b&tag=a&x=%2B%20%3D&empty="
    req = sign_raw(S3SigV4Auth, "s3", url, headers={"X-Amz-Content-SHA256": EMPTY_SHA256})
    assert check(req, with_body=False).payload_mode == "signed"


def test_s3_path_is_not_normalised_or_double_encoded():
    url = f"{ENDPOINT}/bkt/a/../b//c%2Fd%20e"
    req = sign_raw(S3SigV4Auth, "s3", url, headers={"X-Amz-Content-SHA256": EMPTY_SHA256})
    method, path, query, headers = wire(req)
    assert path == "/bkt/a/../b//c%2Fd%20e"
    verify(method, path, query, headers, lookup)


@pytest.mark.parametrize(
    "path",
    [
        "/endpoints/my-endpoint/invocations",
        "/a%20b/%C3%BC%E2%82%AC/x%2By%3Dz",
        "/p/a=b+c:d",
        "/x/./y/../z//w/",
    ],
)
def test_non_s3_path_is_encoded_once_more(path):
    req = sign_raw(SigV4Auth, "sagemaker", f"{ENDPOINT}{path}?b=2&a=1&a=0", method="POST", body=b'{"x": 1}')
    auth = check(req)
    assert (auth.service, auth.payload_mode, auth.declared_payload_sha256) == ("sagemaker", "signed", None)


def test_json_query_and_rest_services_from_real_clients():
    sm = capture("sagemaker", "list_training_jobs", MaxResults=5, NameContains="x y")
    assert check(sm).service == "sagemaker"
    sts = capture("sts", "get_caller_identity")
    assert body_bytes(sts).startswith(b"Action=GetCallerIdentity")
    assert check(sts).service == "sts"
    assert credential_scope_service(wire(sts)[3], wire(sts)[2]) == ("sts", "us-east-1")
    iam = capture("iam", "list_users", PathPrefix="/a b/")
    assert credential_scope_service(wire(iam)[3], "") == ("iam", "us-east-1")
    rt = capture(
        "sagemaker-runtime", "invoke_endpoint", EndpointName="ep-1", Body=b"1,2,3", ContentType="text/csv"
    )
    assert check(rt).service == "sagemaker"  # sagemaker-runtime signs as "sagemaker"
    assert credential_scope_service([], "") == (None, None)


def test_non_s3_body_hash_is_part_of_the_signature():
    req = capture("sagemaker", "list_training_jobs", MaxResults=5)
    method, path, query, headers = wire(req)
    with pytest.raises(AuthError) as err:
        verify(method, path, query, headers, lookup, body_sha256=sha256_hex(b'{"MaxResults": 6}'))
    assert (err.value.code, err.value.status) == ("InvalidSignatureException", 400)
    with pytest.raises(ValueError):  # a body is there, so the caller must pass its hash
        verify(method, path, query, headers, lookup)


def test_date_header_instead_of_x_amz_date():
    req = sign_raw(SigV4Auth, "sts", f"{ENDPOINT}/?Action=GetCallerIdentity", headers={"Date": "x"})
    _, _, _, headers = wire(req)
    names = {k.lower() for k, _ in headers}
    assert "date" in names and "x-amz-date" not in names
    assert check(req).service == "sts"


# ----------------------------------------------------------------------------------- failures


@pytest.mark.parametrize(
    ("service", "call", "kw", "code", "status"),
    [
        ("s3", "list_buckets", {}, "SignatureDoesNotMatch", 403),
        ("sts", "get_caller_identity", {}, "SignatureDoesNotMatch", 403),
        ("sagemaker", "list_endpoints", {}, "InvalidSignatureException", 400),
    ],
)
def test_wrong_secret(service, call, kw, code, status):
    wrong = Credentials(AKID, "not-the-secret", ACCOUNT, "arn")
    req = capture(service, call, creds=wrong, **kw)
    with pytest.raises(AuthError) as err:
        check(req)
    assert (err.value.code, err.value.status) == (code, status)
    if service == "s3":
        assert err.value.message.startswith("The request signature we calculated does not match")
        assert err.value.s3_extra["AWSAccessKeyId"] == AKID
        assert err.value.s3_extra["CanonicalRequest"].startswith("GET\n/\n")


@pytest.mark.parametrize(
    ("service", "call", "code", "status", "message"),
    [
        (
            "s3",
            "list_buckets",
            "InvalidAccessKeyId",
            403,
            "The AWS Access Key Id you provided does not exist in our records.",
        ),
        (
            "sts",
            "get_caller_identity",
            "InvalidClientTokenId",
            403,
            "The security token included in the request is invalid.",
        ),
        (
            "sagemaker",
            "list_endpoints",
            "UnrecognizedClientException",
            400,
            "The security token included in the request is invalid.",
        ),
    ],
)
def test_unknown_access_key(service, call, code, status, message):
    stranger = Credentials("AKIDUNKNOWN000000000", "x", ACCOUNT, "arn")
    with pytest.raises(AuthError) as err:
        check(capture(service, call, creds=stranger))
    assert (err.value.code, err.value.status, err.value.message) == (code, status, message)


def test_missing_authentication():
    cases = {
        "s3": ("AccessDenied", 403),
        "sts": ("MissingAuthenticationToken", 403),
        "sagemaker": ("MissingAuthenticationTokenException", 403),
    }
    for service, expected in cases.items():
        with pytest.raises(AuthError) as err:
            verify("GET", "/", "", [("Host", "h")], lookup, service=service)
        assert (err.value.code, err.value.status) == expected


def test_clock_skew():
    s3 = capture("s3", "list_buckets")
    with pytest.raises(AuthError) as err:
        check(s3, now=time.time() + 16 * 60)
    assert (err.value.code, err.value.status) == ("RequestTimeTooSkewed", 403)
    assert err.value.s3_extra["MaxAllowedSkewMilliseconds"] == "900000"
    check(s3, now=time.time() + 14 * 60)  # inside the window

    sts = capture("sts", "get_caller_identity")
    with pytest.raises(AuthError) as err:
        check(sts, now=time.time() + 20 * 60)
    assert err.value.code == "SignatureDoesNotMatch"
    assert err.value.message.startswith("Signature expired: ") and "is now earlier than" in err.value.message
    assert err.value.message.endswith(" - 15 min.)")
    with pytest.raises(AuthError) as err:
        check(capture("sagemaker", "list_endpoints"), now=time.time() - 20 * 60)
    assert err.value.code == "InvalidSignatureException"
    assert err.value.message.startswith("Signature not yet current: ")


def test_temporary_credentials():
    req = capture("s3", "list_buckets", creds=TEMP)
    assert check(req).credentials.session_token == TEMP.session_token
    # the same request with its token stripped: signature aside, the token check fails first
    method, path, query, headers = wire(req)
    no_token = [(k, v) for k, v in headers if k.lower() != "x-amz-security-token"]
    with pytest.raises(AuthError) as err:
        verify(method, path, query, no_token, lookup)
    assert err.value.code == "InvalidToken"
    # signed without a token at all (client forgot the session token)
    forgot = Credentials(TEMP.access_key_id, TEMP.secret_access_key, ACCOUNT, "arn")
    with pytest.raises(AuthError) as err:
        check(capture("sts", "get_caller_identity", creds=forgot))
    assert err.value.code == "InvalidClientTokenId"
    # a token sent with long-term keys is rejected too
    bogus = Credentials(AKID, SECRET, ACCOUNT, "arn", session_token="tok")
    with pytest.raises(AuthError) as err:
        check(capture("sagemaker", "list_endpoints", creds=bogus))
    assert err.value.code == "UnrecognizedClientException"
    # expired temporary credentials
    expired = {TEMP.access_key_id: dataclasses.replace(TEMP, expires_at=time.time() - 1)}
    for service, call, code in [
        ("sts", "get_caller_identity", "ExpiredToken"),
        ("s3", "list_buckets", "ExpiredToken"),
        ("sagemaker", "list_endpoints", "ExpiredTokenException"),
    ]:
        req = capture(service, call, creds=TEMP)
        method, path, query, headers = wire(req)
        with pytest.raises(AuthError) as err:
            verify(method, path, query, headers, expired.get, body_sha256=sha256_hex(body_bytes(req)))
        assert err.value.code == code


# --------------------------------------------------------------------------------------- presign


def _presign_client(creds=USER, service="s3"):
    return boto3.client(
        service,
        endpoint_url=ENDPOINT,
        region_name="us-east-1",
        aws_access_key_id=creds.access_key_id,
        aws_secret_access_key=creds.secret_access_key,
        aws_session_token=creds.session_token,
        config=Config(s3={"addressing_style": "path"}, signature_version="s3v4"),
    )


def _verify_url(url: str, method: str = "GET", headers=(), **kw) -> AuthResult:
    parts = urlsplit(url)
    return verify(method, parts.path, parts.query, [("Host", parts.netloc), *headers], lookup, **kw)


def test_presigned_urls():
    client = _presign_client()
    url = client.generate_presigned_url("get_object", Params={"Bucket": "bkt", "Key": ODD_KEY}, ExpiresIn=300)
    auth = _verify_url(url)
    assert (auth.payload_mode, auth.service, auth.credentials) == ("presigned", "s3", USER)
    put = client.generate_presigned_url(
        "put_object", Params={"Bucket": "bkt", "Key": "k", "ContentType": "text/plain"}, ExpiresIn=60
    )
    assert _verify_url(put, "PUT", [("Content-Type", "text/plain")]).payload_mode == "presigned"
    # method is part of the signature
    with pytest.raises(AuthError) as err:
        _verify_url(url, "DELETE")
    assert err.value.code == "SignatureDoesNotMatch"
    # expired
    with pytest.raises(AuthError) as err:
        _verify_url(url, now=time.time() + 301)
    assert (err.value.code, err.value.message) == ("AccessDenied", "Request has expired")
    # too long
    week = client.generate_presigned_url("get_object", Params={"Bucket": "b", "Key": "k"}, ExpiresIn=604801)
    with pytest.raises(AuthError) as err:
        _verify_url(week)
    assert (err.value.code, err.value.status) == ("AuthorizationQueryParametersError", 400)


def test_presigned_with_temporary_credentials():
    url = _presign_client(TEMP).generate_presigned_url("get_object", Params={"Bucket": "b", "Key": "a b"})
    assert "X-Amz-Security-Token=" in url
    assert _verify_url(url).credentials.access_key_id == TEMP.access_key_id
    stripped = "&".join(p for p in url.split("&") if not p.startswith("X-Amz-Security-Token="))
    with pytest.raises(AuthError) as err:
        _verify_url(stripped)
    assert err.value.code == "InvalidToken"


def test_presign_with_botocore_query_signers():
    req = sign_raw(S3SigV4QueryAuth, "s3", f"{ENDPOINT}/bkt/x%20y?versionId=3&a=1&a=0", expires=120)
    assert check(req, with_body=False).payload_mode == "presigned"
    req = sign_raw(
        SigV4QueryAuth, "sts", f"{ENDPOINT}/?Action=GetCallerIdentity&Version=2011-06-15", expires=60
    )
    auth = check(req, with_body=False)
    assert (auth.service, auth.payload_mode) == ("sts", "presigned")
    assert credential_scope_service([], urlsplit(req.url).query) == ("sts", "us-east-1")


# ------------------------------------------------------------------------------- aws-chunked bodies


def build_signed_stream(
    data: bytes, chunk: int, key: bytes, seed: str, timestamp: str, scope: str, trailers=None
) -> bytes:
    """aws-chunked body per the S3 SigV4 streaming spec.

    Each chunk is ``hex(len);chunk-signature=SIG\\r\\nDATA\\r\\n`` where SIG is the HMAC (signing key) of
    ``AWS4-HMAC-SHA256-PAYLOAD\\n<timestamp>\\n<scope>\\n<previous signature>\\n<sha256("")>\\n<sha256(DATA)>``
    and the previous signature starts as the seed (the Authorization header's). A zero-length chunk ends
    the data; then ``\\r\\n`` or, with trailers, ``name:value\\r\\n`` lines, ``x-amz-trailer-signature:SIG\\r\\n``
    (HMAC of ``AWS4-HMAC-SHA256-TRAILER\\n<ts>\\n<scope>\\n<last chunk sig>\\n<sha256("name:value\\n"...)>``)
    and a blank line.
    """

    def sig(text: str) -> str:
        return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()

    out, prev = bytearray(), seed
    pieces = [data[i : i + chunk] for i in range(0, len(data), chunk)] + [b""]
    for piece in pieces:
        prev = sig(
            "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", timestamp, scope, prev, EMPTY_SHA256, sha256_hex(piece)])
        )
        out += b"%x;chunk-signature=%s\r\n" % (len(piece), prev.encode())
        if piece:
            out += piece + b"\r\n"
    if trailers is None:
        return bytes(out + b"\r\n")
    canonical = "".join(f"{k}:{v}\n" for k, v in trailers.items())
    out += canonical.replace("\n", "\r\n").encode()
    trailer_sig = sig("\n".join(["AWS4-HMAC-SHA256-TRAILER", timestamp, scope, prev, sha256_hex(canonical)]))
    return bytes(out + f"x-amz-trailer-signature:{trailer_sig}\r\n\r\n".encode())


def _streaming_auth(content_sha: str, data: bytes, trailer: str | None = None) -> AuthResult:
    headers = {
        "X-Amz-Content-SHA256": content_sha,
        "Content-Encoding": "aws-chunked",
        "X-Amz-Decoded-Content-Length": str(len(data)),
    }
    if trailer:
        headers["X-Amz-Trailer"] = trailer
    # botocore's S3 signer always recomputes x-amz-content-sha256; the generic signer keeps the given value
    # (and for this plain path signs the same canonical request an S3 client would).
    req = sign_raw(SigV4Auth, "s3", f"{ENDPOINT}/bkt/big", method="PUT", headers=headers)
    return check(req, with_body=False)


def test_signed_streaming_decoder_byte_by_byte_and_tampering():
    data = bytes(range(256)) * 90  # 23040 bytes -> 3 chunks of 8 KiB + 0
    auth = _streaming_auth("STREAMING-AWS4-HMAC-SHA256-PAYLOAD", data)
    assert auth.payload_mode == "streaming-signed" and auth.signing_key and auth.seed_signature
    body = build_signed_stream(data, 8192, auth.signing_key, auth.seed_signature, auth.timestamp, auth.scope)

    decoder = ChunkedDecoder.for_auth(auth, decoded_length=len(data))
    out = bytearray()
    for i in range(len(body)):
        out += decoder.feed(body[i : i + 1])
    decoder.finish()
    assert bytes(out) == data and decoder.decoded_bytes == len(data)

    tampered = bytearray(body)
    tampered[body.index(b"\r\n") + 100] ^= 1  # flip a bit inside the first chunk's data
    with pytest.raises(ChunkSignatureMismatch) as err:
        ChunkedDecoder.for_auth(auth).feed(bytes(tampered))
    mapped = s3_error(err.value)
    assert (mapped.code, mapped.status) == ("SignatureDoesNotMatch", 403)
    assert mapped.fields["StringToSign"].startswith("AWS4-HMAC-SHA256-PAYLOAD\n")

    # chunks reordered: the signature chain breaks
    first_end = body.index(b"\r\n", body.index(b"\r\n") + 2) + 2
    second_end = body.index(b"\r\n", body.index(b"\r\n", first_end) + 2) + 2
    swapped = body[first_end:second_end] + body[:first_end] + body[second_end:]
    with pytest.raises(ChunkSignatureMismatch):
        ChunkedDecoder.for_auth(auth).feed(swapped)

    truncated = ChunkedDecoder.for_auth(auth)
    truncated.feed(body[:-3])
    with pytest.raises(TruncatedBody) as err:
        truncated.finish()
    assert (s3_error(err.value).code, s3_error(err.value).status) == ("IncompleteBody", 400)

    wrong_length = ChunkedDecoder.for_auth(auth, decoded_length=len(data) + 1)
    wrong_length.feed(body)
    with pytest.raises(LengthMismatch) as err:
        wrong_length.finish()
    assert (err.value.declared, err.value.decoded) == (len(data) + 1, len(data))


def test_signed_streaming_with_trailer():
    data = b"x" * 10000
    crc = base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
    auth = _streaming_auth("STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER", data, "x-amz-checksum-crc32")
    assert auth.payload_mode == "streaming-signed-trailer"
    body = build_signed_stream(
        data,
        4096,
        auth.signing_key,
        auth.seed_signature,
        auth.timestamp,
        auth.scope,
        {"x-amz-checksum-crc32": crc},
    )
    decoder = ChunkedDecoder.for_auth(auth)
    assert b"".join(decoder.feed(body[i : i + 5]) for i in range(0, len(body), 5)) == data
    decoder.finish()
    assert decoder.trailers == {"x-amz-checksum-crc32": crc}


def test_malformed_chunked_bodies():
    for bad in [b"zz\r\n", b"0x3\r\n", b"1_0\r\n", b"5\r\nhelloXX", b"3\nabc\r\n"]:
        with pytest.raises(MalformedBody) as err:
            ChunkedDecoder("streaming-unsigned-trailer").feed(bad)
        mapped = s3_error(err.value)
        assert mapped.code == "IncompleteBody"
        assert mapped.message == f"The aws-chunked body is malformed: {err.value.detail}"
    with pytest.raises(MalformedBody):
        ChunkedDecoder("streaming-unsigned-trailer").feed(b"f" * 10000)  # header line never ends
    auth = _streaming_auth("STREAMING-AWS4-HMAC-SHA256-PAYLOAD", b"abc")
    with pytest.raises(ChunkedBodyError):  # unsigned chunk where a signature is required
        ChunkedDecoder.for_auth(auth).feed(b"3\r\nabc\r\n")
    with pytest.raises(ValueError):
        ChunkedDecoder("signed")


def _https_put(body, **kw):
    return capture(
        "s3",
        "put_object",
        endpoint="https://127.0.0.1:9",
        Bucket="bkt",
        Key=ODD_KEY,
        Body=body,
        **kw,
    )


def test_boto3_put_object_over_https_sends_unsigned_trailer_that_decodes():
    # What boto3 1.44 sends by default (request_checksum_calculation=when_supported) over https:
    # Content-Encoding: aws-chunked, X-Amz-Content-SHA256: STREAMING-UNSIGNED-PAYLOAD-TRAILER,
    # X-Amz-Trailer: x-amz-checksum-crc32, X-Amz-Decoded-Content-Length, Transfer-Encoding: chunked.
    data = b"hello world" * 1000
    req = _https_put(data)
    method, path, query, headers = wire(req)
    h = {k.lower(): v for k, v in headers}
    assert h["x-amz-content-sha256"] == "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
    assert h["content-encoding"] == "aws-chunked"
    assert h["x-amz-trailer"] == "x-amz-checksum-crc32"
    assert h["x-amz-decoded-content-length"] == str(len(data))
    assert h["transfer-encoding"] == "chunked" and "content-length" not in h
    auth = verify(method, path, query, headers, lookup)
    assert auth.payload_mode == "streaming-unsigned-trailer"
    assert auth.trailer_names == ("x-amz-checksum-crc32",)
    assert auth.signing_key is not None  # harmless for unsigned streaming
    raw = body_bytes(req)  # the aws-chunked body, after the HTTP server removed Transfer-Encoding framing
    decoder = ChunkedDecoder.for_auth(auth, decoded_length=int(h["x-amz-decoded-content-length"]))
    out = b"".join(decoder.feed(raw[i : i + 3]) for i in range(0, len(raw), 3))
    decoder.finish()
    assert out == data
    assert decoder.trailers == {
        "x-amz-checksum-crc32": base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
    }

    empty = _https_put(b"")
    method, path, query, headers = wire(empty)
    decoder = ChunkedDecoder.for_auth(verify(method, path, query, headers, lookup), decoded_length=0)
    assert decoder.feed(body_bytes(empty)) == b""
    decoder.finish()
    assert decoder.trailers == {"x-amz-checksum-crc32": "AAAAAA=="}


def test_boto3_put_object_over_http_signs_body_and_sends_checksum_header():
    # Over plain http boto3 never uses aws-chunked: the payload hash is signed and the CRC32 goes in a header.
    data = b"hello world"
    h = {k.lower(): v for k, v in wire(capture("s3", "put_object", Bucket="b", Key="k", Body=data))[3]}
    assert h["x-amz-content-sha256"] == sha256_hex(data)
    assert h["x-amz-checksum-crc32"] == "DUoRhQ=="
    assert "content-encoding" not in h
    cfg = Config(s3={"addressing_style": "path"}, request_checksum_calculation="when_required")
    h = {
        k.lower(): v
        for k, v in wire(capture("s3", "put_object", config=cfg, Bucket="b", Key="k", Body=data))[3]
    }
    assert "x-amz-checksum-crc32" not in h and h["x-amz-content-sha256"] == sha256_hex(data)


def test_unsigned_payload_and_bad_content_sha():
    req = sign_raw(
        SigV4Auth, "s3", f"{ENDPOINT}/b/k", method="PUT", headers={"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"}
    )
    assert check(req, with_body=False).payload_mode == "unsigned"
    req = sign_raw(
        SigV4Auth, "s3", f"{ENDPOINT}/b/k", method="PUT", headers={"X-Amz-Content-SHA256": "nonsense"}
    )
    with pytest.raises(AuthError) as err:
        check(req, with_body=False)
    assert (err.value.code, err.value.status) == ("InvalidArgument", 400)


def test_s3_rejects_unsigned_amz_headers_and_unsigned_host():
    method, path, query, headers = wire(capture("s3", "put_object", Bucket="b", Key="k", Body=b"x"))
    with pytest.raises(AuthError) as err:
        verify(method, path, query, [*headers, ("x-amz-meta-injected", "1")], lookup)
    assert err.value.code == "AccessDenied"
    assert err.value.s3_extra["HeadersNotSigned"] == "x-amz-meta-injected"
    # a signature over a request whose SignedHeaders leave out host is refused before any key lookup
    auth = next(v for k, v in headers if k == "Authorization").replace(
        "SignedHeaders=host;", "SignedHeaders="
    )
    no_host = [(k, auth if k == "Authorization" else v) for k, v in headers]
    with pytest.raises(AuthError) as err:
        verify(method, path, query, no_host, lookup)
    assert (err.value.code, err.value.status) == ("AuthorizationHeaderMalformed", 400)
