"""Fixtures of the algorithm tests (helpers that are plain functions live in ``jobdir``)."""

from __future__ import annotations

import pytest

from jobdir import sdk_common


@pytest.fixture(scope="module")
def sdk():
    """``sagemaker.amazon.common``: the SDK's RecordIO-protobuf writers and reader."""
    return sdk_common()
