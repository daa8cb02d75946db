"""Fixtures for the Model Monitor tests (helpers live in monitor_support.py)."""

from __future__ import annotations

import pytest

from monitor_support import Monitor


@pytest.fixture(scope="module")
def monitor(server) -> Monitor:
    return Monitor(server)
