"""Settings of the tests/production2 server and small helpers."""

from __future__ import annotations

import time

IDLE_SECONDS = 3  # SAGESTACK_SERVERLESS_IDLE_SECONDS
CACHE_MODELS = 5  # SAGESTACK_MME_MAX_MODELS


def wait_for(predicate, timeout: float = 60.0, interval: float = 0.2, message: str = "condition"):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}; last value: {last!r}")
