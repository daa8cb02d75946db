"""S3 test helpers: clients on the session server, unique buckets, raw signed HTTP requests."""

from __future__ import annotations

import itertools
import uuid

import pytest

_COUNTER = itertools.count()


@pytest.fixture
def s3(server):
    return server.client("s3")


@pytest.fixture
def bucket(s3) -> str:
    name = f"t{next(_COUNTER)}-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name
