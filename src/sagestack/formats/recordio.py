"""MXNet RecordIO framing (spec algorithms.md §1.2.1), vectorised.

Each record is ``u32 magic 0xCED7230A``, ``u32 word`` (low 29 bits: payload length, top 3 bits: the
continuation flag ``cflag``), the payload, then zero padding to a multiple of 4 bytes. ``cflag`` 0 is a
complete record; 1/2/3 are the first/middle/last parts of a record that dmlc's writer split at an
aligned occurrence of the magic word: readers join the parts with the magic word re-inserted between
them. All integers are little-endian.

Record boundaries are found without a per-record Python loop when possible: first by checking whether
every record has the same length (the common dense layout), then by locating every aligned magic word
and checking that they chain; only when payloads contain aligned magic words does a sequential scan run.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

MAGIC = 0xCED7230A
MAGIC_BYTES = struct.pack("<I", MAGIC)
LENGTH_MASK = (1 << 29) - 1
DEFAULT_CHUNK_BYTES = 16 << 20
_CHECK_BLOCK_BYTES = 1 << 20  # rows_equal's block: inside a core's L2 cache

Source = bytes | bytearray | memoryview | str | os.PathLike


class FormatError(ValueError):
    """Data that does not follow the format it claims (bad framing, bad protobuf, bad CSV, ...)."""


@dataclass(frozen=True)
class Spans:
    """Payloads of complete records inside ``buffer``: ``buffer[offsets[i]:offsets[i] + lengths[i]]``.

    ``stride`` is set when records are laid out at a constant stride (all the same length), which lets
    decoders view the payloads as one 2-D array.
    """

    buffer: np.ndarray  # uint8, 1-D
    offsets: np.ndarray  # int64
    lengths: np.ndarray  # int64
    stride: int | None = None

    def __len__(self) -> int:
        return int(self.offsets.shape[0])

    def payload(self, i: int) -> bytes:
        start = int(self.offsets[i])
        return self.buffer[start : start + int(self.lengths[i])].tobytes()


def _padded(length: np.ndarray | int) -> np.ndarray | int:
    return ((length + 3) >> 2) << 2


def _as_uint8(data: bytes | bytearray | memoryview | np.ndarray) -> np.ndarray:
    if isinstance(data, np.ndarray):
        return data.reshape(-1).view(np.uint8)
    return np.frombuffer(memoryview(data).cast("B"), dtype=np.uint8)


def _words(buf: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Little-endian u32 at each byte position (positions must leave 4 bytes)."""
    b = buf[positions[:, None] + np.arange(4)].astype(np.uint32)
    return b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16) | (b[:, 3] << 24)


def scan(data: bytes | bytearray | memoryview | np.ndarray, *, partial: bool = False) -> tuple[Spans, int]:
    """Find the complete records in ``data`` (which must start at a record boundary).

    Returns the spans and the number of bytes consumed. With ``partial=False`` a truncated record at
    the end is an error; with ``partial=True`` it is left unconsumed (for chunked reading). Multi-part
    records (``cflag`` != 0) are reassembled into a new buffer.
    """
    buf = _as_uint8(data)
    size = buf.shape[0]
    if size == 0:
        return Spans(buf, np.zeros(0, np.int64), np.zeros(0, np.int64), None), 0
    if size < 8:
        if partial:
            return Spans(buf, np.zeros(0, np.int64), np.zeros(0, np.int64), None), 0
        raise FormatError(f"RecordIO: truncated record header ({size} bytes at offset 0)")
    magic, word = struct.unpack_from("<II", buf, 0)
    if magic != MAGIC:
        raise FormatError(f"RecordIO: bad magic number 0x{magic:08x} at offset 0")
    found = _scan_uniform(buf, word, partial)
    if found is None:
        found = _scan_magic_chain(buf, partial)
    if found is None:
        found = _scan_sequential(buf, partial)
    return found


def _scan_uniform(buf: np.ndarray, word: int, partial: bool) -> tuple[Spans, int] | None:
    if word >> 29:
        return None
    length = word
    stride = 8 + _padded(length)
    count = buf.shape[0] // stride
    if count == 0:
        return None
    heads = np.arange(count, dtype=np.int64) * stride
    if count > 1 and not rows_equal(buf, 0, stride, count, 8):
        return None
    consumed = count * stride
    rest = buf.shape[0] - consumed
    if rest and not partial:
        return None  # let the general scan report the exact problem
    if rest >= 8:
        magic, tail_word = struct.unpack_from("<II", buf, consumed)
        if magic != MAGIC:
            return None
    spans = Spans(buf, heads + 8, np.full(count, length, dtype=np.int64), stride)
    return spans, consumed


def rows_equal(buf: np.ndarray, offset: int, stride: int, count: int, width: int) -> bool:
    """Whether the ``width`` bytes at ``offset + i * stride`` are the same for every ``i < count``, compared
    as the widest unsigned words that offset, stride and width allow, one word column at a time (1-D
    strided views of ``buf``: no copy, and far faster in numpy than a 2-D compare with a short row), over
    blocks of rows small enough that the columns after the first find the block's lines in the cache."""
    if count <= 1 or width <= 0:
        return True
    address = buf.ctypes.data + offset
    for size in (8, 4, 2, 1):
        if not (address % size or stride % size or width % size):
            break
    dtype = np.dtype(f"<u{size}")
    first = np.ndarray((width // size,), dtype=dtype, buffer=buf, offset=offset)
    block = max(1, _CHECK_BLOCK_BYTES // stride)
    for row in range(0, count, block):
        rows = min(block, count - row)
        base = offset + row * stride
        for k, column in enumerate(range(base, base + width, size)):
            words = np.ndarray((rows,), dtype=dtype, buffer=buf, offset=column, strides=(stride,))
            if not (words == first[k]).all():
                return False
    return True


def _scan_magic_chain(buf: np.ndarray, partial: bool) -> tuple[Spans, int] | None:
    usable = buf.shape[0] & ~3
    words = np.frombuffer(buf, dtype="<u4", count=usable // 4)
    heads = np.flatnonzero(words == MAGIC).astype(np.int64) * 4
    heads = heads[heads + 8 <= buf.shape[0]]
    if heads.shape[0] == 0 or heads[0] != 0:
        return None
    lenwords = _words(buf, heads + 4)
    if (lenwords >> 29).any():
        return None
    lengths = (lenwords & LENGTH_MASK).astype(np.int64)
    nxt = heads + 8 + _padded(lengths)
    if heads.shape[0] > 1 and not (nxt[:-1] == heads[1:]).all():
        return None
    size = buf.shape[0]
    if int(heads[-1] + 8 + lengths[-1]) > size:  # truncated last record
        if not partial:
            return None
        heads, lengths, nxt = heads[:-1], lengths[:-1], nxt[:-1]
    consumed = min(int(nxt[-1]), size) if heads.shape[0] else 0
    if consumed < size and not partial:
        return None
    return Spans(buf, heads + 8, lengths, None), consumed


def _scan_sequential(buf: np.ndarray, partial: bool) -> tuple[Spans, int]:
    size = buf.shape[0]
    mv = memoryview(buf)
    offsets: list[int] = []
    lengths: list[int] = []
    assembled: list[tuple[int, bytes]] = []  # (index, joined payload) for multi-part records
    pos = 0
    consumed = 0
    parts: list[bytes] | None = None
    while pos < size:
        if size - pos < 8:
            if partial:
                break
            raise FormatError(f"RecordIO: truncated record header at offset {pos}")
        magic, word = struct.unpack_from("<II", mv, pos)
        if magic != MAGIC:
            raise FormatError(f"RecordIO: bad magic number 0x{magic:08x} at offset {pos}")
        cflag, length = word >> 29, word & LENGTH_MASK
        end = pos + 8 + length
        if end > size:
            if partial:
                break
            raise FormatError(
                f"RecordIO: truncated record at offset {pos} (needs {length} bytes, {size - pos - 8} left)"
            )
        nxt = min(pos + 8 + _padded(length), size)
        if cflag == 0:
            if parts is not None:
                raise FormatError(f"RecordIO: unterminated multi-part record before offset {pos}")
            offsets.append(pos + 8)
            lengths.append(length)
            consumed = nxt
        elif cflag == 1:
            if parts is not None:
                raise FormatError(f"RecordIO: unterminated multi-part record before offset {pos}")
            parts = [bytes(mv[pos + 8 : end])]
        elif cflag in (2, 3):
            if parts is None:
                raise FormatError(f"RecordIO: continuation record without a start at offset {pos}")
            parts.append(bytes(mv[pos + 8 : end]))
            if cflag == 3:
                assembled.append((len(offsets), MAGIC_BYTES.join(parts)))
                offsets.append(-1)
                lengths.append(0)
                parts = None
                consumed = nxt
        else:
            raise FormatError(f"RecordIO: invalid continuation flag {cflag} at offset {pos}")
        pos = nxt
    if parts is not None and not partial:
        raise FormatError("RecordIO: unterminated multi-part record at end of data")
    offs = np.asarray(offsets, dtype=np.int64)
    lens = np.asarray(lengths, dtype=np.int64)
    if not assembled:
        return Spans(buf, offs, lens, None), consumed
    # Rebuild one buffer holding every payload back to back (multi-part ones joined).
    pieces: list[bytes] = []
    extra = dict(assembled)
    new_offsets = np.zeros(len(offsets), dtype=np.int64)
    cursor = 0
    for i, (off, ln) in enumerate(zip(offsets, lengths)):
        piece = extra[i] if i in extra else bytes(mv[off : off + ln])
        pieces.append(piece)
        new_offsets[i] = cursor
        lens[i] = len(piece)
        cursor += len(piece)
    joined = np.frombuffer(b"".join(pieces), dtype=np.uint8)
    return Spans(joined, new_offsets, lens, None), consumed


def _open_source(source: Source) -> tuple[np.ndarray | None, Path | None]:
    if isinstance(source, (bytes, bytearray, memoryview, np.ndarray)):
        return _as_uint8(source), None
    return None, Path(source)


def iter_spans(
    sources: Source | Iterable[Source], chunk_bytes: int = DEFAULT_CHUNK_BYTES, *, reuse_buffer: bool = False
) -> Iterator[Spans]:
    """Record spans, chunk by chunk, over in-memory data or files (files are read ``chunk_bytes`` at a
    time, never whole); a file must end at a record boundary.

    With ``reuse_buffer`` every chunk of a file is read into the same buffer, so the spans (and anything
    viewing their buffer) are valid only until the next one is asked for: no fresh memory per chunk (a
    new 16 MB buffer per chunk costs its page faults, about as long as reading it)."""
    if isinstance(sources, (bytes, bytearray, memoryview, np.ndarray, str, os.PathLike)):
        sources = [sources]
    for source in sources:
        buf, path = _open_source(source)
        if buf is not None:
            spans, _ = scan(buf)
            if len(spans):
                yield spans
            continue
        with open(path, "rb") as fh:  # type: ignore[arg-type]
            yield from _iter_file_spans(fh, chunk_bytes, str(path), reuse_buffer)


def _iter_file_spans(
    fh: BinaryIO, chunk_bytes: int, name: str, reuse_buffer: bool = False
) -> Iterator[Spans]:
    leftover = np.zeros(0, dtype=np.uint8)
    want = max(chunk_bytes, 16)
    buffer: np.ndarray | None = None
    while True:
        # read straight into a buffer behind the previous chunk's unconsumed tail (no joined copy;
        # np.empty: no zero fill). Spans point into it; decoding copies what it keeps, unless the caller
        # asked for the buffer to be reused (then the tail, at most one record, is copied out first).
        carried = leftover.shape[0]
        if reuse_buffer:
            leftover = leftover.copy()
            if buffer is None or buffer.shape[0] < carried + want:
                # room for a carried tail too, so the next chunks fit (a new buffer is fresh memory)
                buffer = np.empty(carried + want + max(want >> 4, 4096), dtype=np.uint8)
            data = buffer[: carried + want]
        else:
            data = np.empty(carried + want, dtype=np.uint8)
        data[:carried] = leftover
        got = _read_into(fh, data[carried:])
        eof = got < want
        data = data[: carried + got]
        if not data.shape[0]:
            return
        try:
            spans, consumed = scan(data, partial=not eof)
        except FormatError as exc:
            raise FormatError(f"{exc} (file {name})") from None
        if len(spans):
            yield spans
        leftover = data[consumed:]
        if eof:
            if leftover.shape[0]:
                raise FormatError(f"RecordIO: truncated record at end of file {name}")
            return
        if consumed == 0:
            # One record larger than the chunk: read enough for it.
            if len(leftover) >= 8:
                _, word = struct.unpack_from("<II", leftover[:8].tobytes(), 0)
                want = max(chunk_bytes, 8 + _padded(word & LENGTH_MASK) - len(leftover) + 8)
            else:
                want = chunk_bytes
        else:
            want = chunk_bytes


def _read_into(fh: BinaryIO, target: np.ndarray) -> int:
    """Fill ``target`` from ``fh`` (short only at end of file); the number of bytes read."""
    view = memoryview(target)
    total = 0
    readinto = getattr(fh, "readinto", None)
    if readinto is None:  # a reader with read() only
        block = fh.read(len(view))
        view[: len(block)] = block
        return len(block)
    while total < len(view):
        got = readinto(view[total:])
        if not got:
            break
        total += got
    return total


def iter_payloads(
    sources: Source | Iterable[Source], chunk_bytes: int = DEFAULT_CHUNK_BYTES
) -> Iterator[bytes]:
    """Each record payload as bytes (per-record; use :func:`iter_spans` on hot paths)."""
    for spans in iter_spans(sources, chunk_bytes):
        buf = spans.buffer
        for off, ln in zip(spans.offsets.tolist(), spans.lengths.tolist()):
            yield buf[off : off + ln].tobytes()


def frame(payloads: Iterable[bytes | bytearray | memoryview]) -> bytes:
    """RecordIO-frame each payload (complete records, cflag 0) as the SDK's ``_write_recordio`` does."""
    out = bytearray()
    for payload in payloads:
        length = len(payload)
        if length > LENGTH_MASK:
            raise FormatError(f"RecordIO: payload of {length} bytes exceeds the 29-bit length field")
        out += struct.pack("<II", MAGIC, length)
        out += payload
        out += b"\x00" * (_padded(length) - length)
    return bytes(out)


def frame_flat(flat: np.ndarray, lengths: np.ndarray) -> bytes:
    """Frame payloads stored back to back in ``flat`` (uint8) with per-record ``lengths``, vectorised."""
    lengths = np.asarray(lengths, dtype=np.int64)
    n = lengths.shape[0]
    if n == 0:
        return b""
    if int(lengths.max()) > LENGTH_MASK:
        raise FormatError("RecordIO: payload exceeds the 29-bit length field")
    total = 8 + _padded(lengths)
    starts = np.zeros(n, dtype=np.int64)
    np.cumsum(total[:-1], out=starts[1:])
    out = np.zeros(int(total.sum()), dtype=np.uint8)
    heads = np.empty((n, 2), dtype="<u4")
    heads[:, 0] = MAGIC
    heads[:, 1] = lengths
    head_idx = starts[:, None] + np.arange(8)
    out[head_idx] = heads.view(np.uint8).reshape(n, 8)
    if flat.shape[0]:
        src_starts = np.zeros(n, dtype=np.int64)
        np.cumsum(lengths[:-1], out=src_starts[1:])
        dest = np.repeat(starts + 8 - src_starts, lengths) + np.arange(flat.shape[0], dtype=np.int64)
        out[dest] = flat
    return out.tobytes()
