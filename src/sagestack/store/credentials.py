"""Access keys: the default account's long-term key pair and STS temporary credentials."""

from __future__ import annotations

import secrets
import string
import time

from sqlalchemy import Column, Float, String, Table, select

from .schema import metadata

credentials = Table(
    "credentials",
    metadata,
    Column("access_key_id", String(128), primary_key=True),
    Column("secret_access_key", String(128), nullable=False),
    Column("account_id", String(12), nullable=False),
    Column("principal_arn", String(2048), nullable=False),
    Column("session_token", String(2048)),
    Column("expires_at", Float),
    Column("created_at", Float, nullable=False),
)

_KEY_CHARS = string.ascii_uppercase + string.digits


def new_access_key_id(prefix: str = "AKIA") -> str:
    return prefix + "".join(secrets.choice(_KEY_CHARS) for _ in range(16))


def new_secret() -> str:
    return secrets.token_urlsafe(30)[:40]


class CredentialStore:
    def __init__(self, db):
        self.db = db

    def get(self, access_key_id: str) -> dict | None:
        with self.db.connect() as conn:
            row = (
                conn.execute(select(credentials).where(credentials.c.access_key_id == access_key_id))
                .mappings()
                .first()
            )
        return dict(row) if row else None

    def put(
        self,
        access_key_id: str,
        secret: str,
        account_id: str,
        principal_arn: str,
        session_token: str | None = None,
        expires_at: float | None = None,
    ) -> dict:
        row = {
            "access_key_id": access_key_id,
            "secret_access_key": secret,
            "account_id": account_id,
            "principal_arn": principal_arn,
            "session_token": session_token,
            "expires_at": expires_at,
            "created_at": time.time(),
        }
        with self.db.begin() as conn:
            existing = conn.execute(
                select(credentials.c.access_key_id).where(credentials.c.access_key_id == access_key_id)
            ).first()
            if existing:
                conn.execute(
                    credentials.update().where(credentials.c.access_key_id == access_key_id).values(**row)
                )
            else:
                conn.execute(credentials.insert().values(**row))
        return row

    def delete_expired(self, now: float | None = None) -> int:
        now = time.time() if now is None else now
        with self.db.begin() as conn:
            result = conn.execute(
                credentials.delete()
                .where(credentials.c.expires_at.is_not(None))
                .where(credentials.c.expires_at < now - 3600)
            )
        return result.rowcount or 0
