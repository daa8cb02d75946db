"""Monitoring mode: a dataset of captured (and ground-truth merged) endpoint records, as a
ModelBias / ModelExplainability schedule hands them to the Clarify job.

A capture file is JSON Lines; each line has ``captureData.endpointInput`` / ``endpointOutput``
(``data`` + ``encoding`` CSV / JSON / BASE64) and, once merged, ``groundTruthData``. One invocation may
carry several records (CSV lines, JSON Lines). Read as: features from the input (CSV columns, or the
``features`` JMESPath of the analysis config / the ``features_attribute`` environment variable), the
predicted label from the output (``inference_attribute``; or ``probability_attribute`` with
``probability_threshold_attribute``, default 0.5; CSV output: ``predictor.label`` / ``predictor.probability``
indexes, else the first column as the score), the label from ``groundTruthData``
(``ground_truth_attribute`` or the config's ``label`` as JMESPath for JSON ground truth).
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import io
import json
from pathlib import Path

import jmespath
import pandas as pd

from .dataset import Dataset
from .errors import ClarifyError

CAPTURE_TYPE = "application/sagemakercapturejson"
LABEL = "label"
PREDICTED = "predicted_label"


def is_capture(config: dict, environ: dict) -> bool:
    """Captured records: the config says so, or the schedule's ``dataset_format`` is
    ``sagemakerCaptureJson`` (capture files) or ``sagemakerMergeJson`` (capture merged with ground truth)."""
    fmt = environ.get("dataset_format") or ""
    return (
        config.get("dataset_type") == CAPTURE_TYPE
        or "sagemakerCaptureJson" in fmt
        or "sagemakerMergeJson" in fmt
    )


def _moment(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    try:
        moment = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ClarifyError(f"{text!r} is not an ISO 8601 time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


def _in_window(event: dict, start: dt.datetime | None, end: dt.datetime | None) -> bool:
    """Whether the record's ``inferenceTime`` is inside [start, end) (records without one are kept)."""
    try:
        when = _moment((event.get("eventMetadata") or {}).get("inferenceTime"))
    except ClarifyError:
        return True
    if when is None:
        return True
    return (start is None or when >= start) and (end is None or when < end)


def _payload(part: dict | None) -> tuple[str, str]:
    if not part:
        return "", ""
    data = part.get("data") or ""
    if (part.get("encoding") or "").upper() == "BASE64":
        data = base64.b64decode(data).decode("utf-8", "replace")
    return data, (part.get("observedContentType") or "").split(";")[0].strip()


def _records(text: str, content_type: str) -> list:
    if "json" in content_type:
        lines = [line for line in text.splitlines() if line.strip()]
        if len(lines) == 1:
            document = json.loads(lines[0])
            if isinstance(document, list) and document and isinstance(document[0], (list, dict)):
                return document
            return [document]
        return [json.loads(line) for line in lines]
    return [[_number(c) for c in row] for row in csv.reader(io.StringIO(text)) if row]


def _number(text: str):
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text.strip()


def _pick(record, spec, what: str):
    if spec is None:
        return record[0] if isinstance(record, list) else record
    if isinstance(record, list):
        try:
            return record[int(spec)]
        except (ValueError, IndexError):
            raise ClarifyError(
                f"{what} {spec!r} does not locate a value in the CSV record {record}"
            ) from None
    try:
        return jmespath.search(str(spec), record)
    except jmespath.exceptions.JMESPathError as exc:
        raise ClarifyError(f"Invalid JMESPath {what} {spec!r}: {exc}") from None


def load(config: dict, environ: dict, files: list[Path]) -> Dataset:
    predictor = config.get("predictor") or {}
    features_path = environ.get("features_attribute") or config.get("features")
    inference = environ.get("inference_attribute") or predictor.get("label")
    probability = environ.get("probability_attribute") or predictor.get("probability")
    threshold = float(
        environ.get("probability_threshold_attribute") or config.get("probability_threshold") or 0.5
    )
    truth_path = environ.get("ground_truth_attribute") or (
        config.get("label") if isinstance(config.get("label"), str) else None
    )
    start, end = _moment(environ.get("start_time")), _moment(environ.get("end_time"))
    rows, predicted, labels = [], [], []
    for path in files:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if not line.strip():
                continue
            try:
                event = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ClarifyError(f"{path.name} line {number} is not a capture record: {exc}") from None
            if not _in_window(event, start, end):
                continue
            capture = event.get("captureData") or {}
            text, kind = _payload(capture.get("endpointInput"))
            inputs = _records(text, kind)
            out_text, out_kind = _payload(capture.get("endpointOutput"))
            outputs = _records(out_text, out_kind) if out_text else []
            truth_text, truth_kind = _payload(event.get("groundTruthData"))
            if event.get("groundTruthData") and not truth_kind:
                truth_kind = (
                    "application/json" if event["groundTruthData"].get("encoding") == "JSON" else "text/csv"
                )
            truths = _records(truth_text, truth_kind) if truth_text else []
            for i, record in enumerate(inputs):
                if isinstance(record, list):
                    rows.append(record)
                else:
                    values = _pick(record, features_path, "features") if features_path else record
                    rows.append(values if isinstance(values, list) else [values])
                if outputs:
                    out = outputs[min(i, len(outputs) - 1)]
                    if inference is not None:
                        predicted.append(_pick(out, inference, "inference_attribute"))
                    else:
                        score = _pick(out, probability, "probability_attribute")
                        predicted.append(1 if float(score) > threshold else 0)
                if truths:
                    labels.append(
                        _pick(
                            truths[min(i, len(truths) - 1)],
                            truth_path if not isinstance(truths[0], list) else None,
                            "label",
                        )
                    )
    if not rows:
        raise ClarifyError("The dataset is empty: no captured records were found for the analysis window")
    width = len(rows[0])
    label_name = config.get("label") if isinstance(config.get("label"), str) else None
    headers = [h for h in config.get("headers") or [] if h != label_name]
    names = headers[:width] if len(headers) >= width else [f"column_{i}" for i in range(width)]
    frame = pd.DataFrame(rows, columns=names)
    label = predicted_name = None
    if labels and len(labels) == len(rows):
        label = label_name if label_name and label_name not in names and "." not in label_name else LABEL
        frame[label] = labels
    if predicted and len(predicted) == len(rows):
        predicted_name = PREDICTED
        frame[predicted_name] = predicted
    return Dataset(frame, names, label, predicted_name)
