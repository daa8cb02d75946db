"""RecordIO framing: scanning paths, continuation records, truncation, chunked file streaming."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from sagestack.formats import recordio
from sagestack.formats.recordio import MAGIC, FormatError


def payloads_of(data) -> list[bytes]:
    spans, consumed = recordio.scan(data)
    assert consumed == len(data)
    return [spans.payload(i) for i in range(len(spans))]


def test_frame_layout_and_padding():
    framed = recordio.frame([b"abc", b"", b"abcd"])
    assert framed == (
        struct.pack("<II", MAGIC, 3)
        + b"abc\x00"
        + struct.pack("<II", MAGIC, 0)
        + struct.pack("<II", MAGIC, 4)
        + b"abcd"
    )
    assert payloads_of(framed) == [b"abc", b"", b"abcd"]
    flat = np.frombuffer(b"abc" + b"abcd", dtype=np.uint8)
    assert recordio.frame_flat(flat, np.array([3, 0, 4])) == framed


def test_uniform_records_take_the_strided_path():
    framed = recordio.frame([bytes([i]) * 6 for i in range(10)])
    spans, _ = recordio.scan(framed)
    assert spans.stride == 16 and len(spans) == 10
    assert spans.payload(9) == b"\x09" * 6


def test_payload_containing_aligned_magic_falls_back_to_sequential_scan():
    tricky = [b"\x00" * 4 + struct.pack("<I", MAGIC) + struct.pack("<I", 4) + b"zzzz", b"ab", b"xyz"]
    assert payloads_of(recordio.frame(tricky)) == tricky


def test_multipart_records_are_reassembled_with_magic_between_parts():
    def part(cflag: int, data: bytes) -> bytes:
        pad = (-len(data)) % 4
        return struct.pack("<II", MAGIC, cflag << 29 | len(data)) + data + b"\x00" * pad

    stream = (
        recordio.frame([b"one"])
        + part(1, b"abcd")
        + part(2, b"ef")
        + part(3, b"gh")
        + recordio.frame([b"two"])
    )
    magic = struct.pack("<I", MAGIC)
    assert payloads_of(stream) == [b"one", b"abcd" + magic + b"ef" + magic + b"gh", b"two"]
    with pytest.raises(FormatError, match="continuation"):
        recordio.scan(part(2, b"ef"))
    with pytest.raises(FormatError, match="unterminated"):
        recordio.scan(part(1, b"ab"))


def test_bad_magic_and_truncation_are_errors():
    framed = recordio.frame([b"hello world", b"again"])
    with pytest.raises(FormatError, match="magic"):
        recordio.scan(b"\x00" * 8 + framed)
    with pytest.raises(FormatError, match="truncated"):
        recordio.scan(framed[:-5])
    with pytest.raises(FormatError, match="truncated"):
        recordio.scan(framed[:4])
    spans, consumed = recordio.scan(framed[:-5], partial=True)
    assert len(spans) == 1 and consumed == 20


def test_iter_payloads_streams_a_file_in_small_chunks(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    payloads = [rng.bytes(int(n)) for n in rng.integers(0, 300, size=400)]
    payloads.append(b"x" * 5000)  # larger than a chunk
    path = tmp_path / "data.rec"
    path.write_bytes(recordio.frame(payloads))
    reads = []
    real_open = open

    class Spy:
        def __init__(self, fh):
            self.fh = fh

        def read(self, n):
            reads.append(n)
            return self.fh.read(n)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.fh.close()

    monkeypatch.setattr("builtins.open", lambda p, mode="r", *a, **k: Spy(real_open(p, mode, *a, **k)))
    assert list(recordio.iter_payloads(path, chunk_bytes=1024)) == payloads
    monkeypatch.undo()
    assert max(reads) < 8000 and len(reads) > 50  # read in chunks, never whole
    chunks = list(recordio.iter_spans([path, recordio.frame([b"mem"])], chunk_bytes=4096))
    assert len(chunks) > 10 and chunks[-1].payload(0) == b"mem"


def test_truncated_file_is_an_error(tmp_path):
    path = tmp_path / "bad.rec"
    path.write_bytes(recordio.frame([b"a" * 100, b"b" * 100])[:-10])
    with pytest.raises(FormatError, match="truncated"):
        list(recordio.iter_payloads(path, chunk_bytes=64))
