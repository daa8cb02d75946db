"""The record preprocessor and post-analytics processor scripts the built-in analyzer runs.

A preprocessor defines ``preprocess_handler(inference_record)`` (or ``(inference_record, logger)``) and
returns a flat dict (column → value; keys such as ``str(i).zfill(20)`` keep the order) or ``[]`` to drop
the record. ``inference_record`` exposes ``endpoint_input`` / ``endpoint_output`` (``data``,
``encoding``, ``observedContentType``, ``mode``), ``event_metadata`` (``event_id``, ``inference_id``,
``inference_time``, ``custom_attribute``), ``event_version``, ``ground_truth`` and the older spelling
``event_data.endpointInput`` / ``event_data.endpointOutput``. A post-analytics script defines
``postprocess_handler()``, called after a successful analysis.
"""

from __future__ import annotations

import importlib.util
import inspect
import logging
from pathlib import Path
from types import ModuleType, SimpleNamespace

log = logging.getLogger("sagestack.monitoring")


class ScriptError(Exception):
    """A script that is missing, does not load or lacks its handler (a ClientError for the job)."""


def load(path: str, handler: str) -> ModuleType:
    file = Path(path)
    if file.is_dir():
        candidates = sorted(file.glob("*.py"))
        if not candidates:
            raise ScriptError(f"no Python script in {path}")
        file = candidates[0]
    if not file.is_file():
        raise ScriptError(f"the script {path} does not exist")
    spec = importlib.util.spec_from_file_location(f"sagestack_monitor_{file.stem}", file)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise ScriptError(f"the script {file.name} failed to load: {type(exc).__name__}: {exc}") from None
    if not callable(getattr(module, handler, None)):
        raise ScriptError(f"the script {file.name} does not define {handler}()")
    return module


def _part(part: dict | None) -> SimpleNamespace | None:
    if part is None:
        return None
    return SimpleNamespace(
        data=part.get("data"),
        encoding=part.get("encoding"),
        observedContentType=part.get("observedContentType"),
        mode=part.get("mode"),
    )


def inference_record(record: dict) -> SimpleNamespace:
    data = record.get("captureData") or {}
    meta = record.get("eventMetadata") or {}
    endpoint_input = _part(data.get("endpointInput"))
    endpoint_output = _part(data.get("endpointOutput"))
    truth = record.get("groundTruthData")
    return SimpleNamespace(
        endpoint_input=endpoint_input,
        endpoint_output=endpoint_output,
        batch_transform_output=_part(data.get("batchTransformOutput")),
        event_data=SimpleNamespace(endpointInput=endpoint_input, endpointOutput=endpoint_output),
        event_metadata=SimpleNamespace(
            event_id=meta.get("eventId"),
            inference_id=meta.get("inferenceId"),
            inference_time=meta.get("inferenceTime"),
            event_time=meta.get("inferenceTime"),
            custom_attribute=meta.get("customAttributes"),
        ),
        ground_truth=SimpleNamespace(data=truth.get("data"), encoding=truth.get("encoding"))
        if truth
        else None,
        event_version=record.get("eventVersion"),
    )


class Preprocessor:
    def __init__(self, path: str):
        self.handler = load(path, "preprocess_handler").preprocess_handler
        self.with_logger = len(inspect.signature(self.handler).parameters) >= 2

    def rows(self, record: dict) -> list[list[tuple[str | None, object]]]:
        """The rows one record becomes: none (dropped), one flat dict, or a list of flat dicts."""
        item = inference_record(record)
        try:
            result = self.handler(item, log) if self.with_logger else self.handler(item)
        except Exception as exc:
            raise ScriptError(f"preprocess_handler failed: {type(exc).__name__}: {exc}") from None
        if not result:
            return []
        results = result if isinstance(result, list) else [result]
        rows = []
        for one in results:
            if not isinstance(one, dict):
                raise ScriptError(
                    f"preprocess_handler must return a flat dict (or [] to drop a record), got {type(one).__name__}"
                )
            rows.append([(str(k), v) for k, v in one.items()])
        return rows


def run_postprocessor(path: str) -> None:
    handler = load(path, "postprocess_handler").postprocess_handler
    try:
        handler()
    except Exception as exc:
        raise ScriptError(f"postprocess_handler failed: {type(exc).__name__}: {exc}") from None
