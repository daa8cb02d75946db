"""The ``aws-chunked`` body encoding (``Content-Encoding: aws-chunked``): an incremental decoder that
checks chunk and trailer signatures as it goes.

The decoder raises the ``ChunkedBodyError`` kinds below, which say what is wrong with the body and
nothing about how a service answers it: S3 words them (``services/s3/errors.py``).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Protocol

from .signing import EMPTY_SHA256, sha256_hex, signature


class ChunkedBodyError(Exception):
    """An aws-chunked body that cannot be accepted; discard everything decoded from it."""


class MalformedBody(ChunkedBodyError):
    """The framing is wrong (``detail`` says how)."""

    def __init__(self, detail: str):
        super().__init__(f"the aws-chunked body is malformed: {detail}")
        self.detail = detail


class TruncatedBody(ChunkedBodyError):
    def __init__(self) -> None:
        super().__init__("the aws-chunked body ended before its final chunk")


class LengthMismatch(ChunkedBodyError):
    """The decoded payload is not as long as the request declared (``x-amz-decoded-content-length``)."""

    def __init__(self, declared: int, decoded: int):
        super().__init__(f"the aws-chunked body decoded to {decoded} bytes, not the {declared} declared")
        self.declared = declared
        self.decoded = decoded


class ChunkSignatureMismatch(ChunkedBodyError):
    """A chunk or trailer signature does not verify; ``string_to_sign`` is what was expected signed."""

    def __init__(self, string_to_sign: str):
        super().__init__("an aws-chunked chunk signature does not match")
        self.string_to_sign = string_to_sign


class StreamingAuth(Protocol):
    """What a verified streaming signature proved (``gateway.sigv4.AuthResult`` is one)."""

    payload_mode: str
    signing_key: bytes | None
    seed_signature: str | None
    timestamp: str

    @property
    def scope(self) -> str: ...


_HEX_SIZE = re.compile(r"[0-9a-fA-F]{1,16}")

_MAX_LINE = 4096
_MAX_TRAILER_BYTES = 16 * 1024
_HEADER, _DATA, _DATA_CRLF, _FINAL_CRLF, _TRAILER, _DONE = range(6)


class ChunkedDecoder:
    """Incremental decoder for ``Content-Encoding: aws-chunked`` bodies.

    Feed the body (after any HTTP ``Transfer-Encoding: chunked`` framing was removed by the server) in
    pieces of any size; ``feed`` returns the payload bytes decoded so far. Memory is bounded by the size
    of the pieces fed plus one header line: chunk data is passed through as it arrives and hashed
    incrementally, so a chunk's bytes are only authenticated once its end has been seen. Callers write
    to a temporary location and must discard everything when ``feed`` or ``finish`` raises.

    Wire format (``[...]`` only when signed)::

        <hex-size>[;chunk-signature=<sig>]\\r\\n<data>\\r\\n      ... repeated ...
        0[;chunk-signature=<sig>]\\r\\n
        then, for signed streaming without trailer: \\r\\n
        else trailer lines  name:value\\r\\n  ([x-amz-trailer-signature:<sig>\\r\\n] when signed)  and \\r\\n
    """

    def __init__(
        self,
        mode: str,
        *,
        signing_key: bytes | None = None,
        seed_signature: str | None = None,
        timestamp: str | None = None,
        scope: str | None = None,
        decoded_length: int | None = None,
    ):
        if mode not in ("streaming-signed", "streaming-signed-trailer", "streaming-unsigned-trailer"):
            raise ValueError(f"not a streaming payload mode: {mode!r}")
        self.signed = mode != "streaming-unsigned-trailer"
        self.has_trailer = mode.endswith("-trailer")
        if self.signed and not (signing_key and seed_signature and timestamp and scope):
            raise ValueError("signed streaming needs signing_key, seed_signature, timestamp and scope")
        self._key = signing_key
        self._prev = seed_signature
        self._timestamp = timestamp
        self._scope = scope
        self._expected_length = decoded_length
        self._buf = bytearray()
        self._state = _HEADER
        self._remaining = 0
        self._chunk_sig: str | None = None
        self._hash = hashlib.sha256()
        self._trailer_bytes = 0
        self._trailer_lines: list[tuple[str, str]] = []
        self._trailer_sig: str | None = None
        self.decoded_bytes = 0
        self.trailers: dict[str, str] = {}

    @classmethod
    def for_auth(cls, auth: StreamingAuth, decoded_length: int | None = None) -> ChunkedDecoder:
        return cls(
            auth.payload_mode,
            signing_key=auth.signing_key,
            seed_signature=auth.seed_signature,
            timestamp=auth.timestamp,
            scope=auth.scope,
            decoded_length=decoded_length,
        )

    @property
    def done(self) -> bool:
        return self._state == _DONE

    def feed(self, data: bytes) -> bytes:
        if not isinstance(data, bytes):
            data = bytes(data)
        out = bytearray()
        view = memoryview(data)
        pos = 0
        end = len(view)
        while pos < end:
            state = self._state
            if state == _DATA:
                take = min(self._remaining, end - pos)
                piece = view[pos : pos + take]
                if self.signed:
                    self._hash.update(piece)
                out += piece
                pos += take
                self._remaining -= take
                self.decoded_bytes += take
                if self._expected_length is not None and self.decoded_bytes > self._expected_length:
                    raise MalformedBody("more data than x-amz-decoded-content-length")
                if self._remaining == 0:
                    self._state = _DATA_CRLF
                continue
            if state == _DONE:
                if data[pos:end].strip(b"\r\n"):
                    raise MalformedBody("data after the end of the aws-chunked body")
                break
            # line-oriented states: accumulate up to CRLF
            nl = data.find(b"\n", pos)
            if nl < 0:
                self._buf += view[pos:end]
                self._check_partial()
                break
            self._buf += view[pos : nl + 1]
            pos = nl + 1
            self._check_partial()
            line = bytes(self._buf)
            self._buf.clear()
            if not line.endswith(b"\r\n"):
                raise MalformedBody("aws-chunked lines must end with CRLF")
            self._line(line[:-2])
        return bytes(out)

    def finish(self) -> None:
        """Raise unless the body was complete (and every signature checked)."""
        if self._state == _TRAILER and not self._buf and (self._trailer_lines or self._trailer_sig):
            # tolerate a missing blank line after the trailers
            self._end_trailer()
        if self._state != _DONE or self._buf:
            raise TruncatedBody()
        if self._expected_length is not None and self.decoded_bytes != self._expected_length:
            raise LengthMismatch(self._expected_length, self.decoded_bytes)

    # ----------------------------------------------------------------------------------- internals

    def _check_partial(self) -> None:
        if self._state in (_DATA_CRLF, _FINAL_CRLF):
            if not b"\r\n".startswith(bytes(self._buf[:3])):
                raise MalformedBody("chunk data longer than its declared size")
            return
        limit = _MAX_TRAILER_BYTES if self._state == _TRAILER else _MAX_LINE
        if len(self._buf) > limit:
            raise MalformedBody("aws-chunked header line too long")

    def _line(self, line: bytes) -> None:
        state = self._state
        if state == _HEADER:
            self._chunk_header(line)
        elif state == _DATA_CRLF:
            if line:
                raise MalformedBody("chunk data longer than its declared size")
            self._end_chunk()
        elif state == _FINAL_CRLF:
            if line:
                raise MalformedBody("unexpected data after the final chunk")
            self._state = _DONE
        elif state == _TRAILER:
            self._trailer_line(line)

    def _chunk_header(self, line: bytes) -> None:
        text = line.decode("latin-1")
        size_text, _, ext = text.partition(";")
        if not _HEX_SIZE.fullmatch(size_text.strip()):
            raise MalformedBody(f"invalid chunk size {size_text[:32]!r}")
        size = int(size_text, 16)
        sig = None
        for item in ext.split(";") if ext else ():
            name, _, value = item.strip().partition("=")
            if name == "chunk-signature":
                sig = value.strip()
        if self.signed and not sig:
            raise MalformedBody("chunk is missing its chunk-signature")
        self._chunk_sig = sig
        if size:
            self._remaining = size
            self._state = _DATA
            return
        # final zero-length chunk
        self._end_chunk()
        if self.has_trailer:
            self._state = _TRAILER
        else:
            self._state = _FINAL_CRLF

    def _check(self, kind: str, last_hash: str, provided: str | None) -> str:
        parts = [kind, self._timestamp or "", self._scope or "", self._prev or ""]
        if kind == "AWS4-HMAC-SHA256-PAYLOAD":
            parts.append(EMPTY_SHA256)
        to_sign = "\n".join([*parts, last_hash])
        expected = signature(self._key or b"", to_sign)
        if not hmac.compare_digest(expected.encode(), (provided or "").encode()):
            raise ChunkSignatureMismatch(to_sign)
        return expected

    def _end_chunk(self) -> None:
        if self.signed:
            self._prev = self._check("AWS4-HMAC-SHA256-PAYLOAD", self._hash.hexdigest(), self._chunk_sig)
            self._hash = hashlib.sha256()
        self._state = _HEADER

    def _trailer_line(self, line: bytes) -> None:
        if not line:
            self._end_trailer()
            return
        self._trailer_bytes += len(line)
        if self._trailer_bytes > _MAX_TRAILER_BYTES:
            raise MalformedBody("aws-chunked trailer too long")
        name, sep, value = line.decode("latin-1").partition(":")
        if not sep:
            raise MalformedBody("malformed trailing header")
        name, value = name.strip().lower(), value.strip()
        if name == "x-amz-trailer-signature":
            self._trailer_sig = value
        else:
            if self._trailer_sig is not None:
                raise MalformedBody("trailing header after the trailer signature")
            self._trailer_lines.append((name, value))

    def _end_trailer(self) -> None:
        if self.signed:
            canonical = "".join(f"{n}:{v}\n" for n, v in self._trailer_lines)
            self._check("AWS4-HMAC-SHA256-TRAILER", sha256_hex(canonical), self._trailer_sig)
        self.trailers = dict(self._trailer_lines)
        self._state = _DONE
