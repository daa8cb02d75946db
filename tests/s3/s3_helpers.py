"""Helpers shared by the S3 tests (raw signed requests, stored-file listing)."""

from __future__ import annotations

import hashlib
import http.client


def object_files(data_dir) -> list:
    """Every stored object/part file and leftover temp file under a server's objects directory."""
    root = data_dir / "objects"
    return sorted(p for p in root.rglob("*") if p.is_file())


def raw_request(
    server,
    method: str,
    path: str,
    body: bytes = b"",
    headers: dict | None = None,
    payload_hash: str | None = None,
    endpoint: str | None = None,
) -> tuple[int, dict, bytes]:
    """Sign a request with botocore's S3 signer and send it over plain http.client (so the test controls
    every header and byte). ``endpoint`` overrides the URL signed (e.g. a virtual host)."""
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    key, secret = server.credentials()
    url = (endpoint or server.url) + path
    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
    declared = payload_hash or hashlib.sha256(body).hexdigest()

    class Signer(S3SigV4Auth):
        def payload(self, request):  # the x-amz-content-sha256 the test wants, right or wrong
            return declared

    Signer(Credentials(key, secret), "s3", "us-east-1").add_auth(request)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        send_headers = dict(request.headers.items())
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        if "host" not in {k.lower() for k in send_headers}:
            conn.putheader("Host", url.split("://", 1)[1].split("/", 1)[0])
        for name, value in send_headers.items():
            conn.putheader(name, value)
        if body and "Content-Length" not in send_headers and "Transfer-Encoding" not in send_headers:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body if body else None)
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()
