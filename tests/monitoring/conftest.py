"""Fixtures for the Model Monitor tests (helpers live in monitor_support.py)."""

from __future__ import annotations

import sys

import pytest

from monitor_support import Monitor


@pytest.fixture(scope="module")
def monitor(server) -> Monitor:
    return Monitor(server)


@pytest.fixture(scope="module")
def sdk_module_env(server):
    """``sdk_env`` for a whole module (the SDK pointed at the server), for module-scoped SDK fixtures."""
    with pytest.MonkeyPatch.context() as patch:
        for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
            patch.delenv(key, raising=False)
        env = server.client_env()
        for key, value in env.items():
            if key == "PYTHONPATH":
                if value not in sys.path:
                    patch.syspath_prepend(value)
            patch.setenv(key, value)
        yield env
