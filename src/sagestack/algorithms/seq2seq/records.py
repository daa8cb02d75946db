"""Seq2seq's RecordIO-protobuf: records whose ``features`` map holds Int32Tensor token ids under
``source`` (and ``target`` for training), as the AWS example's ``create_vocab_proto.py`` writes them
and as inference requests and responses carry them (algorithms.md §2.14, §1.2.2).

A small protobuf reader/writer for just these messages: Record.features (field 1, map entries of
key = 1 / value = 2), Value.int32_tensor (7; float32 = 2 and float64 = 3 tensors are read as whole
numbers too), Int32Tensor.values (1, packed or not).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

from sagestack.formats import recordio


class RecordError(ValueError):
    pass


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise RecordError("truncated protobuf varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 70:
            raise RecordError("malformed protobuf varint")


def _fields(data: bytes) -> Iterable[tuple[int, int, object]]:
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 2:
            length, pos = _varint(data, pos)
            if pos + length > len(data):
                raise RecordError("truncated protobuf field")
            value = data[pos : pos + length]
            pos += length
        elif wire == 5:
            value = data[pos : pos + 4]
            pos += 4
        elif wire == 1:
            value = data[pos : pos + 8]
            pos += 8
        else:
            raise RecordError(f"unsupported protobuf wire type {wire}")
        yield number, wire, value


def _signed32(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value & 0x80000000 else value


def _tensor_values(kind: int, tensor: bytes) -> list[int]:
    values: list[int] = []
    for number, wire, value in _fields(tensor):
        if number != 1:
            continue
        if kind == 7:
            if wire == 2:
                pos = 0
                while pos < len(value):  # type: ignore[arg-type]
                    v, pos = _varint(value, pos)  # type: ignore[arg-type]
                    values.append(_signed32(v))
            else:
                values.append(_signed32(value))  # type: ignore[arg-type]
        else:
            fmt = "<f" if kind == 2 else "<d"
            size = struct.calcsize(fmt)
            for i in range(0, len(value), size):  # packed, or one value  # type: ignore[arg-type]
                values.append(int(round(struct.unpack_from(fmt, value, i)[0])))  # type: ignore[arg-type]
    return values


def decode_record(payload: bytes) -> dict[str, list[int]]:
    """The ``features`` map of one Record as ``{key: token ids}``."""
    out: dict[str, list[int]] = {}
    for number, wire, entry in _fields(payload):
        if number != 1 or wire != 2:
            continue
        key, value = "", b""
        for n, w, v in _fields(entry):  # type: ignore[arg-type]
            if n == 1 and w == 2:
                key = v.decode("utf-8", "replace")  # type: ignore[union-attr]
            elif n == 2 and w == 2:
                value = v  # type: ignore[assignment]
        for kind, w, tensor in _fields(value):
            if kind in (2, 3, 7) and w == 2:
                out[key] = _tensor_values(kind, tensor)  # type: ignore[arg-type]
    return out


def read(data: bytes | str) -> list[dict[str, list[int]]]:
    """Every Record of a RecordIO-protobuf buffer or file."""
    try:
        return [decode_record(p) for p in recordio.iter_payloads(data)]
    except recordio.FormatError as exc:
        raise RecordError(str(exc)) from None


def _key(number: int, wire: int) -> bytes:
    return _encode_varint((number << 3) | wire)


def _encode_varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _len(number: int, payload: bytes) -> bytes:
    return _key(number, 2) + _encode_varint(len(payload)) + payload


def encode_record(features: dict[str, list[int]]) -> bytes:
    """A Record with Int32Tensor ``features`` (values packed, as the SDK writes them)."""
    out = bytearray()
    for key, ids in features.items():
        packed = b"".join(_encode_varint(i) for i in ids)
        tensor = _len(1, packed) if ids else b""
        value = _len(7, tensor)
        out += _len(1, _len(1, key.encode()) + _len(2, value))
    return bytes(out)


def write(records: Iterable[dict[str, list[int]]]) -> bytes:
    return recordio.frame(encode_record(r) for r in records)
