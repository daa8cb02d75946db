"""MXNet's NDArray files (``mx.nd.save`` / ``mx.nd.load``) and the archives SageMaker's MXNet-based
built-in algorithms write as ``model_algo-1``, read and written with numpy alone.

The list file, as MXNet 1.x writes it (``NDArray::Save`` in ``src/ndarray/ndarray.cc``;
little-endian)::

    uint64 0x112 (kMXAPINDArrayListMagic); uint64 reserved (0)
    uint64 n; n arrays
    uint64 m; m names (uint64 length + UTF-8 bytes); m is 0 (a list) or n (a dict)

One array (V2 ``0xF993FAC9``; V3 ``0xF993FACA`` is the same with numpy shape semantics)::

    uint32 magic; int32 storage type (0 dense, 1 row_sparse, 2 csr)
    [shape of the stored values]           sparse only (csr writes (0,): then the index shape counts)
    shape                                   int32 ndim, int64 dims[ndim]; ndim 0 (V2) / -1 (V3): empty
    int32 dev_type, int32 dev_id            the context it was saved from (1 = CPU, 2 = GPU)
    int32 type flag                         0 float32, 1 float64, 2 float16, 3 uint8, 4 int32, 5 int8,
                                            6 int64, 7 bool, 8 int16, 9 uint16, 10 uint32, 11 uint64,
                                            12 bfloat16
    [int32 aux type, aux shape] × n_aux     sparse only: row_sparse (row indices), csr (indptr, indices)
    values, then each aux array             raw, C order

Older arrays: V1 (``0xF993FAC8``) has no storage type (dense, int64 dims); before it, the first uint32
is ndim itself, followed by uint32 dims.

SageMaker's ``model_algo-1`` is either such a list file (K-Means, PCA) or a zip archive of an MXNet
``Module`` checkpoint (``*symbol.json`` + a ``.params`` list file whose names carry ``arg:``/``aux:``
prefixes) and JSON side files (Linear Learner, Factorization Machines); :func:`read_artifact` opens both.
"""

from __future__ import annotations

import io
import json
import struct
import zipfile
from dataclasses import dataclass, field
from typing import Any

import numpy as np

LIST_MAGIC = 0x112
V1_MAGIC = 0xF993FAC8
V2_MAGIC = 0xF993FAC9
V3_MAGIC = 0xF993FACA

DENSE, ROW_SPARSE, CSR = 0, 1, 2
_AUX_COUNT = {DENSE: 0, ROW_SPARSE: 1, CSR: 2}
BFLOAT16 = 12
_DTYPES: dict[int, np.dtype] = {
    0: np.dtype("<f4"),
    1: np.dtype("<f8"),
    2: np.dtype("<f2"),
    3: np.dtype("u1"),
    4: np.dtype("<i4"),
    5: np.dtype("i1"),
    6: np.dtype("<i8"),
    7: np.dtype("?"),
    8: np.dtype("<i2"),
    9: np.dtype("<u2"),
    10: np.dtype("<u4"),
    11: np.dtype("<u8"),
    BFLOAT16: np.dtype("<u2"),
}
_FLAGS = {dtype: flag for flag, dtype in _DTYPES.items() if flag != BFLOAT16}
_CPU = 1
_MAX_NDIM = 32
_MAX_COUNT = 1 << 40


class MXNetFormatError(ValueError):
    """The bytes are not an MXNet NDArray file (or archive) this module can read."""


# ------------------------------------------------------------------------------------------------
# Reading


class _Reader:
    def __init__(self, raw: bytes):
        self.raw = memoryview(raw)
        self.pos = 0

    def take(self, size: int, what: str) -> memoryview:
        if size < 0 or self.pos + size > len(self.raw):
            raise MXNetFormatError(
                f"not an MXNet NDArray file: it ends at byte {len(self.raw)} while reading {what}"
            )
        chunk = self.raw[self.pos : self.pos + size]
        self.pos += size
        return chunk

    def scalar(self, fmt: str, what: str) -> Any:
        return struct.unpack(fmt, self.take(struct.calcsize(fmt), what))[0]

    def count(self, what: str) -> int:
        value = self.scalar("<Q", what)
        if value > _MAX_COUNT:
            raise MXNetFormatError(f"not an MXNet NDArray file: implausible {what} {value}")
        return value

    def shape(self, what: str, dim_format: str = "<q") -> tuple[int, ...] | None:
        ndim = self.scalar("<i", f"the rank of {what}")
        if ndim <= 0:
            return () if ndim == 0 else None
        if ndim > _MAX_NDIM:
            raise MXNetFormatError(f"not an MXNet NDArray file: {what} has rank {ndim}")
        size = struct.calcsize(dim_format)
        dims = struct.unpack(f"<{ndim}{dim_format[-1]}", self.take(size * ndim, f"the shape of {what}"))
        if any(d < 0 for d in dims):
            raise MXNetFormatError(f"not an MXNet NDArray file: {what} has shape {dims}")
        return tuple(int(d) for d in dims)

    def values(self, flag: int, shape: tuple[int, ...], what: str) -> np.ndarray:
        dtype = _DTYPES.get(flag)
        if dtype is None:
            raise MXNetFormatError(f"not an MXNet NDArray file: {what} has unknown type flag {flag}")
        n = int(np.prod(shape, dtype=np.int64)) if shape else 1
        array = np.frombuffer(self.take(n * dtype.itemsize, what), dtype=dtype).reshape(shape).copy()
        if flag == BFLOAT16:
            array = (array.astype(np.uint32) << 16).view(np.float32)
        return array


def is_ndarray_file(raw: bytes) -> bool:
    return len(raw) >= 16 and struct.unpack_from("<Q", raw)[0] == LIST_MAGIC


def load_arrays(raw: bytes) -> tuple[list[Any], list[str]]:
    """``(arrays, names)`` of an NDArray list file; names is empty for a saved list.

    Dense arrays come back as numpy arrays (bfloat16 as float32), ``csr`` ones as
    ``scipy.sparse.csr_matrix``, ``row_sparse`` ones densified; an empty NDArray as ``None``."""
    reader = _Reader(raw)
    if reader.scalar("<Q", "the header") != LIST_MAGIC:
        raise MXNetFormatError("not an MXNet NDArray file: the header is not 0x112")
    reader.take(8, "the reserved field")
    arrays = [_read_array(reader, i) for i in range(reader.count("array count"))]
    names = []
    for i in range(reader.count("name count")):
        chunk = reader.take(reader.count(f"length of name {i}"), f"name {i}")
        try:
            names.append(bytes(chunk).decode("utf-8"))
        except UnicodeDecodeError:
            raise MXNetFormatError(f"not an MXNet NDArray file: name {i} is not UTF-8") from None
    if names and len(names) != len(arrays):
        raise MXNetFormatError(f"not an MXNet NDArray file: {len(names)} names for {len(arrays)} arrays")
    return arrays, names


def load(raw: bytes) -> list[Any] | dict[str, Any]:
    """What ``mx.nd.load`` returns: a dict when the file has names, else a list."""
    arrays, names = load_arrays(raw)
    return dict(zip(names, arrays)) if names else arrays


def _read_array(reader: _Reader, index: int) -> Any:
    what = f"array {index}"
    magic = reader.scalar("<I", f"the magic of {what}")
    if magic not in (V2_MAGIC, V3_MAGIC):
        return _read_legacy_array(reader, magic, what)
    stype = reader.scalar("<i", f"the storage type of {what}")
    if stype not in _AUX_COUNT:
        raise MXNetFormatError(f"not an MXNet NDArray file: {what} has storage type {stype}")
    n_aux = _AUX_COUNT[stype]
    storage_shape = reader.shape(f"the stored values of {what}") if n_aux else None
    shape = reader.shape(what)
    if shape is None or (shape == () and magic == V2_MAGIC):
        return None
    reader.take(8, f"the context of {what}")
    flag = reader.scalar("<i", f"the type of {what}")
    aux = [
        (reader.scalar("<i", f"an index type of {what}"), reader.shape(f"an index of {what}"))
        for _ in range(n_aux)
    ]
    if n_aux and not np.prod(storage_shape or (0,)):  # MXNet saves csr's as (0,): it follows the indices
        index_shape = aux[-1][1] or (0,)
        storage_shape = index_shape if stype == CSR else (index_shape[0], *shape[1:])
    values = reader.values(flag, storage_shape if n_aux else shape, what)  # type: ignore[arg-type]
    indices = [
        reader.values(aux_flag, aux_shape or (0,), f"an index of {what}") for aux_flag, aux_shape in aux
    ]
    if stype == DENSE:
        return values
    if stype == ROW_SPARSE:
        dense = np.zeros(shape, dtype=values.dtype)
        dense[indices[0].astype(np.int64)] = values
        return dense
    import scipy.sparse as sp

    indptr, columns = indices
    return sp.csr_matrix((values, columns.astype(np.int64), indptr.astype(np.int64)), shape=shape)


def _read_legacy_array(reader: _Reader, magic: int, what: str) -> Any:
    if magic == V1_MAGIC:
        shape = reader.shape(what)
    else:  # before V1 the magic is the rank and the dims are uint32
        if magic > _MAX_NDIM:
            raise MXNetFormatError(f"not an MXNet NDArray file: {what} starts with {magic:#x}")
        reader.pos -= 4
        shape = reader.shape(what, dim_format="<I")
    if not shape:
        return None
    reader.take(8, f"the context of {what}")
    flag = reader.scalar("<i", f"the type of {what}")
    return reader.values(flag, shape, what)


# ------------------------------------------------------------------------------------------------
# Writing


def save(arrays: list[Any] | dict[str, Any]) -> bytes:
    """An NDArray list file (V2) of numpy arrays (dense) or ``scipy.sparse`` matrices (csr), as
    ``mx.nd.save`` writes it; a dict saves its keys as the names."""
    names = list(arrays) if isinstance(arrays, dict) else []
    values = list(arrays.values()) if isinstance(arrays, dict) else list(arrays)
    out = io.BytesIO()
    out.write(struct.pack("<QQ", LIST_MAGIC, 0))
    out.write(struct.pack("<Q", len(values)))
    for value in values:
        _write_array(out, value)
    out.write(struct.pack("<Q", len(names)))
    for name in names:
        encoded = name.encode("utf-8")
        out.write(struct.pack("<Q", len(encoded)) + encoded)
    return out.getvalue()


def _shape_bytes(shape: tuple[int, ...]) -> bytes:
    return struct.pack(f"<i{len(shape)}q", len(shape), *shape)


def _flag(dtype: np.dtype) -> int:
    flag = _FLAGS.get(np.dtype(dtype).newbyteorder("<") if np.dtype(dtype).itemsize > 1 else np.dtype(dtype))
    if flag is None:
        raise TypeError(f"MXNet has no type for {dtype}")
    return flag


def _write_array(out: io.BytesIO, value: Any) -> None:
    if hasattr(value, "tocsr") and not isinstance(value, np.ndarray):
        matrix = value.tocsr()
        data = np.ascontiguousarray(matrix.data)
        indptr, indices = matrix.indptr.astype("<i8"), matrix.indices.astype("<i8")
        out.write(struct.pack("<Ii", V2_MAGIC, CSR))
        out.write(_shape_bytes((data.size,)) + _shape_bytes(matrix.shape))
        out.write(struct.pack("<iii", _CPU, 0, _flag(data.dtype)))
        out.write(struct.pack("<i", _flag(indptr.dtype)) + _shape_bytes(indptr.shape))
        out.write(struct.pack("<i", _flag(indices.dtype)) + _shape_bytes(indices.shape))
        out.writelines(
            part.astype(part.dtype.newbyteorder("<"), copy=False).tobytes()
            for part in (data, indptr, indices)
        )
        return
    array = np.ascontiguousarray(value)
    if array.ndim == 0:
        array = array.reshape(1)
    out.write(struct.pack("<Ii", V2_MAGIC, DENSE) + _shape_bytes(array.shape))
    out.write(struct.pack("<iii", _CPU, 0, _flag(array.dtype)))
    out.write(
        array.astype(
            array.dtype.newbyteorder("<") if array.dtype.itemsize > 1 else array.dtype, copy=False
        ).tobytes()
    )


# ------------------------------------------------------------------------------------------------
# SageMaker's model_algo-1


@dataclass
class Artifact:
    """A ``model_algo-1``: an NDArray list file, or a zip archive of MXNet and JSON files."""

    arrays: list[Any] | dict[str, Any] | None = None  # the list file itself
    members: dict[str, bytes] = field(default_factory=dict)  # the archive's files by base name

    def member(self, *suffixes: str) -> tuple[str, bytes] | None:
        """The first archive member whose name ends with one of ``suffixes`` (in that order)."""
        for suffix in suffixes:
            for name in sorted(self.members):
                if name == suffix or name.endswith(suffix):
                    return name, self.members[name]
        return None

    def json_member(self, *suffixes: str) -> dict[str, Any]:
        found = self.member(*suffixes)
        if found is None:
            return {}
        try:
            value = json.loads(found[1])
        except ValueError:
            raise MXNetFormatError(f"model_algo-1: {found[0]} is not JSON") from None
        return value if isinstance(value, dict) else {}

    def params(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """``(arg_params, aux_params)`` of the archive's Module checkpoint (``*.params`` or ``params``)."""
        found = self.member(".params", "params")
        if found is None:
            raise MXNetFormatError(
                f"model_algo-1 has no parameter file (members: {', '.join(sorted(self.members))})"
            )
        loaded = load(found[1])
        if not isinstance(loaded, dict):
            raise MXNetFormatError(f"model_algo-1: {found[0]} holds an unnamed list, not parameters")
        return split_module_params(loaded)

    def symbol(self) -> dict[str, Any] | None:
        found = self.member("-symbol.json", "symbol.json")
        return json.loads(found[1]) if found else None


def split_module_params(params: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``arg:``/``aux:`` prefixed names (``Module.save_checkpoint``) → two dicts; unprefixed → args."""
    args, aux = {}, {}
    for name, value in params.items():
        if name.startswith("aux:"):
            aux[name[4:]] = value
        else:
            args[name.removeprefix("arg:")] = value
    return args, aux


def read_artifact(raw: bytes) -> Artifact:
    """Open a ``model_algo-1`` (NDArray list file or zip archive)."""
    if is_ndarray_file(raw):
        return Artifact(arrays=load(raw))
    if raw[:4] == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(io.BytesIO(raw)) as archive:
                members = {
                    info.filename.rsplit("/", 1)[-1]: archive.read(info)
                    for info in archive.infolist()
                    if not info.is_dir()
                }
        except (zipfile.BadZipFile, OSError) as exc:
            raise MXNetFormatError(f"model_algo-1 is a damaged zip archive: {exc}") from None
        return Artifact(members=members)
    raise MXNetFormatError(
        "model_algo-1 is neither an MXNet NDArray file nor a zip archive of an MXNet model"
    )
