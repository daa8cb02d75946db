"""The object store's stager: bytes handed over as received (lists of chunks, written with writev and
hashed in place) end up the same on disk and in every digest as one buffer."""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor

import pytest

from sagestack.objects import checksums as cks
from sagestack.objects.local import IOV_MAX, Stager


@pytest.mark.parametrize("pooled", [False, True])
def test_chunk_lists_stage_like_one_buffer(tmp_path, pooled):
    rng = os.urandom
    # more chunks than one writev takes, of odd sizes, some empty, bytes and bytearrays mixed
    chunks = [rng(n) for n in (1, 0, 65536, 7, 300_000)] + [bytearray(rng(97)) for _ in range(IOV_MAX + 5)]
    data = b"".join(chunks)
    pool = ThreadPoolExecutor(2) if pooled else None
    try:
        stager = Stager(tmp_path / "staged", ["crc32", "sha256"], sha256=True, pool=pool)
        stager.write(chunks[:3])
        stager.write(chunks[3:])
        stager.write(b"tail")
        staged = stager.finish()
    finally:
        if pool is not None:
            pool.shutdown()
    data += b"tail"
    assert staged.path.read_bytes() == data and staged.size == len(data)
    assert staged.md5 == hashlib.md5(data).digest()
    assert staged.sha256 == hashlib.sha256(data).hexdigest()
    assert staged.checksums == {"crc32": cks.of_bytes("crc32", data), "sha256": cks.of_bytes("sha256", data)}
