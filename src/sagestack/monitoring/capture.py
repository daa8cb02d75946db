"""Endpoint data-capture records and ground truth, read from the files a monitoring job is given.

A capture file is JSON Lines, one invocation per line::

    {"captureData": {"endpointInput": {"observedContentType": "text/csv", "mode": "INPUT",
                                       "data": "1,2,3", "encoding": "CSV"},
                     "endpointOutput": {...}},
     "eventMetadata": {"eventId": "…", "inferenceId": "…", "inferenceTime": "2026-11-28T06:40:21Z"},
     "eventVersion": "0"}

``encoding`` is CSV (data verbatim), JSON (the raw payload text) or BASE64. A payload of several CSV lines
holds several records. The analysis dataset puts the output columns first, then the input columns (the
baseline's order: "prediction columns first"), named after the baseline's features by position.

Ground truth (model quality) is JSON Lines too: ``{"groundTruthData": {"data": "1", "encoding": "CSV"},
"eventMetadata": {"eventId": "…"}, "eventVersion": "0"}``, joined on the capture's ``inferenceId`` when
it has one, else its ``eventId``.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import io
import json
from collections.abc import Iterable, Iterator
from pathlib import Path


class CaptureError(Exception):
    """Captured data the analyzer cannot read (a ClientError for the job)."""


def parse_time(text: str) -> dt.datetime:
    value = text.strip()
    if value.endswith("Z"):
        value = value[:-1]
    parsed = dt.datetime.fromisoformat(value)
    return parsed.replace(tzinfo=dt.timezone.utc) if parsed.tzinfo is None else parsed


def jsonl_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in (".jsonl", ".json"))


def read_jsonl(paths: Iterable[Path]) -> Iterator[dict]:
    for path in paths:
        with open(path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as exc:
                    raise CaptureError(f"{path.name} line {number} is not JSON: {exc}") from None


def in_window(record: dict, start: dt.datetime | None, end: dt.datetime | None) -> bool:
    stamp = (record.get("eventMetadata") or {}).get("inferenceTime")
    if not stamp or (start is None and end is None):
        return True
    try:
        when = parse_time(stamp)
    except ValueError:
        return True
    return (start is None or when >= start) and (end is None or when < end)


def capture_records(
    root: Path, start: dt.datetime | None = None, end: dt.datetime | None = None
) -> list[dict]:
    return [r for r in read_jsonl(jsonl_files(root)) if "captureData" in r and in_window(r, start, end)]


def payload_text(part: dict) -> str:
    data = part.get("data", "")
    if (part.get("encoding") or "").upper() == "BASE64":
        return base64.b64decode(data).decode("utf-8", "replace")
    return data if isinstance(data, str) else json.dumps(data)


def _is_json(part: dict) -> bool:
    encoding = (part.get("encoding") or "").upper()
    content_type = (part.get("observedContentType") or "").lower()
    return encoding == "JSON" or "json" in content_type


def _cell(text: str):
    return None if text.strip() == "" else text.strip()


def parse_payload(part: dict | None) -> list[list[tuple[str | None, object]]]:
    """The rows a payload holds, each a list of (column name or None, value)."""
    if not part:
        return []
    text = payload_text(part)
    if _is_json(part):
        try:
            value = json.loads(text)
            docs = [value]
        except json.JSONDecodeError:
            docs = [json.loads(line) for line in text.splitlines() if line.strip()]
        rows: list[list[tuple[str | None, object]]] = []
        for doc in docs:
            rows.extend(_json_rows(doc))
        return rows
    return [[(None, _cell(v)) for v in row] for row in csv.reader(io.StringIO(text)) if row]


def _json_rows(doc) -> list[list[tuple[str | None, object]]]:
    if isinstance(doc, dict):
        for key in ("instances", "predictions", "features"):
            if key in doc and isinstance(doc[key], list) and len(doc) == 1:
                items = doc[key]
                if items and all(isinstance(i, list | dict) for i in items):
                    return [r for item in items for r in _json_rows(item)]
                return [[(None, v) for v in items]]
        return [list(_flatten(doc))]
    if isinstance(doc, list):
        if doc and all(isinstance(i, list | dict) for i in doc):
            return [r for item in doc for r in _json_rows(item)]
        return [[(None, v) for v in doc]]
    return [[(None, doc)]]


def _flatten(doc: dict, prefix: str = "") -> Iterator[tuple[str, object]]:
    for key, value in doc.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            yield from _flatten(value, name + ".")
        elif isinstance(value, list):
            for i, item in enumerate(value):
                yield f"{name}[{i}]", item
        else:
            yield name, value


def record_rows(record: dict) -> list[list[tuple[str | None, object]]]:
    """The analysis rows of one capture record: output columns first, then input columns."""
    data = record.get("captureData") or {}
    inputs = parse_payload(data.get("endpointInput"))
    outputs = parse_payload(data.get("endpointOutput"))
    if not inputs:
        return outputs
    if not outputs:
        return inputs
    if len(outputs) == len(inputs):
        return [o + i for o, i in zip(outputs, inputs)]
    if len(outputs) == 1 and len(inputs) > 1 and len(outputs[0]) == len(inputs):
        return [[o] + i for o, i in zip(outputs[0], inputs)]
    return inputs


def event_key(record: dict) -> str | None:
    meta = record.get("eventMetadata") or {}
    return meta.get("inferenceId") or meta.get("eventId")


def ground_truth(root: Path) -> dict[str, dict]:
    """eventId → groundTruthData, from every JSON Lines file under ``root``."""
    found: dict[str, dict] = {}
    for record in read_jsonl(jsonl_files(root)):
        key = (record.get("eventMetadata") or {}).get("eventId")
        if key and "groundTruthData" in record:
            found[str(key)] = record["groundTruthData"]
    return found


def merge(records: list[dict], truth: dict[str, dict]) -> list[dict]:
    """Capture records that have ground truth, each with its ``groundTruthData`` added."""
    merged = []
    for record in records:
        key = event_key(record)
        if key is not None and str(key) in truth:
            merged.append({**record, "groundTruthData": truth[str(key)]})
    return merged
