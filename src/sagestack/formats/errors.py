"""Errors the codecs share with the serving handlers that use them."""

from __future__ import annotations


class InferenceError(Exception):
    """A request the serving handler refuses; ``status`` is the HTTP status the container answers."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status
