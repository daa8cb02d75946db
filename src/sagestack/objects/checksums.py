"""S3's flexible checksums (CRC32, CRC32C, CRC64NVME, SHA-1, SHA-256, …) computed incrementally.

Values are base64 of the big-endian digest, as S3 and botocore exchange them. CRC32 and the SHA
family come from zlib/hashlib (C, GIL released on large buffers); CRC32C and CRC64NVME use a C
implementation when one is installed (``crc32c``, ``google-crc32c`` or ``awscrt``) and a table-driven
pure-Python fallback otherwise (correct, slow: only clients that ask for these algorithms pay for it).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import zlib
from collections.abc import Callable
from typing import Protocol

#: Lower-case algorithm name → the API's member suffix (ChecksumCRC32, …).
MEMBER_NAMES = {
    "crc32": "CRC32",
    "crc32c": "CRC32C",
    "crc64nvme": "CRC64NVME",
    "sha1": "SHA1",
    "sha256": "SHA256",
    "md5": "MD5",
    "sha512": "SHA512",
}


class Checksum(Protocol):
    def update(self, data: bytes) -> None: ...

    def digest(self) -> bytes: ...


class _Crc32:
    def __init__(self) -> None:
        self.value = 0

    def update(self, data: bytes) -> None:
        self.value = zlib.crc32(data, self.value)

    def digest(self) -> bytes:
        return (self.value & 0xFFFFFFFF).to_bytes(4, "big")


@functools.cache
def _reflected_table(poly: int, width: int) -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ poly if crc & 1 else crc >> 1
        table.append(crc & ((1 << width) - 1))
    return tuple(table)


class _TableCrc:
    """Reflected CRC with init/xorout all ones (CRC32C: 0x82F63B78, CRC64NVME: 0x9A6C9329AC4BC9B5)."""

    def __init__(self, poly: int, width: int):
        self.table = _reflected_table(poly, width)
        self.width = width
        self.mask = (1 << width) - 1
        self.crc = self.mask

    def update(self, data: bytes) -> None:
        crc, table = self.crc, self.table
        for byte in bytes(data):
            crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
        self.crc = crc

    def digest(self) -> bytes:
        return ((self.crc ^ self.mask) & self.mask).to_bytes(self.width // 8, "big")


class _Extend:
    """A C ``extend(value, data) -> value`` function as a checksum object."""

    def __init__(self, extend: Callable[[bytes, int], int], size: int):
        self.extend = extend
        self.size = size
        self.value = 0

    def update(self, data: bytes) -> None:
        self.value = self.extend(data, self.value)

    def digest(self) -> bytes:
        return self.value.to_bytes(self.size, "big")


@functools.cache
def _crc32c_factory() -> Callable[[], Checksum]:
    try:
        import crc32c as _c  # type: ignore[import-not-found]

        return lambda: _Extend(lambda data, value: _c.crc32c(data, value), 4)
    except ImportError:
        pass
    try:
        from awscrt import checksums as _crt  # type: ignore[import-not-found]

        return lambda: _Extend(lambda data, value: _crt.crc32c(data, value), 4)
    except ImportError:
        pass
    return lambda: _TableCrc(0x82F63B78, 32)


@functools.cache
def _crc64_factory() -> Callable[[], Checksum]:
    try:
        from awscrt import checksums as _crt  # type: ignore[import-not-found]

        return lambda: _Extend(lambda data, value: _crt.crc64nvme(data, value), 8)
    except ImportError:
        return lambda: _TableCrc(0x9A6C9329AC4BC9B5, 64)


_FACTORIES: dict[str, Callable[[], Callable[[], Checksum]]] = {
    "crc32": lambda: _Crc32,
    "sha1": lambda: hashlib.sha1,
    "sha256": lambda: hashlib.sha256,
    "md5": lambda: hashlib.md5,
    "sha512": lambda: hashlib.sha512,
    "crc32c": _crc32c_factory,
    "crc64nvme": _crc64_factory,
}


def new(algorithm: str) -> Checksum:
    """A fresh checksum object for a lower-case algorithm name (KeyError when unsupported)."""
    return _FACTORIES[algorithm.lower()]()()


def supported(algorithm: str) -> bool:
    return algorithm.lower() in MEMBER_NAMES


def encode(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


def digest_size(algorithm: str) -> int:
    return len(new(algorithm).digest())


def of_bytes(algorithm: str, data: bytes) -> str:
    checksum = new(algorithm)
    checksum.update(data)
    return encode(checksum.digest())


def composite(algorithm: str, part_values: list[str]) -> str:
    """The COMPOSITE checksum of a multipart object: checksum of the parts' raw checksums, ``-N``."""
    checksum = new(algorithm)
    for value in part_values:
        checksum.update(base64.b64decode(value))
    return f"{encode(checksum.digest())}-{len(part_values)}"
