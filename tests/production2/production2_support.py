"""Settings of the tests/production2 server and small helpers."""

from __future__ import annotations

from helpers import wait_for  # noqa: F401  (re-exported for the tests here)

IDLE_SECONDS = 3  # SAGESTACK_SERVERLESS_IDLE_SECONDS
CACHE_MODELS = 5  # SAGESTACK_MME_MAX_MODELS
