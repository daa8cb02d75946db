"""Fixtures for the Model Monitor tests (helpers live in monitor_support.py)."""

from __future__ import annotations

import pytest

from helpers import apply_client_env
from monitor_support import Monitor


@pytest.fixture(scope="module")
def monitor(server) -> Monitor:
    return Monitor(server)


@pytest.fixture(scope="module")
def sdk_module_env(server):
    """``sdk_env`` for a whole module (the SDK pointed at the server), for module-scoped SDK fixtures."""
    with pytest.MonkeyPatch.context() as patch:
        yield apply_client_env(patch, server)
