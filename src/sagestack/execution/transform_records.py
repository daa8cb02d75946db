"""Batch transform's record handling: split input streams into records, batch them into payloads,
and join/filter records as DataProcessing asks. Pure functions over bytes; streams never load whole."""

from __future__ import annotations

import csv
import io
import json
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from .jsonpath import JsonPath, JsonPathError

READ_CHUNK = 4 << 20


class RecordError(ValueError):
    pass


@dataclass
class Batch:
    index: int
    first_record: int  # 1-based number of the first record in the file
    records: list[bytes] | None  # None on the fast path (payload is the records, untouched)
    payload: bytes
    count: int


# -- splitting --------------------------------------------------------------------------------


def iter_lines(stream: BinaryIO) -> Iterator[bytes]:
    """Lines without their terminator; empty lines are skipped (as SageMaker does)."""
    tail = b""
    while True:
        chunk = stream.read(READ_CHUNK)
        if not chunk:
            break
        chunk = tail + chunk
        lines = chunk.split(b"\n")
        tail = lines.pop()
        for line in lines:
            if line.endswith(b"\r"):
                line = line[:-1]
            if line:
                yield line
    if tail.strip():
        yield tail.rstrip(b"\r")


def iter_recordio(stream: BinaryIO) -> Iterator[bytes]:
    """MXNet RecordIO records, each returned with its framing (what the model expects to receive)."""
    while True:
        header = stream.read(8)
        if not header:
            return
        if len(header) < 8:
            raise RecordError("truncated RecordIO header")
        magic, lrecord = struct.unpack("<II", header)
        if magic != 0xCED7230A:
            raise RecordError("invalid RecordIO magic number")
        length = lrecord & ((1 << 29) - 1)
        padded = (length + 3) & ~3
        body = stream.read(padded)
        if len(body) < padded:
            raise RecordError("truncated RecordIO record")
        yield header + body


def iter_tfrecord(stream: BinaryIO) -> Iterator[bytes]:
    while True:
        header = stream.read(12)
        if not header:
            return
        if len(header) < 12:
            raise RecordError("truncated TFRecord header")
        (length,) = struct.unpack("<Q", header[:8])
        rest = stream.read(length + 4)
        if len(rest) < length + 4:
            raise RecordError("truncated TFRecord record")
        yield header + rest


def iter_line_chunks(stream: BinaryIO, max_bytes: int) -> Iterator[tuple[bytes, int]]:
    """Fast path for SplitType=Line + MultiRecord: payloads of whole lines up to ``max_bytes`` without
    looking at individual records; yields (payload, record count)."""
    buffer = b""
    while True:
        chunk = stream.read(max(READ_CHUNK, max_bytes))
        if not chunk:
            break
        buffer += chunk
        while len(buffer) >= max_bytes:
            cut = buffer.rfind(b"\n", 0, max_bytes)
            if cut < 0:
                cut = buffer.find(b"\n", max_bytes)
                if cut < 0:
                    break
            payload, buffer = buffer[: cut + 1], buffer[cut + 1 :]
            payload = _drop_blank_lines(payload)
            if payload:
                yield payload, payload.count(b"\n")
    payload = _drop_blank_lines(buffer if buffer.endswith(b"\n") or not buffer else buffer + b"\n")
    if payload:
        yield payload, payload.count(b"\n")


def _drop_blank_lines(payload: bytes) -> bytes:
    if b"\r" in payload:
        payload = payload.replace(b"\r\n", b"\n")
    if b"\n\n" in payload or payload.startswith(b"\n"):
        payload = b"".join(line + b"\n" for line in payload.split(b"\n") if line)
    return payload


def batches(records: Iterator[bytes], strategy: str, max_bytes: int, separator: bytes) -> Iterator[Batch]:
    """Group records into request payloads (SingleRecord: one each; MultiRecord: up to max_bytes)."""
    index = 0
    number = 1
    current: list[bytes] = []
    size = 0
    for record in records:
        if strategy == "SingleRecord":
            yield Batch(index, number, [record], record + (separator if separator == b"\n" else b""), 1)
            index += 1
            number += 1
            continue
        extra = len(record) + len(separator)
        if current and max_bytes and size + extra > max_bytes:
            yield Batch(index, number, current, _join(current, separator), len(current))
            index += 1
            number += len(current)
            current, size = [], 0
        current.append(record)
        size += extra
    if current:
        yield Batch(index, number, current, _join(current, separator), len(current))


def _join(records: list[bytes], separator: bytes) -> bytes:
    if separator == b"\n":
        return b"\n".join(records) + b"\n"
    return separator.join(records)


# -- DataProcessing ---------------------------------------------------------------------------


def is_csv(content_type: str | None) -> bool:
    return (content_type or "").split(";")[0].strip().lower() in ("text/csv", "text/x-csv")


def is_json(content_type: str | None) -> bool:
    base = (content_type or "").split(";")[0].strip().lower()
    return base in ("application/json", "application/jsonlines", "application/x-jsonlines")


def parse_record(record: bytes, content_type: str | None):
    if is_csv(content_type):
        return next(csv.reader([record.decode("utf-8")]), [])
    if is_json(content_type):
        try:
            return json.loads(record)
        except ValueError:
            raise RecordError(f"record is not valid JSON: {record[:200]!r}") from None
    raise RecordError(f"DataProcessing needs text/csv or JSON records, not {content_type}")


def render_record(value, content_type: str | None) -> bytes:
    if is_csv(content_type):
        if isinstance(value, list):
            buffer = io.StringIO()
            csv.writer(buffer, lineterminator="").writerow(value)
            return buffer.getvalue().encode()
        return str(value).encode()
    return json.dumps(value, separators=(",", ":")).encode()


def filter_input(records: list[bytes], path: JsonPath, content_type: str | None) -> list[bytes]:
    if path.identity:
        return records
    try:
        return [render_record(path.apply(parse_record(r, content_type)), content_type) for r in records]
    except JsonPathError as exc:
        raise RecordError(str(exc)) from None


def split_output(body: bytes, count: int) -> list[bytes]:
    """One output per input record: the response's lines (or the whole body for one record)."""
    lines = [line for line in body.replace(b"\r\n", b"\n").split(b"\n") if line.strip()]
    if len(lines) == count:
        return lines
    if count == 1:
        return [body.strip()]
    stripped = body.strip()
    if stripped.startswith(b"[") or stripped.startswith(b"{"):
        try:
            document = json.loads(stripped)
        except ValueError:
            document = None
        if isinstance(document, dict) and isinstance(document.get("predictions"), list):
            document = document["predictions"]
        if isinstance(document, list) and len(document) == count:
            return [json.dumps(item, separators=(",", ":")).encode() for item in document]
    raise RecordError(f"the model returned {len(lines)} output records for {count} input records")


def join_and_filter(
    inputs: list[bytes],
    outputs: list[bytes],
    join: bool,
    path: JsonPath,
    input_type: str | None,
    accept: str | None,
) -> list[bytes]:
    """JoinSource=Input and OutputFilter for one batch; returns the records to write."""
    if not join and path.identity:
        return outputs
    result = []
    out_csv = is_csv(accept) or (not is_json(accept) and is_csv(input_type))
    for source, output in zip(inputs, outputs):
        out_value = (
            parse_record(output, "text/csv" if out_csv else "application/json")
            if (join or not path.identity)
            else output
        )
        if join:
            in_value = parse_record(source, input_type)
            if isinstance(in_value, dict):
                value = dict(in_value)
                value["SageMakerOutput"] = out_value
            elif isinstance(in_value, list):
                value = in_value + (out_value if isinstance(out_value, list) else [out_value])
            else:
                value = [in_value, out_value]
            render_type = input_type
        else:
            value = out_value
            render_type = "text/csv" if out_csv else "application/json"
        try:
            value = path.apply(value)
        except JsonPathError as exc:
            raise RecordError(str(exc)) from None
        result.append(render_record(value, render_type))
    return result


def with_inference_ids(body: bytes, content_type: str | None, started: str, new_id) -> bytes:
    """DataCaptureConfig.GenerateInferenceId: each output record gets an inference id and the job's start
    time — two trailing CSV columns, or ``SageMakerInferenceId`` / ``SageMakerInferenceTime`` keys of a
    JSON object (JSON Lines: per line). Other answers are left as they are. ``new_id()`` makes an id."""
    if is_csv(content_type):
        lines = body.split(b"\n")
        return b"\n".join(
            line.rstrip(b"\r") + f",{new_id()},{started}".encode() if line.strip() else line for line in lines
        )
    if not is_json(content_type):
        return body

    def tag(text: bytes) -> bytes:
        try:
            value = json.loads(text)
        except ValueError:
            return text
        if not isinstance(value, dict):
            return text
        value["SageMakerInferenceId"] = new_id()
        value["SageMakerInferenceTime"] = started
        return json.dumps(value).encode()

    if "jsonlines" in (content_type or ""):
        return b"\n".join(tag(line) if line.strip() else line for line in body.split(b"\n"))
    return tag(body)
