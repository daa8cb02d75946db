"""What the store refuses, as domain errors: the resource kind and name, a neutral message, no AWS codes.

Each service maps these to its own wire errors in one place (``services/<service>/errors.py``, or
``services/errors.py`` for the resource store's default wording); ``str(error)`` is a message fit for logs
and failure reasons.
"""

from __future__ import annotations


class StoreError(Exception):
    """A store operation that cannot be done as asked."""


class NotFound(StoreError):
    def __init__(self, kind: str, name: str):
        super().__init__(f"{kind} {name} does not exist")
        self.kind = kind
        self.name = name


class AlreadyExists(StoreError):
    def __init__(self, kind: str, name: str, arn: str | None = None):
        super().__init__(f"{kind} {name} already exists")
        self.kind = kind
        self.name = name
        self.arn = arn


class Conflict(StoreError):
    """The stored state changed in a way that rules the write out."""


class ConcurrentModification(Conflict):
    """An optimistic write lost: someone else wrote the row first (``update(expect_version=True)``)."""

    def __init__(self, name: str):
        super().__init__(f"{name} was modified concurrently")
        self.name = name


class InvalidToken(StoreError):
    """A pagination token the store did not issue (or no longer understands)."""

    def __init__(self, token: str | None = None):
        super().__init__("invalid pagination token")
        self.token = token
