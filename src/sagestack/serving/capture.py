"""Data capture (``DataCaptureConfig``): request/response records in SageMaker's JSON Lines format.

The router samples with ``InitialSamplingPercentage`` and queues raw bytes (a deque append); a background
loop encodes the records and writes one object per endpoint/variant/hour and flush under
``<DestinationS3Uri>/<EndpointName>/<VariantName>/yyyy/mm/dd/hh/<mm-ss-mmm>-<uuid>.jsonl``::

    {"captureData": {"endpointInput": {"observedContentType": "text/csv", "mode": "INPUT",
                                       "data": "1,2,3", "encoding": "CSV"},
                     "endpointOutput": {"observedContentType": "text/csv", "mode": "OUTPUT",
                                        "data": "0.5", "encoding": "CSV"}},
     "eventMetadata": {"eventId": "…", "inferenceId": "…", "inferenceTime": "2026-11-28T06:40:21Z"},
     "eventVersion": "0"}

Content types listed in ``CaptureContentTypeHeader.CsvContentTypes`` / ``JsonContentTypes`` are written
as text with encoding ``CSV`` / ``JSON``; everything else as ``BASE64``.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import random
import threading
import uuid
from collections import deque
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("sagestack.serving")


@dataclass(frozen=True)
class CaptureSettings:
    destination: str
    percentage: float
    capture_input: bool
    capture_output: bool
    csv_types: tuple[str, ...]
    json_types: tuple[str, ...]
    kms_key_id: str | None = None

    @classmethod
    def from_config(cls, config: dict | None) -> CaptureSettings | None:
        if not config or not config.get("EnableCapture", True):
            return None
        modes = {o.get("CaptureMode") for o in config.get("CaptureOptions") or []}
        header = config.get("CaptureContentTypeHeader") or {}
        return cls(
            destination=config["DestinationS3Uri"].rstrip("/"),
            percentage=float(config.get("InitialSamplingPercentage", 100)),
            capture_input="Input" in modes or not modes,
            capture_output="Output" in modes or not modes,
            csv_types=tuple(t.lower() for t in header.get("CsvContentTypes") or ("text/csv",)),
            json_types=tuple(t.lower() for t in header.get("JsonContentTypes") or ("application/json",)),
            kms_key_id=config.get("KmsKeyId"),
        )


class DataCapture:
    def __init__(self, platform, max_queue: int = 100_000):
        self.platform = platform
        self.queue: deque = deque(maxlen=max_queue)
        self._lock = threading.Lock()
        self._warned: set[str] = set()

    def offer(
        self,
        settings: CaptureSettings,
        route: Any,
        variant: str,
        body: bytes,
        content_type: str | None,
        response: bytes,
        response_type: bytes | None,
        inference_id: str | None,
    ) -> None:
        """Hot path: sample and queue (no encoding, no I/O)."""
        if settings.percentage < 100 and random.random() * 100 >= settings.percentage:
            return
        self.queue.append(
            (
                settings,
                route.account,
                route.name,
                variant,
                dt.datetime.now(dt.timezone.utc),
                body,
                content_type,
                response,
                response_type.decode("latin-1") if response_type else None,
                inference_id,
            )
        )

    def flush(self) -> int:
        with self._lock:
            items = []
            while self.queue:
                items.append(self.queue.popleft())
        if not items:
            return 0
        files: dict[tuple, list[str]] = {}
        for settings, account, endpoint, variant, when, body, ctype, response, rtype, inference_id in items:
            key = (settings, account, endpoint, variant, when.strftime("%Y/%m/%d/%H"))
            files.setdefault(key, []).append(
                record(settings, when, body, ctype, response, rtype, inference_id)
            )
        written = 0
        for (settings, account, endpoint, variant, hour), lines in files.items():
            now = dt.datetime.now(dt.timezone.utc)
            name = f"{now:%M-%S}-{now.microsecond // 1000:03d}-{uuid.uuid4()}.jsonl"
            uri = f"{settings.destination}/{endpoint}/{variant}/{hour}/{name}"
            try:
                self._put(account, uri, ("\n".join(lines) + "\n").encode())
                written += len(lines)
            except Exception as exc:  # noqa: BLE001 - a missing bucket must not stop capture for others
                if settings.destination not in self._warned:
                    self._warned.add(settings.destination)
                    log.warning("data capture for %s could not write %s: %s", endpoint, uri, exc)
        return written

    def _put(self, account: str, uri: str, data: bytes) -> None:
        from ..objects import object_store, parse_s3_uri

        bucket, key = parse_s3_uri(uri)
        object_store(self.platform).put_bytes(
            account, bucket, key, data, content_type="application/jsonlines"
        )


def _encode(data: bytes, content_type: str | None, settings: CaptureSettings) -> tuple[str, str]:
    base = (content_type or "").split(";", 1)[0].strip().lower()
    if base in settings.csv_types or base in settings.json_types:
        try:
            return data.decode("utf-8"), "CSV" if base in settings.csv_types else "JSON"
        except UnicodeDecodeError:
            pass
    return base64.b64encode(data).decode("ascii"), "BASE64"


def record(
    settings: CaptureSettings,
    when: dt.datetime,
    body: bytes,
    content_type: str | None,
    response: bytes,
    response_type: str | None,
    inference_id: str | None,
) -> str:
    capture: dict[str, Any] = {}
    if settings.capture_input:
        data, encoding = _encode(body, content_type, settings)
        capture["endpointInput"] = {
            "observedContentType": content_type or "",
            "mode": "INPUT",
            "data": data,
            "encoding": encoding,
        }
    if settings.capture_output:
        data, encoding = _encode(response, response_type, settings)
        capture["endpointOutput"] = {
            "observedContentType": response_type or "",
            "mode": "OUTPUT",
            "data": data,
            "encoding": encoding,
        }
    metadata = {"eventId": str(uuid.uuid4())}
    if inference_id:
        metadata["inferenceId"] = inference_id
    metadata["inferenceTime"] = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    return json.dumps(
        {"captureData": capture, "eventMetadata": metadata, "eventVersion": "0"}, separators=(",", ":")
    )
