"""Protobuf wire format for many messages at once, with numpy (no per-message Python loop).

Building: a message under construction is a list of *leaves*; a leaf holds one byte string per
record (stored back to back) and its length. Nested messages are leaves prefixed by a tag and a
length leaf, and the bytes are written once, into the final RecordIO-framed buffer (:func:`frame_msg`).

Parsing: :func:`parse` reads the fields of many messages (byte spans of one buffer) together, one
field of every message per numpy step; nested messages are parsed by calling it on the field spans.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sagestack.formats import recordio
from sagestack.formats.recordio import FormatError


def excl_cumsum(lens: np.ndarray) -> np.ndarray:
    out = np.zeros(lens.shape[0], dtype=np.int64)
    if lens.shape[0] > 1:
        np.cumsum(lens[:-1], out=out[1:])
    return out


# A message under construction is a list of leaves; a leaf holds, for every record, a byte string
# (stored back to back; ``None`` = zero bytes) and its length. Leaves are written once, at the end.
Leaf = tuple[np.ndarray | None, np.ndarray]
Msg = list[Leaf]


def msg_size(msg: Msg) -> np.ndarray:
    total = np.zeros(msg[0][1].shape[0], dtype=np.int64)
    for _, lens in msg:
        total += lens
    return total


def frame_msg(msg: Msg) -> bytes:
    """RecordIO-framed records whose payloads are the per-record concatenation of ``msg``'s leaves."""
    lens = msg_size(msg)
    n = lens.shape[0]
    if n == 0:
        return b""
    if int(lens.max()) > recordio.LENGTH_MASK:
        raise FormatError("RecordIO: payload exceeds the 29-bit length field")
    heads = np.empty((n, 2), dtype="<u4")
    heads[:, 0] = recordio.MAGIC
    heads[:, 1] = lens
    padded = ((lens + 3) >> 2) << 2
    leaves = [(heads.view(np.uint8).reshape(-1), np.full(n, 8, dtype=np.int64)), *msg, (None, padded - lens)]
    total = padded + 8
    out = np.zeros(int(total.sum()), dtype=np.uint8)
    cursor = excl_cumsum(total)
    for flat, llens in leaves:
        if flat is not None and flat.shape[0]:
            width = int(llens[0])
            if flat.shape[0] == n * width and (llens == width).all():
                out[cursor[:, None] + np.arange(width)] = flat.reshape(n, width)
            else:
                out[np.repeat(cursor - excl_cumsum(llens), llens) + np.arange(flat.shape[0])] = flat
        cursor += llens
    return out.tobytes()


def const(data: bytes, present: np.ndarray) -> Leaf:
    """``data`` for each record where ``present`` is true, nothing elsewhere."""
    flat = np.tile(np.frombuffer(data, dtype=np.uint8), int(present.sum()))
    return flat, np.where(present, len(data), 0).astype(np.int64)


def varints(values: np.ndarray) -> Leaf:
    """Protobuf varints of uint64 ``values``, one per "record"."""
    v = np.asarray(values, dtype=np.uint64)
    nbytes = np.ones(v.shape[0], dtype=np.int64)
    for k in range(1, 10):
        big = v >= np.uint64(1 << (7 * k))
        if not big.any():
            break
        nbytes += big
    if (nbytes == 1).all():
        return v.astype(np.uint8), nbytes
    width = int(nbytes.max())
    k = np.arange(width, dtype=np.uint64)
    mat = ((v[:, None] >> (k * np.uint64(7))) & np.uint64(0x7F)).astype(np.uint8)
    mat |= ((k[None, :] + np.uint64(1)) < nbytes[:, None].astype(np.uint64)).astype(np.uint8) << 7
    return mat[k[None, :] < nbytes[:, None].astype(np.uint64)], nbytes


def sum_per_record(item_lens: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Sum of consecutive ``item_lens`` groups of sizes ``counts``."""
    if item_lens.shape[0] == 0:
        return np.zeros(counts.shape[0], dtype=np.int64)
    owner = np.repeat(np.arange(counts.shape[0]), counts)
    return np.bincount(owner, weights=item_lens, minlength=counts.shape[0]).astype(np.int64)


def length_delimited(tag: int, body: Msg, present: np.ndarray | None = None) -> Msg:
    """``tag varint(len) body`` per record; omitted where ``present`` is false (default: where empty)."""
    lens = msg_size(body)
    if present is None:
        present = lens > 0
    lv_flat, lv_lens = varints(lens[present])
    full_lv = np.zeros(lens.shape[0], dtype=np.int64)
    full_lv[present] = lv_lens
    return [const(bytes([tag]), present), (lv_flat, full_lv), *body]


@dataclass
class Fields:
    parent: np.ndarray  # index of the span each field belongs to
    number: np.ndarray
    wire: np.ndarray
    start: np.ndarray  # value bytes (LEN: payload; VARINT/I32/I64: the encoded bytes)
    end: np.ndarray

    def where(self, mask: np.ndarray) -> Fields:
        if mask.dtype == bool and mask.all():
            return self
        return Fields(self.parent[mask], self.number[mask], self.wire[mask], self.start[mask], self.end[mask])


def read_varint(buf: np.ndarray, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    last = buf.shape[0] - 1
    b = buf[np.minimum(pos, last)]
    val = (b & 0x7F).astype(np.uint64)
    length = np.ones(pos.shape[0], dtype=np.int64)
    idx = np.flatnonzero(b >= 0x80)
    shift = 7
    while idx.shape[0]:
        if shift > 63:
            raise FormatError("RecordIO-protobuf: malformed varint")
        b = buf[np.minimum(pos[idx] + length[idx], last)]
        val[idx] |= (b & 0x7F).astype(np.uint64) << np.uint64(shift)
        length[idx] += 1
        idx = idx[b >= 0x80]
        shift += 7
    return val, pos + length


def parse(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> Fields:
    """All fields of the messages in ``buf[starts[i]:ends[i]]``, ordered by (message, position)."""
    cur = starts.astype(np.int64).copy()
    active = np.flatnonzero(cur < ends)
    chunks: list[tuple[np.ndarray, ...]] = []
    while active.shape[0]:
        tag, pos = read_varint(buf, cur[active])
        wire = (tag & np.uint64(7)).astype(np.int64)
        number = (tag >> np.uint64(3)).astype(np.int64)
        vstart = pos.copy()
        vend = np.empty_like(pos)
        w0, w1, w2, w5 = wire == 0, wire == 1, wire == 2, wire == 5
        if not (w0 | w1 | w2 | w5).all():
            raise FormatError("RecordIO-protobuf: unsupported or malformed protobuf wire type")
        if w0.any():
            vend[w0] = read_varint(buf, pos[w0])[1]
        vend[w1] = pos[w1] + 8
        vend[w5] = pos[w5] + 4
        if w2.any():
            ln, after = read_varint(buf, pos[w2])
            vstart[w2] = after
            vend[w2] = after + ln.astype(np.int64)
        if (vend > ends[active]).any() or (number == 0).any():
            raise FormatError("RecordIO-protobuf: truncated or malformed record")
        chunks.append((active, number, wire, vstart, vend))
        cur[active] = vend
        active = active[vend < ends[active]]
    if not chunks:
        empty = np.zeros(0, dtype=np.int64)
        return Fields(empty, empty, empty, empty, empty)
    if all(c[0].shape[0] == chunks[0][0].shape[0] for c in chunks):
        # every message has the same number of fields: interleave instead of sorting
        return Fields(*(np.stack(c, axis=1).reshape(-1) for c in zip(*chunks)))
    cols = [np.concatenate(c) for c in zip(*chunks)]
    order = np.argsort(cols[0], kind="stable")
    return Fields(*(c[order] for c in cols))


def increasing(a: np.ndarray) -> bool:
    return bool(a.shape[0] < 2 or (a[1:] > a[:-1]).all())


def sorted_order(a: np.ndarray) -> np.ndarray | None:
    """A stable sorting permutation of ``a``, or None when ``a`` is already sorted."""
    if a.shape[0] < 2 or (a[1:] >= a[:-1]).all():
        return None
    return np.argsort(a, kind="stable")


def last_per_parent(parent: np.ndarray, n: int) -> np.ndarray:
    """Index (into ``parent``) of the last item of each parent, -1 where none (protobuf: last wins)."""
    out = np.full(n, -1, dtype=np.int64)
    if parent.shape[0] and increasing(parent):
        out[parent] = np.arange(parent.shape[0])
    elif parent.shape[0]:
        rev = parent[::-1]
        uniq, first = np.unique(rev, return_index=True)
        out[uniq] = parent.shape[0] - 1 - first
    return out


def gather(buf: np.ndarray, starts: np.ndarray, lens: np.ndarray) -> np.ndarray:
    """``buf[starts[i]:starts[i] + lens[i]]`` back to back."""
    if starts.shape[0] == 0:
        return np.zeros(0, dtype=np.uint8)
    longest = int(lens.max())
    total = int(lens.sum())
    if longest == 0:
        return np.zeros(0, dtype=np.uint8)
    if longest * starts.shape[0] <= 2 * total + 64 and buf.shape[0] >= longest:
        # copy whole rows of a sliding-window view (row copies, not byte indexing)
        windows = np.lib.stride_tricks.sliding_window_view(buf, longest)
        rows = windows[np.minimum(starts, buf.shape[0] - longest)]
        shift = starts - np.minimum(starts, buf.shape[0] - longest)
        if (lens == longest).all() and not shift.any():
            return rows.reshape(-1)
        cols = np.arange(longest)
        mask = (cols >= shift[:, None]) & (cols < (shift + lens)[:, None])
        return rows[mask]
    return buf[np.repeat(starts - excl_cumsum(lens), lens) + np.arange(total)]


def varint_stream(flat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Decode back-to-back varints; returns (values uint64, index of each value's last byte)."""
    term = np.flatnonzero(flat < 0x80)
    if flat.shape[0] and (term.shape[0] == 0 or term[-1] != flat.shape[0] - 1):
        raise FormatError("RecordIO-protobuf: truncated varint")
    if term.shape[0] == flat.shape[0]:
        return flat.astype(np.uint64), term
    starts = np.concatenate(([0], term[:-1] + 1))
    lens = term - starts + 1
    if lens.max() > 10:
        raise FormatError("RecordIO-protobuf: malformed varint")
    pos_in = np.arange(flat.shape[0]) - np.repeat(starts, lens)
    parts = (flat & 0x7F).astype(np.uint64) << (pos_in * 7).astype(np.uint64)
    return np.bitwise_or.reduceat(parts, starts), term
