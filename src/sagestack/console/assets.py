"""The console's static files (package data under ``static/``): read once per process, served with an
ETag and long caching for the vendored library, a short one for the console's own files."""

from __future__ import annotations

import functools
import hashlib
from importlib import resources

TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".txt": "text/plain; charset=utf-8",
}


@functools.lru_cache(maxsize=128)
def load(path: str) -> tuple[bytes, str, str] | None:
    """(body, content type, etag) of ``static/<path>``, or None when there is no such file."""
    if not path or ".." in path.split("/") or path.startswith("/"):
        return None
    node = resources.files(__package__).joinpath("static")
    for part in path.split("/"):
        node = node.joinpath(part)
    if not node.is_file():
        return None
    body = node.read_bytes()
    suffix = "." + path.rsplit(".", 1)[-1] if "." in path else ""
    kind = TYPES.get(suffix, "application/octet-stream")
    return body, kind, '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
