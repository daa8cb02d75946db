"""Envelope encryption of stored objects (S3 SSE-KMS): the bytes on disk are AES-256-GCM ciphertext
under a per-object data key; the data key itself is stored only wrapped by a KMS key.

The plaintext is cut into frames of ``FRAME`` bytes (the last one shorter), each sealed on its own::

    nonce (12) | ciphertext | tag (16)

with a fresh random nonce and, as additional authenticated data, the frame's segment, index and whether
it is the last one — so frames cannot be reordered, moved between segments or dropped from the end
unnoticed. A range read decrypts only the frames it touches. A multipart object is the concatenation
of its parts, each part one segment sealed when it was uploaded (segment id = part number) under the
upload's data key; completing the upload concatenates the part files as they are.

An object's envelope (``ObjectInfo.encryption``) says how to read it back::

    {"scheme": "aes256-gcm-64k", "key": <KMS key ARN>, "blob": <wrapped data key, base64>,
     "context": {<KMS encryption context>}, "segments": [[part number, plaintext size], …]}

``segments`` is absent for an object sealed in one piece (segment 0, the object's size).
"""

from __future__ import annotations

import bisect
import io
import struct
from collections.abc import Iterable
from typing import IO

FRAME = 64 * 1024
NONCE = 12
TAG = 16
OVERHEAD = NONCE + TAG
SCHEME = "aes256-gcm-64k"


class CorruptObject(IOError):
    """Stored ciphertext that does not authenticate (modified or truncated on disk)."""


def frame_count(size: int) -> int:
    return (size + FRAME - 1) // FRAME


def sealed_size(size: int) -> int:
    """Bytes on disk for ``size`` bytes of plaintext sealed as one segment."""
    return size + OVERHEAD * frame_count(size)


def _aad(segment: int, index: int, last: bool) -> bytes:
    return struct.pack(">IQB", segment, index, 1 if last else 0)


def _aead(key: bytes):
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    return AESGCM(key)


def envelope(
    key_arn: str, blob: bytes, context: dict[str, str], segments: Iterable[tuple[int, int]] | None = None
) -> dict:
    import base64

    out = {
        "scheme": SCHEME,
        "key": key_arn,
        "blob": base64.b64encode(blob).decode(),
        "context": dict(context),
    }
    if segments is not None:
        out["segments"] = [[number, size] for number, size in segments]
    return out


def segments_of(envelope: dict, size: int) -> list[tuple[int, int]]:
    if envelope.get("segments"):
        return [(int(number), int(length)) for number, length in envelope["segments"]]
    return [(0, size)]


class FrameSealer:
    """Streaming encryption of one segment: ``update`` returns the frames completed so far, ``finish``
    the last one. The last full frame is held back until more data or ``finish`` says it is the last."""

    def __init__(self, key: bytes, segment: int = 0):
        import os

        self._aead = _aead(key)
        self._segment = segment
        self._index = 0
        self._pending = b""
        self._random = os.urandom

    def _seal(self, out: list[bytes], data, last: bool) -> None:
        nonce = self._random(NONCE)
        out.append(nonce)
        out.append(self._aead.encrypt(nonce, data, _aad(self._segment, self._index, last)))
        self._index += 1

    def update(self, data) -> list[bytes]:
        """The sealed frames completed by ``data``, as pieces to write in order (no joining copies)."""
        buffer = self._pending + bytes(data) if self._pending else data
        view = memoryview(buffer)
        out: list[bytes] = []
        position = 0
        while len(view) - position > FRAME:
            self._seal(out, view[position : position + FRAME], False)
            position += FRAME
        self._pending = bytes(view[position:])
        return out

    def finish(self) -> list[bytes]:
        out: list[bytes] = []
        if self._pending:  # an empty segment has no frames
            self._seal(out, self._pending, True)
            self._pending = b""
        return out


class FrameReader(io.RawIOBase):
    """The plaintext of a sealed file, seekable: a read decrypts only the frames it covers."""

    def __init__(self, raw: IO[bytes], key: bytes, segments: list[tuple[int, int]]):
        super().__init__()
        self._raw = raw
        self._aead = _aead(key)
        self._starts: list[int] = []  # plaintext offset where each non-empty segment starts
        self._table: list[tuple[int, int, int]] = []  # (segment id, plaintext size, offset on disk)
        plain = sealed = 0
        for number, size in segments:
            if size:
                self._starts.append(plain)
                self._table.append((number, size, sealed))
            plain += size
            sealed += sealed_size(size)
        self.size = plain
        self._position = 0
        self._cached: tuple[int, bytes] | None = None  # (plaintext offset, frame plaintext)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self.size}[whence]
        if base + offset < 0:
            raise ValueError("negative seek position")
        self._position = base + offset
        return self._position

    def _frame(self, position: int) -> tuple[int, bytes]:
        cached = self._cached
        if cached is not None and cached[0] <= position < cached[0] + len(cached[1]):
            return cached
        slot = bisect.bisect_right(self._starts, position) - 1
        number, size, disk = self._table[slot]
        index = (position - self._starts[slot]) // FRAME
        length = min(FRAME, size - index * FRAME)
        self._raw.seek(disk + index * (FRAME + OVERHEAD))
        data = self._raw.read(length + OVERHEAD)
        if len(data) != length + OVERHEAD:
            raise CorruptObject("stored object is truncated")
        last = index == frame_count(size) - 1
        try:
            plaintext = self._aead.decrypt(data[:NONCE], data[NONCE:], _aad(number, index, last))
        except Exception:  # cryptography's InvalidTag
            raise CorruptObject("stored object does not authenticate") from None
        self._cached = (self._starts[slot] + index * FRAME, plaintext)
        return self._cached

    def readinto(self, buffer) -> int:
        view = memoryview(buffer).cast("B")
        written = 0
        while written < len(view) and self._position < self.size:
            start, plaintext = self._frame(self._position)
            offset = self._position - start
            count = min(len(plaintext) - offset, len(view) - written)
            view[written : written + count] = plaintext[offset : offset + count]
            written += count
            self._position += count
        return written

    def close(self) -> None:
        if not self.closed:
            self._raw.close()
        super().close()


def open_sealed(raw: IO[bytes], key: bytes, segments: list[tuple[int, int]]) -> IO[bytes]:
    """A buffered, seekable binary reader of a sealed file's plaintext (closes ``raw`` when closed)."""
    return io.BufferedReader(FrameReader(raw, key, segments), buffer_size=FRAME)
