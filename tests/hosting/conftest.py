"""Fixtures for the hosting tests (helpers live in hosting_support.py)."""

from __future__ import annotations

import pytest

from hosting_support import Hosting


@pytest.fixture(scope="module")
def hosting(server) -> Hosting:
    return Hosting(server)
