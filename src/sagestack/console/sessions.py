"""Console sessions: signed tokens that expire, and the CSRF token tied to each.

A session token is ``<payload>.<mac>``: the payload (base64url JSON) names the access key, the expiry and a
random nonce; the MAC is HMAC-SHA256 under a key derived from that access key's secret. Nothing is stored:
a token is only as valid as the key it was signed with (a deleted or expired key ends its sessions), and
only the server and the key's holder can mint one. The CSRF token is a second MAC over the nonce: it is
handed to the page after sign-in and must come back in a header on every state-changing request, which a
cross-site form cannot do.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass

COOKIE = "sagestack_console"
CSRF_HEADER = "x-sagestack-csrf"
SESSION_SECONDS = 8 * 3600


@dataclass(frozen=True)
class Session:
    access_key_id: str
    expires_at: float
    nonce: str
    account_id: str
    principal_arn: str
    csrf: str


def _key(secret_access_key: str) -> bytes:
    return hmac.new(secret_access_key.encode(), b"sagestack-console-session-v1", hashlib.sha256).digest()


def _mac(key: bytes, message: str) -> str:
    digest = hmac.new(key, message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def secret_matches(row: dict, secret_access_key: str, session_token: str | None) -> bool:
    ok = hmac.compare_digest(row["secret_access_key"].encode(), (secret_access_key or "").encode())
    if row.get("session_token"):
        ok = ok and hmac.compare_digest(row["session_token"].encode(), (session_token or "").encode())
    return ok


def issue(row: dict, now: float, lifetime: float = SESSION_SECONDS) -> tuple[str, Session]:
    """A token for the credentials ``row`` (a store.credentials row), valid ``lifetime`` seconds (never past
    the credentials' own expiry)."""
    expires = now + lifetime
    if row.get("expires_at"):
        expires = min(expires, float(row["expires_at"]))
    payload = {"k": row["access_key_id"], "e": int(expires), "n": secrets.token_urlsafe(16)}
    body = base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode().rstrip("=")
    key = _key(row["secret_access_key"])
    token = f"{body}.{_mac(key, body)}"
    return token, _session(row, payload, key)


def _session(row: dict, payload: dict, key: bytes) -> Session:
    return Session(
        access_key_id=row["access_key_id"],
        expires_at=float(payload["e"]),
        nonce=payload["n"],
        account_id=row["account_id"],
        principal_arn=row["principal_arn"],
        csrf=_mac(key, "csrf:" + payload["n"]),
    )


def verify(token: str | None, lookup, now: float) -> Session | None:
    """The session a token proves, or None (malformed, forged, expired, or its key is gone)."""
    if not token or "." not in token or len(token) > 1024:
        return None
    body, mac = token.rsplit(".", 1)
    try:
        payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        access_key_id, expires = str(payload["k"]), float(payload["e"])
        str(payload["n"])
    except (ValueError, KeyError, TypeError):
        return None
    if expires <= now:
        return None
    row = lookup(access_key_id)
    if row is None or (row.get("expires_at") and float(row["expires_at"]) <= now):
        return None
    key = _key(row["secret_access_key"])
    if not hmac.compare_digest(_mac(key, body), mac):
        return None
    return _session(row, payload, key)


def csrf_ok(session: Session, header: str | None) -> bool:
    return bool(header) and hmac.compare_digest(session.csrf.encode(), header.encode())
