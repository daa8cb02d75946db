"""The sealed-frame format of objects stored encrypted: round trips, ranges, segments, tampering."""

from __future__ import annotations

import io
import os
import random

import pytest

from sagestack.objects.encryption import FRAME, CorruptObject, FrameSealer, open_sealed, sealed_size


def _seal(data: bytes, key: bytes, segment: int = 0, step: int = 100_000) -> bytes:
    sealer = FrameSealer(key, segment)
    out = []
    for start in range(0, len(data), step):
        out += sealer.update(data[start : start + step])
    out += sealer.finish()
    return b"".join(out)


@pytest.mark.parametrize("size", [0, 1, FRAME - 1, FRAME, FRAME + 1, 5 * FRAME + 17])
def test_round_trip_and_ranges(size):
    key, data = os.urandom(32), os.urandom(size)
    sealed = _seal(data, key, step=random.Random(size).randint(1, 3 * FRAME))
    assert len(sealed) == sealed_size(size)
    reader = open_sealed(io.BytesIO(sealed), key, [(0, size)])
    assert reader.read() == data
    rng = random.Random(1)
    for _ in range(25 if size else 0):
        first = rng.randrange(size)
        last = rng.randint(first, size)
        reader.seek(first)
        assert reader.read(last - first) == data[first:last]


def test_segments_concatenate():
    key = os.urandom(32)
    parts = [os.urandom(2 * FRAME + 5), os.urandom(9), b"", os.urandom(FRAME)]
    sealed = b"".join(_seal(p, key, number) for number, p in enumerate(parts, 1))
    reader = open_sealed(io.BytesIO(sealed), key, [(n, len(p)) for n, p in enumerate(parts, 1)])
    whole = b"".join(parts)
    reader.seek(2 * FRAME)
    assert reader.read(10) == whole[2 * FRAME : 2 * FRAME + 10]
    reader.seek(0)
    assert reader.read() == whole


def test_tampering_reordering_and_truncation_are_detected():
    key, data = os.urandom(32), os.urandom(3 * FRAME)
    sealed = _seal(data, key)
    flipped = bytearray(sealed)
    flipped[FRAME + 100] ^= 1
    with pytest.raises(CorruptObject):
        open_sealed(io.BytesIO(bytes(flipped)), key, [(0, len(data))]).read()
    frame = FRAME + 28
    swapped = sealed[frame : 2 * frame] + sealed[:frame] + sealed[2 * frame :]
    with pytest.raises(CorruptObject):
        open_sealed(io.BytesIO(swapped), key, [(0, len(data))]).read()
    with pytest.raises(CorruptObject):  # the last frame dropped: the one before it is not marked last
        open_sealed(io.BytesIO(sealed[: 2 * frame]), key, [(0, 2 * FRAME)]).read()
    with pytest.raises(CorruptObject):
        open_sealed(io.BytesIO(sealed), os.urandom(32), [(0, len(data))]).read()
    with pytest.raises(CorruptObject):  # a segment presented under another part number
        open_sealed(io.BytesIO(sealed), key, [(7, len(data))]).read()
