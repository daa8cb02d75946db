"""RecordIO-protobuf (``application/x-recordio-protobuf``, spec algorithms.md §1.2), vectorised.

Records are ``aialgs.data.Record`` protobuf messages (schema in §1.2.2) inside RecordIO framing. This
module encodes and decodes them without the protobuf runtime:

* encoding builds every record at once from numpy "pieces" (per-record byte strings stored back to
  back) and is byte-identical to the SDK's ``write_numpy_to_dense_tensor`` /
  ``write_spmatrix_to_sparse_tensor``;
* decoding first tries the layout the SDK writes for dense data (every record the same length and the
  same bytes apart from the numbers), which is read as one 2-D byte array; anything else goes through a
  general wire-format parser that handles one protobuf field of *all* records per numpy step.

Features are returned as float32 (dense ``np.ndarray`` or ``scipy.sparse.csr_matrix``); labels as
float32, or float64 when the label tensors are Float64/Int32.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sagestack.formats import recordio
from sagestack.formats.protobuf_wire import (
    Fields,
    Leaf,
    Msg,
    const,
    excl_cumsum,
    frame_msg,
    gather,
    increasing,
    last_per_parent,
    length_delimited,
    parse,
    sorted_order,
    sum_per_record,
    varint_stream,
    varints,
)
from sagestack.formats.recordio import FormatError, Spans

FLOAT32, FLOAT64, INT32, BYTES = 2, 3, 7, 9  # Value oneof field numbers
_TENSOR_TYPES = (FLOAT32, FLOAT64, INT32)
_VALUES_KEY = b"values"

Paths = str | os.PathLike | Sequence[str | os.PathLike]
TRANSIENT_CHUNK_BYTES = 1 << 20  # iter_batches(transient=True)'s read size: stays in the L2 cache


# --------------------------------------------------------------------------------------------------
# Decoded batches


@dataclass
class RecordBatch:
    """Decoded records: ``features`` (n × d float32, dense or CSR), ``labels`` (``label["values"]``:
    shape (n,) when every record has one value, (n, k) for k values, else None) and ``label_maps``
    (every label key → array like ``labels``; object array of per-record arrays when ragged)."""

    features: Any
    labels: np.ndarray | None = None
    label_maps: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.features.shape[0])

    @property
    def is_sparse(self) -> bool:
        return not isinstance(self.features, np.ndarray)

    def slice(self, start: int, stop: int) -> RecordBatch:
        return RecordBatch(
            self.features[start:stop],
            None if self.labels is None else self.labels[start:stop],
            {k: v[start:stop] for k, v in self.label_maps.items()},
        )

    @staticmethod
    def concat(batches: Sequence[RecordBatch]) -> RecordBatch:
        if len(batches) == 1:
            return batches[0]
        if not batches:
            return RecordBatch(np.zeros((0, 0), np.float32))
        if any(b.is_sparse for b in batches):
            import scipy.sparse as sp

            width = max(b.features.shape[1] for b in batches)
            mats = []
            for b in batches:
                m = sp.csr_matrix(b.features, dtype=np.float32)
                if m.shape[1] != width:
                    m.resize((m.shape[0], width))
                mats.append(m)
            features = sp.vstack(mats, format="csr", dtype=np.float32)
        else:
            dims = {b.features.shape[1] for b in batches if len(b)}
            if len(dims) > 1:
                raise FormatError(
                    f"RecordIO-protobuf: records have different feature dimensions {sorted(dims)}"
                )
            features = np.concatenate([b.features for b in batches if len(b)] or [batches[0].features])
        with_labels = [b.labels is not None for b in batches if len(b)]
        if any(with_labels) and not all(with_labels):
            raise FormatError("RecordIO-protobuf: some records have a label and others do not")
        labels = (
            np.concatenate([b.labels for b in batches if b.labels is not None]) if any(with_labels) else None
        )
        keys = {k for b in batches for k in b.label_maps}
        maps = {}
        for key in keys:
            parts = [b.label_maps[key] for b in batches if key in b.label_maps]
            if len(parts) == len(batches):
                maps[key] = np.concatenate(parts)
        return RecordBatch(features, labels, maps)


# --------------------------------------------------------------------------------------------------
# Encoding


def _resolve_type(dtype: np.dtype) -> int:
    dtype = np.dtype(dtype)
    if dtype == np.float32 or dtype == np.float16:
        return FLOAT32
    if dtype == np.float64:
        return FLOAT64
    if dtype.kind in "iub":
        return INT32
    raise FormatError(f"Unsupported dtype {dtype} on array")


def _values_bytes(values: np.ndarray, counts: np.ndarray, ttype: int) -> Leaf:
    """Packed-repeated payload of each record's values (``counts`` values per record)."""
    if ttype == FLOAT32:
        flat = np.ascontiguousarray(values, dtype="<f4").view(np.uint8).reshape(-1)
        return flat, counts * 4
    if ttype == FLOAT64:
        flat = np.ascontiguousarray(values, dtype="<f8").view(np.uint8).reshape(-1)
        return flat, counts * 8
    ints = np.asarray(values).astype(np.int64, copy=False).reshape(-1)
    if ints.shape[0] and (ints.min() < -(2**31) or ints.max() > 2**31 - 1):
        bad = ints[(ints < -(2**31)) | (ints > 2**31 - 1)][0]
        raise FormatError(f"Value out of range: {bad}")
    flat, item_lens = varints(ints.view(np.uint64))
    return flat, sum_per_record(item_lens, counts)


def _tensor(
    values: np.ndarray,
    counts: np.ndarray,
    ttype: int,
    keys: np.ndarray | None = None,
    shape: np.ndarray | None = None,
    present: np.ndarray | None = None,
) -> Msg:
    """A Value message holding one tensor per record (only where ``present``, default everywhere)."""
    n = counts.shape[0]
    tensor = length_delimited(0x0A, [_values_bytes(values, counts, ttype)])
    if keys is not None:
        kflat, klens = varints(np.asarray(keys, dtype=np.uint64))
        tensor += length_delimited(0x12, [(kflat, sum_per_record(klens, counts))])
    if shape is not None:
        tensor += length_delimited(0x1A, [varints(np.asarray(shape, dtype=np.uint64))])
    return length_delimited(ttype << 3 | 2, tensor, np.ones(n, dtype=bool) if present is None else present)


def _map_entry(record_tag: int, key: bytes, value: Msg, present: np.ndarray) -> Msg:
    """``features``/``label`` map entry ``{key, value}`` for the records where ``present``."""
    if len(key) >= 128:
        raise FormatError("map keys longer than 127 bytes are not supported")
    entry = [const(bytes([0x0A, len(key)]) + key, present), *length_delimited(0x12, value, present)]
    return length_delimited(record_tag, entry, present)


def _dense_template(X: np.ndarray, labels: np.ndarray | None, ftype: int, ltype: int | None) -> bytes | None:
    """Fast path for float tensors (fixed-width, so every record has the same bytes around them)."""
    n, d = X.shape
    if ftype == INT32 or (labels is not None and ltype == INT32) or n == 0 or d == 0:
        return None
    first = _encode_rows(X[:1], None if labels is None else labels[:1], ftype, ltype)
    payload_len = struct.unpack_from("<I", first, 4)[0]
    width = 4 if ftype == FLOAT32 else 8
    vbytes = d * width
    template = np.frombuffer(first, dtype=np.uint8)
    out = np.empty((n, template.shape[0]), dtype=np.uint8)
    out[:] = template
    # locate the feature bytes: after "0a LEN 0a 06 values 12 LEN T LEN 0a LEN"
    fstart = _feature_offset(first)
    out[:, fstart : fstart + vbytes] = (
        np.ascontiguousarray(X, dtype="<f4" if ftype == FLOAT32 else "<f8").view(np.uint8).reshape(n, vbytes)
    )
    if labels is not None:
        lwidth = 4 if ltype == FLOAT32 else 8
        lstart = 8 + payload_len - lwidth
        out[:, lstart : lstart + lwidth] = (
            np.ascontiguousarray(labels, dtype="<f4" if ltype == FLOAT32 else "<f8")
            .view(np.uint8)
            .reshape(n, lwidth)
        )
    return out.tobytes()


def _feature_offset(framed: bytes) -> int:
    """Offset of the first feature value in a framed dense record:
    ``hdr 0a LEN 0a 06 "values" 12 LEN <tensor tag> LEN 0a LEN values...``."""
    pos = _skip_varint(framed, 9) + 9  # entry length, then key field and the Value tag
    pos = _skip_varint(framed, pos) + 1  # Value length, then the tensor tag
    pos = _skip_varint(framed, pos) + 1  # tensor length, then the packed-values tag
    return _skip_varint(framed, pos)


def _skip_varint(data: bytes, pos: int) -> int:
    while data[pos] & 0x80:
        pos += 1
    return pos + 1


def _encode_rows(
    X: np.ndarray,
    labels: np.ndarray | None,
    ftype: int,
    ltype: int | None,
    keys: np.ndarray | None = None,
    counts: np.ndarray | None = None,
    shape: int | None = None,
) -> bytes:
    n = X.shape[0] if counts is None else counts.shape[0]
    if counts is None:
        counts = np.full(n, X.shape[1], dtype=np.int64)
        values = X.reshape(-1)
    else:
        values = X
    everyone = np.ones(n, dtype=bool)
    shape_arr = None if shape is None else np.full(n, shape, dtype=np.uint64)
    record = _map_entry(0x0A, _VALUES_KEY, _tensor(values, counts, ftype, keys, shape_arr), everyone)
    if labels is not None:
        ones = np.ones(n, dtype=np.int64)
        record += _map_entry(0x12, _VALUES_KEY, _tensor(labels, ones, ltype), everyone)
    return frame_msg(record)


def _check_labels(labels: Any, n: int) -> np.ndarray | None:
    if labels is None:
        return None
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise FormatError("Labels must be a Vector")
    if labels.shape[0] != n:
        raise FormatError(f"Label shape {labels.shape} not compatible with {n} rows")
    return labels


def encode_dense(X: np.ndarray, labels: np.ndarray | None = None) -> bytes:
    """RecordIO-protobuf of a 2-D array, one Record per row; same bytes as the SDK's
    ``write_numpy_to_dense_tensor`` (dtype → tensor type: float32 → Float32, float64 → Float64,
    integers → Int32)."""
    X = np.asarray(X)
    if X.ndim != 2:
        raise FormatError("Array must be a Matrix")
    labels = _check_labels(labels, X.shape[0])
    ftype = _resolve_type(X.dtype)
    ltype = None if labels is None else _resolve_type(labels.dtype)
    fast = _dense_template(X, labels, ftype, ltype)
    return fast if fast is not None else _encode_rows(X, labels, ftype, ltype)


def encode_sparse(X: Any, labels: np.ndarray | None = None) -> bytes:
    """RecordIO-protobuf of a scipy sparse matrix (CSR rows: values, keys = column indices,
    shape = [n_cols]); same bytes as the SDK's ``write_spmatrix_to_sparse_tensor``."""
    import scipy.sparse as sp

    if not sp.issparse(X):
        raise FormatError("Array must be sparse")
    if len(X.shape) != 2:
        raise FormatError("Array must be a Matrix")
    csr = X.tocsr()
    n, d = csr.shape
    labels = _check_labels(labels, n)
    ftype = _resolve_type(csr.dtype)
    ltype = None if labels is None else _resolve_type(labels.dtype)
    counts = np.diff(csr.indptr).astype(np.int64)
    lo, hi = int(csr.indptr[0]), int(csr.indptr[-1])
    return _encode_rows(
        csr.data[lo:hi],
        labels,
        ftype,
        ltype,
        keys=csr.indices[lo:hi].astype(np.uint64),
        counts=counts,
        shape=d,
    )


def encode_label_columns(columns: Mapping[str, Any], n: int | None = None) -> bytes:
    """Response records (§1.3.3) from per-key columns: ``{"score": (n,), "projection": (n, k)}`` →
    one Record per row, ``features`` empty, each key a Float32 tensor in ``label``."""
    items = []
    for key, col in columns.items():
        arr = np.asarray(col, dtype=np.float32)
        if arr.ndim == 1:
            arr = arr[:, None]
        arr = arr.reshape(arr.shape[0], -1)
        items.append((key, arr.reshape(-1), np.full(arr.shape[0], arr.shape[1], dtype=np.int64), None))
    if n is None:
        n = items[0][2].shape[0] if items else 0
    return _encode_label_items(items, n)


def _encode_label_items(items: list[tuple[str, np.ndarray, np.ndarray, np.ndarray | None]], n: int) -> bytes:
    record: Msg = []
    for key, flat, counts, present in items:
        if counts.shape[0] != n:
            raise FormatError(f"label column {key!r} has {counts.shape[0]} rows, expected {n}")
        if present is None:
            present = np.ones(n, dtype=bool)
        value = _tensor(flat, counts, FLOAT32, present=present)
        record += _map_entry(0x12, key.encode(), value, present)
    if not record:
        record = [(None, np.zeros(n, dtype=np.int64))]
    return frame_msg(record)


def encode_records(records: Sequence[Mapping[str, Any]]) -> bytes:
    """Response records as 1P containers send them: each dict is one Record's ``label`` map
    (``{"score": 0.3, "predicted_label": 1.0}``, ``{"projection": [..]}``), values as Float32
    tensors, ``features`` empty. Readable by the SDK's ``RecordDeserializer``."""
    n = len(records)
    keys: dict[str, None] = {}
    for rec in records:
        for key in rec:
            keys.setdefault(key, None)
    items = []
    for key in keys:
        present = np.array([key in rec for rec in records], dtype=bool)
        arrays = [np.asarray(rec[key], dtype=np.float32).reshape(-1) for rec in records if key in rec]
        counts = np.zeros(n, dtype=np.int64)
        counts[present] = [a.shape[0] for a in arrays]
        flat = np.concatenate(arrays) if arrays else np.zeros(0, np.float32)
        items.append((key, flat, counts, present))
    return _encode_label_items(items, n)


# --------------------------------------------------------------------------------------------------
# Decoding: general vectorised wire parser


def _field_values(buf: np.ndarray, f: Fields, kind: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Numbers held by fields ``f`` (packed or not) whose tensor kinds are ``kind``.

    Returns (values, count per field); values are float32 when every field is Float32, else float64. ``kind`` is FLOAT32/FLOAT64/INT32, or 0 for uint64
    (keys/shape)."""
    nf = f.parent.shape[0]
    counts = np.zeros(nf, dtype=np.int64)
    pieces: list[tuple[np.ndarray, np.ndarray]] = []  # (field indices, values)
    lens = f.end - f.start
    for k, width, dtype in ((FLOAT32, 4, "<f4"), (FLOAT64, 8, "<f8")):
        sel = np.flatnonzero(kind == k)
        if sel.shape[0]:
            expected_wire = 5 if width == 4 else 1
            if ((f.wire[sel] != 2) & (f.wire[sel] != expected_wire)).any() or (lens[sel] % width).any():
                raise FormatError("RecordIO-protobuf: malformed float tensor values")
            counts[sel] = lens[sel] // width
            pieces.append((sel, gather(buf, f.start[sel], lens[sel]).view(dtype)))
    sel = np.flatnonzero((kind == INT32) | (kind == 0))
    if sel.shape[0]:
        if ((f.wire[sel] != 2) & (f.wire[sel] != 0)).any():
            raise FormatError("RecordIO-protobuf: malformed integer tensor values")
        flat = gather(buf, f.start[sel], lens[sel])
        values, term = varint_stream(flat)
        byte_owner = np.repeat(np.arange(sel.shape[0]), lens[sel])
        counts[sel] = np.bincount(byte_owner[term], minlength=sel.shape[0])
        # a varint must not run across a field boundary
        ends_at = np.cumsum(lens[sel]) - 1
        nonempty = lens[sel] > 0
        if nonempty.any() and (flat[ends_at[nonempty]] >= 0x80).any():
            raise FormatError("RecordIO-protobuf: truncated varint")
        is_int32 = kind[sel] == INT32
        owner_of_value = byte_owner[term]
        as_int = values.astype(np.uint32).view(np.int32).astype(np.float64)
        as_uint = values.astype(np.float64)
        pieces.append((sel, np.where(is_int32[owner_of_value], as_int, as_uint)))
    if len(pieces) == 1 and pieces[0][0].shape[0] == nf:
        return pieces[0][1], counts  # one kind: already in field order
    out = np.empty(int(counts.sum()), dtype=np.float64)
    starts = excl_cumsum(counts)
    for sel, vals in pieces:
        c = counts[sel]
        dest = np.repeat(starts[sel] - excl_cumsum(c), c) + np.arange(vals.shape[0])
        out[dest] = vals
    return out, counts


def _key_ids(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> tuple[list[bytes], np.ndarray]:
    """Group map keys by content: (distinct names, name index per entry)."""
    n = starts.shape[0]
    ids = np.zeros(n, dtype=np.int64)
    names: list[bytes] = []
    lens = ends - starts
    for length in np.unique(lens):
        sel = np.flatnonzero(lens == length)
        if length == 0:
            uniq, inv = [b""], np.zeros(sel.shape[0], dtype=np.int64)
        else:
            mat = np.ascontiguousarray(buf[starts[sel, None] + np.arange(int(length))])
            if (mat == mat[0]).all():
                uniq, inv = [mat[0].tobytes()], np.zeros(sel.shape[0], dtype=np.int64)
            else:
                rows = mat.view(np.dtype((np.void, int(length)))).reshape(-1)
                u, inv = np.unique(rows, return_inverse=True)
                uniq = [bytes(x) for x in u]
        ids[sel] = np.asarray(inv).reshape(-1) + len(names)
        names.extend(uniq)
    return names, ids


@dataclass
class _Tensors:
    """One tensor per (record, map, key) after last-wins resolution."""

    record: np.ndarray
    kind: np.ndarray
    values: np.ndarray  # float64, back to back
    counts: np.ndarray
    keys: np.ndarray | None  # uint64-valued floats, back to back (None when no tensor has keys)
    key_counts: np.ndarray
    shape0: np.ndarray  # first shape value, -1 when absent


def _parse_records(spans: Spans) -> dict[tuple[int, bytes], _Tensors]:
    buf = spans.buffer
    top = parse(buf, spans.offsets, spans.offsets + spans.lengths)
    entries = top.where(((top.number == 1) | (top.number == 2)) & (top.wire == 2))
    inner = parse(buf, entries.start, entries.end)
    keyf = inner.where((inner.number == 1) & (inner.wire == 2))
    valf = inner.where((inner.number == 2) & (inner.wire == 2))
    n_ent = entries.parent.shape[0]
    kidx = last_per_parent(keyf.parent, n_ent)
    vidx = last_per_parent(valf.parent, n_ent)
    kstart = np.where(kidx >= 0, keyf.start[kidx], 0)
    kend = np.where(kidx >= 0, keyf.end[kidx], 0)
    names, name_ids = _key_ids(buf, kstart, kend)
    has_value = vidx >= 0
    vsel = vidx[has_value]
    vparsed = parse(buf, valf.start[vsel], valf.end[vsel])  # parent: index into vsel
    tens = vparsed.where(np.isin(vparsed.number, (*_TENSOR_TYPES, BYTES)) & (vparsed.wire == 2))
    tlast = last_per_parent(tens.parent, vsel.shape[0])
    # entry -> tensor (kind, span); entries with an empty Value or a bytes value get kind 0
    ent_kind = np.zeros(n_ent, dtype=np.int64)
    ent_tstart = np.zeros(n_ent, dtype=np.int64)
    ent_tend = np.zeros(n_ent, dtype=np.int64)
    ent_with_value = np.flatnonzero(has_value)
    ok = tlast >= 0
    ent_kind[ent_with_value[ok]] = tens.number[tlast[ok]]
    ent_tstart[ent_with_value[ok]] = tens.start[tlast[ok]]
    ent_tend[ent_with_value[ok]] = tens.end[tlast[ok]]
    ent_kind[ent_kind == BYTES] = -1
    # last entry per (record, map, key)
    group = (entries.parent * 2 + (entries.number - 1)) * max(len(names), 1) + name_ids
    if increasing(group):
        chosen = np.arange(n_ent)
    else:
        _, first = np.unique(group[::-1], return_index=True)
        chosen = n_ent - 1 - first  # sorted by group -> by record within each (map, key)
    chosen_map = entries.number[chosen]
    chosen_name = name_ids[chosen]
    result: dict[tuple[int, bytes], _Tensors] = {}
    tfields = parse(buf, ent_tstart[chosen], ent_tend[chosen])  # parent: index into chosen
    for map_no in (1, 2):
        for name_id, name in enumerate(names):
            sel = np.flatnonzero((chosen_map == map_no) & (chosen_name == name_id))
            if sel.shape[0] == 0:
                continue
            if (ent_kind[chosen[sel]] < 0).any() and not (map_no == 1 and name == _VALUES_KEY):
                continue  # Bytes values under other keys are not ours to decode
            result[(map_no, name)] = _tensors_for(buf, sel, chosen, entries, ent_kind, tfields)
    return result


def _tensors_for(
    buf: np.ndarray,
    sel: np.ndarray,
    chosen: np.ndarray,
    entries: Fields,
    ent_kind: np.ndarray,
    tfields: Fields,
) -> _Tensors:
    m = sel.shape[0]
    kinds = ent_kind[chosen[sel]]
    if (kinds < 0).any():
        raise FormatError("RecordIO-protobuf: Bytes tensors are not supported here")
    pos_of = np.full(chosen.shape[0], -1, dtype=np.int64)
    pos_of[sel] = np.arange(m)
    fpos = pos_of[tfields.parent]
    mine = fpos >= 0
    f = tfields.where(mine)
    fpos = fpos[mine]
    order = sorted_order(fpos)
    if order is not None:
        f, fpos = f.where(order), fpos[order]
    vmask = f.number == 1
    values, vcounts = _field_values(buf, f.where(vmask), kinds[fpos[vmask]])
    counts = np.bincount(fpos[vmask], weights=vcounts, minlength=m).astype(np.int64)
    kmask = f.number == 2
    keys = None
    key_counts = np.zeros(m, dtype=np.int64)
    if kmask.any():
        keys, kc = _field_values(buf, f.where(kmask), np.zeros(int(kmask.sum()), dtype=np.int64))
        key_counts = np.bincount(fpos[kmask], weights=kc, minlength=m).astype(np.int64)
    smask = f.number == 3
    shape0 = np.full(m, -1, dtype=np.int64)
    if smask.any():
        svals, sc = _field_values(buf, f.where(smask), np.zeros(int(smask.sum()), dtype=np.int64))
        sfirst = excl_cumsum(sc)
        owners = fpos[smask]
        has = sc > 0
        # first shape value of each tensor: the first field of each owner that has values
        firsts = np.unique(owners[has], return_index=True)
        shape0[firsts[0]] = svals[sfirst[np.flatnonzero(has)[firsts[1]]]].astype(np.int64)
    return _Tensors(entries.parent[chosen[sel]], kinds, values, counts, keys, key_counts, shape0)


def _per_record(t: _Tensors, n: int, dtype: Any) -> np.ndarray:
    """A tensor column as (n,), (n, k) or an object array of per-record arrays (None where absent)."""
    present = np.zeros(n, dtype=bool)
    present[t.record] = True
    if present.all() and (t.counts == t.counts[0]).all():
        k = int(t.counts[0]) if t.counts.shape[0] else 0
        vals = t.values.astype(dtype)
        if k == 1:
            return vals
        return vals.reshape(n, k)
    out = np.empty(n, dtype=object)
    splits = np.split(t.values.astype(dtype), np.cumsum(t.counts)[:-1])
    for rec, arr in zip(t.record.tolist(), splits):
        out[rec] = arr
    return out


def _label_dtype(t: _Tensors) -> Any:
    return np.float32 if (t.kind == FLOAT32).all() else np.float64


def _features(t: _Tensors | None, n: int) -> Any:
    if t is None:
        return np.zeros((n, 0), dtype=np.float32)
    if t.record.shape[0] != n:
        missing = np.setdiff1d(np.arange(n), t.record)[0]
        raise FormatError(f"RecordIO-protobuf: record {missing} has no features['values']")
    if t.keys is None and not (t.shape0 >= 0).any():
        d = int(t.counts[0]) if n else 0
        if not (t.counts == d).all():
            other = int(t.counts[t.counts != d][0])
            raise FormatError(
                f"RecordIO-protobuf: records have different feature dimensions ({d} and {other})"
            )
        return t.values.astype(np.float32).reshape(n, d)
    import scipy.sparse as sp

    keys = t.keys if t.keys is not None else np.zeros(0, dtype=np.float64)
    dense_rows = t.key_counts == 0
    bad = ~dense_rows & (t.key_counts != t.counts)
    if bad.any():
        raise FormatError("RecordIO-protobuf: sparse tensor has different numbers of keys and values")
    if dense_rows.any():
        row_of_value = np.repeat(np.arange(n), t.counts)
        within = np.arange(t.values.shape[0]) - excl_cumsum(t.counts)[row_of_value]
        key_pos = np.minimum(excl_cumsum(t.key_counts)[row_of_value] + within, max(keys.shape[0] - 1, 0))
        cols = (
            within
            if not keys.shape[0]
            else np.where(dense_rows[row_of_value], within, keys[key_pos].astype(np.int64))
        )
    else:
        cols = keys.astype(np.int64)
    width = int(max(t.shape0.max(initial=-1), cols.max(initial=-1) + 1, 0))
    indptr = np.concatenate(([0], np.cumsum(t.counts)))
    return sp.csr_matrix((t.values.astype(np.float32), cols, indptr), shape=(n, width))


def _decode_general(spans: Spans) -> RecordBatch:
    n = len(spans)
    tensors = _parse_records(spans)
    features = _features(tensors.get((1, _VALUES_KEY)), n)
    label_maps: dict[str, np.ndarray] = {}
    for (map_no, name), t in tensors.items():
        if map_no == 2:
            label_maps[name.decode("utf-8", "replace")] = _per_record(t, n, _label_dtype(t))
    labels = label_maps.get("values")
    if labels is not None and labels.dtype == object:
        if any(v is None for v in labels):
            raise FormatError("RecordIO-protobuf: some records have a label and others do not")
    return RecordBatch(features, labels, label_maps)


# --------------------------------------------------------------------------------------------------
# Decoding: fast path for uniform dense records


def _layout(payload: bytes) -> list[tuple[int, int, int, int]] | None:
    """For a Record with only ``features["values"]`` and optionally ``label["values"]`` (each one
    tensor with one packed ``values`` field), [(map 1|2, kind, value start, value end)]."""
    out = []
    pos = 0
    seen = set()
    try:
        while pos < len(payload):
            tag = payload[pos]
            if tag not in (0x0A, 0x12) or tag in seen:
                return None
            seen.add(tag)
            ln, pos = _varint_at(payload, pos + 1)
            end = pos + ln
            if payload[pos : pos + 8] != b"\x0a\x06values" or payload[pos + 8] != 0x12:
                return None
            vlen, p = _varint_at(payload, pos + 9)
            if p + vlen != end:
                return None
            kind = payload[p] >> 3
            if kind not in _TENSOR_TYPES or payload[p] & 7 != 2:
                return None
            tlen, p = _varint_at(payload, p + 1)
            if p + tlen != end:
                return None
            if tlen == 0:
                out.append((1 if tag == 0x0A else 2, kind, p, p))
            else:
                if payload[p] != 0x0A:
                    return None
                plen, p = _varint_at(payload, p + 1)
                if p + plen != end:
                    return None
                out.append((1 if tag == 0x0A else 2, kind, p, end))
            pos = end
    except IndexError:
        return None
    return out if out and out[0][0] == 1 else None


def _varint_at(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        b = data[pos]
        value |= (b & 0x7F) << shift
        pos += 1
        if b < 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            raise IndexError


def _decode_uniform(spans: Spans, copy: bool = True) -> RecordBatch | None:
    n = len(spans)
    if spans.stride is None or n == 0:
        return None
    length = int(spans.lengths[0])
    first = int(spans.offsets[0])
    buf, stride = spans.buffer, spans.stride
    layout = _layout(buf[first : first + length].tobytes())
    if layout is None:
        return None
    head = first - 8
    mat = buf[head : head + n * stride].reshape(n, stride)[:, 8 : 8 + length]
    # every byte outside the numbers must equal the first record's (compared a word at a time)
    cursor = 0
    for _, _, start, end in layout:
        if start > cursor and not recordio.rows_equal(buf, first + cursor, stride, n, start - cursor):
            return None
        cursor = end
    if cursor < length and not recordio.rows_equal(buf, first + cursor, stride, n, length - cursor):
        return None
    columns: dict[int, np.ndarray] = {}
    kinds: dict[int, int] = {}
    for map_no, kind, start, end in layout:
        block = mat[:, start:end]
        if kind == FLOAT32 and not copy and (buf.ctypes.data + first + start) % 4 == 0:
            # the numbers where they lie: a strided float32 view of the records (no copy)
            values = np.ndarray(
                (n, (end - start) // 4), dtype="<f4", buffer=buf, offset=first + start, strides=(stride, 4)
            )
        elif kind == FLOAT32:
            values = np.ascontiguousarray(block).view("<f4")
        elif kind == FLOAT64:
            values = np.ascontiguousarray(block).view("<f8")
        else:
            if (block >= 0x80).any():
                return None  # multi-byte varints: general path
            values = block
        columns[map_no] = values
        kinds[map_no] = kind
    features = columns[1].astype(np.float32, copy=False)
    labels = None
    label_maps = {}
    if 2 in columns:
        dtype = np.float32 if kinds[2] == FLOAT32 else np.float64
        labels = columns[2].astype(dtype, copy=False)
        if labels.shape[1] == 1:
            labels = labels[:, 0]
        label_maps["values"] = labels
    return RecordBatch(features, labels, label_maps)


# --------------------------------------------------------------------------------------------------
# Public decoding API


def decode_spans(spans: Spans, copy: bool = True) -> RecordBatch:
    """Decode the records found by :func:`sagestack.formats.recordio.scan`. With ``copy=False`` the
    Float32 features of uniform dense records are a strided view of ``spans.buffer`` (valid while it is)."""
    fast = _decode_uniform(spans, copy)
    return fast if fast is not None else _decode_general(spans)


def decode(data: bytes | bytearray | memoryview) -> RecordBatch:
    """Decode a whole RecordIO-protobuf stream held in memory."""
    spans, _ = recordio.scan(data)
    return decode_spans(spans)


def _as_paths(paths: Paths) -> list[str | os.PathLike]:
    if isinstance(paths, (str, os.PathLike)):
        return [paths]
    return list(paths)


def iter_batches(
    paths: Paths,
    batch_rows: int,
    chunk_bytes: int | None = None,
    *,
    transient: bool = False,
) -> Iterator[RecordBatch]:
    """Stream the records of ``paths`` (read ``chunk_bytes`` at a time) as batches of ``batch_rows``
    rows (the last one may be shorter).

    ``transient`` (for single-pass consumers that keep nothing): one small read buffer for the whole
    stream (``TRANSIENT_CHUNK_BYTES``, so a chunk is still in the cache while it is checked, decoded and
    used), features decoded as views into it where the layout allows (uniform dense Float32 records:
    strided, not C-contiguous), and batches of *at most* ``batch_rows`` rows that never straddle two
    chunks (no copy); each batch is valid only until the next is asked for."""
    if batch_rows <= 0:
        raise ValueError("batch_rows must be positive")
    if transient:
        chunks = recordio.iter_spans(
            _as_paths(paths), chunk_bytes or TRANSIENT_CHUNK_BYTES, reuse_buffer=True
        )
        for spans in chunks:
            batch = decode_spans(spans, copy=False)
            for start in range(0, len(batch), batch_rows):
                yield batch.slice(start, min(start + batch_rows, len(batch)))
        return
    # Batches inside a decoded chunk are slices of it (no copy); only a batch that straddles two chunks
    # is concatenated: the rows carried over from the previous chunk(s) and the head of this one.
    carried: list[RecordBatch] = []
    carried_rows = 0
    for spans in recordio.iter_spans(_as_paths(paths), chunk_bytes or recordio.DEFAULT_CHUNK_BYTES):
        batch = decode_spans(spans)
        start = 0
        if carried:
            need = batch_rows - carried_rows
            if len(batch) < need:
                carried.append(batch)
                carried_rows += len(batch)
                continue
            yield RecordBatch.concat([*carried, batch.slice(0, need)])
            carried, carried_rows, start = [], 0, need
        while len(batch) - start >= batch_rows:
            yield batch.slice(start, start + batch_rows)
            start += batch_rows
        if start < len(batch):
            carried, carried_rows = [batch.slice(start, len(batch))], len(batch) - start
    if carried_rows:
        yield RecordBatch.concat(carried)


def load(paths: Paths) -> RecordBatch:
    """All records of ``paths`` (in the order given) in one batch."""
    batches = []
    for path in _as_paths(paths):
        with open(path, "rb") as fh:
            data = fh.read()
        if data:
            batches.append(decode(data))
    return RecordBatch.concat(batches)


def decode_records(data: bytes | bytearray | memoryview) -> list[dict[str, np.ndarray]]:
    """Each Record's ``label`` map as ``{key: float array}`` (the inverse of :func:`encode_records`)."""
    spans, _ = recordio.scan(data)
    n = len(spans)
    out: list[dict[str, np.ndarray]] = [{} for _ in range(n)]
    if n == 0:
        return out
    for (map_no, name), t in _parse_records(spans).items():
        if map_no != 2:
            continue
        key = name.decode("utf-8", "replace")
        dtype = _label_dtype(t)
        splits = np.split(t.values.astype(dtype), np.cumsum(t.counts)[:-1])
        for rec, arr in zip(t.record.tolist(), splits):
            out[rec][key] = arr
    return out
