"""The web console at ``/_sagestack/console/``: static pages (plain HTML + small JS modules, uPlot for
charts, all package data) and a JSON API that runs AWS operations in-process as the signed-in identity.

Routes (all under ``/_sagestack/console``):

- ``GET /`` the single page (a sign-in form until signed in); ``GET /static/<file>`` its assets;
- ``POST /session`` sign in with an access key pair (sets the HttpOnly, SameSite=Strict session cookie and
  answers the CSRF token); ``GET /session`` who is signed in; ``DELETE /session`` sign out;
- ``POST /api/<service>/<Operation>`` JSON in, JSON out (the operation's output, or its AWS error);
- ``GET /api/s3/GetObject?Bucket=&Key=[&Range=]`` an object's bytes (preview, download);
  ``PUT /api/s3/PutObject?Bucket=&Key=`` upload (the body is the object).

Every request but the page shell and its assets needs the session cookie; every state-changing one (POST,
PUT, DELETE) also the CSRF token in the ``X-SageStack-CSRF`` header.
"""

from __future__ import annotations

import json
import time
from urllib.parse import parse_qsl

from ..protocol.errors import ServiceError
from ..protocol.http import BodyTooLarge, HttpRequest, HttpResponse
from . import api, assets, sessions

PREFIX = "/_sagestack/console"
SECURITY_HEADERS = [
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
    (
        "content-security-policy",
        "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
        "frame-ancestors 'none'; form-action 'self'",
    ),
]


def _json(status: int, document, extra: list[tuple[str, str]] | None = None) -> HttpResponse:
    body = document if isinstance(document, bytes) else json.dumps(document).encode()
    headers = [("content-type", "application/json"), ("cache-control", "no-store"), *SECURITY_HEADERS]
    return HttpResponse(status, headers + (extra or []), body)


def _error(exc: ServiceError) -> HttpResponse:
    return _json(exc.status, {"__type": exc.code, "message": exc.message})


def _cookie(request: HttpRequest) -> str | None:
    for part in (request.headers.get("cookie") or "").split(";"):
        name, _, value = part.strip().partition("=")
        if name == sessions.COOKIE:
            return value
    return None


def _set_cookie(token: str, max_age: int) -> tuple[str, str]:
    return (
        "set-cookie",
        f"{sessions.COOKIE}={token}; Path={PREFIX}; Max-Age={max_age}; HttpOnly; SameSite=Strict",
    )


class Console:
    def __init__(self, platform):
        self.platform = platform

    def session(self, request: HttpRequest) -> sessions.Session | None:
        return sessions.verify(_cookie(request), self.platform.lookup_credentials, time.time())

    async def handle(self, request: HttpRequest) -> HttpResponse:
        path = request.raw_path[len(PREFIX) :]
        method = request.method
        if path == "":
            return HttpResponse(308, [("location", PREFIX + "/")], b"")
        if path == "/" and method in ("GET", "HEAD"):
            return self.page()
        if path.startswith("/static/") and method in ("GET", "HEAD"):
            return self.static(request, path[len("/static/") :])
        if path == "/session":
            return await self.session_route(request)
        if path.startswith("/api/"):
            return await self.api_route(request, path[len("/api/") :])
        return _json(404, {"__type": "NotFound", "message": "No such console route"})

    def page(self) -> HttpResponse:
        body, kind, _ = assets.load("index.html")
        return HttpResponse(
            200, [("content-type", kind), ("cache-control", "no-store"), *SECURITY_HEADERS], body
        )

    def static(self, request: HttpRequest, name: str) -> HttpResponse:
        found = assets.load(name)
        if found is None:
            return _json(404, {"__type": "NotFound", "message": "No such file"})
        body, kind, etag = found
        cache = "public, max-age=86400" if name.startswith("vendor/") else "no-cache"
        headers = [("content-type", kind), ("etag", etag), ("cache-control", cache), *SECURITY_HEADERS]
        if request.headers.get("if-none-match") == etag:
            return HttpResponse(304, headers, b"")
        return HttpResponse(200, headers, body)

    # -- sign-in -----------------------------------------------------------------------------

    async def session_route(self, request: HttpRequest) -> HttpResponse:
        now = time.time()
        if request.method == "GET":
            current = self.session(request)
            if current is None:
                return _json(401, {"__type": "NotSignedIn", "message": "Sign in to the console"})
            return _json(200, self._describe(current))
        if request.method == "DELETE":
            current = self.session(request)
            if current is not None and not sessions.csrf_ok(
                current, request.headers.get(sessions.CSRF_HEADER)
            ):
                return _json(403, {"__type": "InvalidCsrfToken", "message": "Missing or invalid CSRF token"})
            return _json(200, {}, [_set_cookie("", 0)])
        if request.method != "POST":
            return _json(405, {"__type": "MethodNotAllowed", "message": "GET, POST or DELETE"})
        if "application/json" not in (request.headers.get("content-type") or ""):
            return _json(415, {"__type": "UnsupportedMediaType", "message": "Sign in with a JSON body"})
        try:
            document = json.loads(await request.read_body(64 * 1024) or b"{}")
            key_id = str(document.get("accessKeyId") or "").strip()
            secret = str(document.get("secretAccessKey") or "")
            token = document.get("sessionToken") or None
        except (BodyTooLarge, ValueError, AttributeError):
            return _json(400, {"__type": "SerializationException", "message": "Malformed sign-in request"})
        row = self.platform.lookup_credentials(key_id) if key_id else None
        if row is not None and row.get("expires_at") and float(row["expires_at"]) <= now:
            row = None
        if row is None or not sessions.secret_matches(row, secret, token):
            return _json(
                401,
                {
                    "__type": "InvalidClientTokenId",
                    "message": "The access key ID or secret access key is not valid",
                },
            )
        cookie, current = sessions.issue(row, now)
        return _json(
            200, self._describe(current), [_set_cookie(cookie, max(1, int(current.expires_at - now)))]
        )

    def _describe(self, current: sessions.Session) -> dict:
        return {
            "accessKeyId": current.access_key_id,
            "accountId": current.account_id,
            "principalArn": current.principal_arn,
            "region": self.platform.settings.region,
            "expiresAt": current.expires_at,
            "csrfToken": current.csrf,
        }

    # -- operations --------------------------------------------------------------------------

    async def api_route(self, request: HttpRequest, rest: str) -> HttpResponse:
        current = self.session(request)
        if current is None:
            return _json(401, {"__type": "NotSignedIn", "message": "Sign in to the console"})
        service, _, operation = rest.partition("/")
        method = request.method
        if method != "GET" and not sessions.csrf_ok(current, request.headers.get(sessions.CSRF_HEADER)):
            return _json(403, {"__type": "InvalidCsrfToken", "message": "Missing or invalid CSRF token"})
        try:
            if method == "GET" and (service, operation) == ("s3", "GetObject"):
                return await self.download(request, current)
            if method == "PUT" and (service, operation) == ("s3", "PutObject"):
                return await self.upload(request, current)
            if method != "POST":
                return _json(405, {"__type": "MethodNotAllowed", "message": "Operations are POSTed"})
            try:
                document = json.loads(await request.read_body(8 * 1024 * 1024) or b"{}")
            except (BodyTooLarge, ValueError) as exc:
                raise ServiceError(
                    "SerializationException", "The request body is not valid JSON", 400
                ) from exc
            params = api.operation_input(service, operation, document)
            result = await api.run(self.platform, current, service, operation, params)
        except ServiceError as exc:
            return _error(exc)
        if isinstance(result, HttpResponse):
            return result
        return _json(200, api.encode(result))

    async def download(self, request: HttpRequest, current: sessions.Session) -> HttpResponse:
        query = dict(parse_qsl(request.query_string, keep_blank_values=True))
        params = {k: query[k] for k in ("Bucket", "Key", "Range", "VersionId") if query.get(k)}
        params = api.operation_input("s3", "GetObject", params)
        result = await api.run(self.platform, current, "s3", "GetObject", params)
        if isinstance(result, HttpResponse):
            return result
        name = params.get("Key", "").rsplit("/", 1)[-1].replace('"', "") or "object"
        disposition = "attachment" if query.get("download") else "inline"
        headers = [
            (
                "content-type",
                "application/octet-stream" if query.get("download") else "text/plain; charset=utf-8",
            ),
            ("content-disposition", f'{disposition}; filename="{name}"'),
            ("cache-control", "no-store"),
            *SECURITY_HEADERS,
        ]
        if result.get("ContentLength") is not None:
            headers.append(("content-length", str(result["ContentLength"])))
        return HttpResponse(200, headers, result.get("Body") or b"")

    async def upload(self, request: HttpRequest, current: sessions.Session) -> HttpResponse:
        query = dict(parse_qsl(request.query_string, keep_blank_values=True))
        params = {k: query[k] for k in ("Bucket", "Key") if query.get(k)}
        if request.headers.get("content-type"):
            params["ContentType"] = request.headers["content-type"]
        params["Body"] = request
        params = api.operation_input("s3", "PutObject", params)
        result = await api.run(self.platform, current, "s3", "PutObject", params, request=request)
        return _json(200, api.encode(result))
