"""The model a Clarify job asks: serializing feature rows as the model's content type, parsing its
answers into scores and predicted labels, and (in :class:`ShadowEndpoint`) the temporary endpoint
Clarify creates from ``predictor.model_name`` and deletes afterwards — through the server's own
SageMaker API, with the job's credentials."""

from __future__ import annotations

import csv
import io
import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import jmespath
import numpy as np
import pandas as pd

from .errors import ClarifyError

log = logging.getLogger("sagestack.clarify")

CONTENT_TYPES = ("text/csv", "application/jsonlines", "application/json")
MAX_PAYLOAD = 5 * 1024 * 1024  # under InvokeEndpoint's 6 MB
MAX_RECORDS = 10000
DEFAULT_PREFIX = "sm-clarify"


def _cell(text: str):
    text = text.strip()
    if text.startswith("[") or text.startswith("{"):
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return text
    try:
        return float(text)
    except ValueError:
        return text


def _format(value) -> str:
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    if isinstance(value, (np.integer,)):
        return str(int(value))
    return str(value)


@dataclass
class Output:
    """The model's answers for a batch: ``scores`` (n × k floats, or None) and ``labels`` (n, or None)."""

    scores: np.ndarray | None
    labels: list | None


class ModelFormat:
    """How rows are sent to the model and how its answers are read (``predictor`` config keys
    ``content_type``, ``accept_type``, ``content_template``, ``label``, ``probability``)."""

    def __init__(self, predictor: dict, dataset_type: str):
        default = dataset_type if dataset_type in CONTENT_TYPES else "text/csv"
        self.content_type = predictor.get("content_type") or default
        self.accept_type = predictor.get("accept_type") or self.content_type
        for what, value in (("content_type", self.content_type), ("accept_type", self.accept_type)):
            if value not in CONTENT_TYPES:
                raise ClarifyError(f"predictor {what} {value!r} is not supported; use one of {CONTENT_TYPES}")
        self.template = predictor.get("content_template")
        if self.content_type != "text/csv" and not self.template:
            raise ClarifyError(
                f"predictor content_template (with a $features placeholder) is required for content_type "
                f"{self.content_type}"
            )
        if self.template and self.template.count("$features") != 1:
            raise ClarifyError(
                "predictor content_template must contain the placeholder $features exactly once"
            )
        self.label = predictor.get("label")
        self.probability = predictor.get("probability")
        self.label_headers = predictor.get("label_headers")

    def serialize(self, rows) -> bytes:
        if self.content_type == "text/csv":
            if isinstance(rows, np.ndarray) and rows.dtype.kind in "fiu" and rows.ndim == 2:
                return csv_matrix(rows)
            out = io.StringIO()
            for row in rows:
                out.write(",".join(_format(v) for v in row))
                out.write("\n")
            return out.getvalue().encode()
        if isinstance(rows, np.ndarray):
            rows = rows.tolist()
        records = [self.template.replace("$features", json.dumps([_plain(v) for v in row])) for row in rows]
        if self.content_type == "application/jsonlines":
            return ("\n".join(records) + "\n").encode()
        return ("[" + ",".join(records) + "]").encode()

    def records(self, body: bytes) -> list:
        text = body.decode("utf-8", "replace")
        if self.accept_type == "text/csv":
            return [[_cell(c) for c in row] for row in csv.reader(io.StringIO(text)) if row]
        if self.accept_type == "application/jsonlines":
            return [json.loads(line) for line in text.splitlines() if line.strip()]
        document = json.loads(text)
        if isinstance(document, dict) and isinstance(document.get("predictions"), list):
            return document["predictions"]
        return document if isinstance(document, list) else [document]

    def _pick(self, record, spec):
        if isinstance(record, list):
            if not isinstance(spec, int):
                raise ClarifyError(
                    f"predictor label/probability {spec!r} must be an index for CSV model output"
                )
            if spec >= len(record):
                raise ClarifyError(f"predictor index {spec} is out of range of the model output {record}")
            return record[spec]
        try:
            return jmespath.search(str(spec), record)
        except jmespath.exceptions.JMESPathError as exc:
            raise ClarifyError(f"Invalid JMESPath {spec!r}: {exc}") from None

    def parse(self, records: list) -> Output:
        scores: list = []
        labels: list = []
        for record in records:
            label = self._pick(record, self.label) if self.label is not None else None
            if self.probability is not None:
                score = self._pick(record, self.probability)
            elif self.label is None:
                score = record if not isinstance(record, list) or len(record) != 1 else record[0]
                if isinstance(score, dict):
                    raise ClarifyError(
                        "The model output is a JSON object: set predictor label and/or probability "
                        f"(JMESPath) to locate the prediction in {score}"
                    )
            else:
                score = None
            scores.append(score)
            labels.append(label)
        have_scores = any(s is not None for s in scores)
        matrix = None
        if have_scores:
            try:
                matrix = np.array([np.atleast_1d(np.asarray(s, dtype=float)) for s in scores], dtype=float)
            except (TypeError, ValueError):
                raise ClarifyError(f"The model output scores are not numbers: {scores[:3]}") from None
        return Output(matrix, labels if self.label is not None else None)


def csv_matrix(matrix: np.ndarray) -> bytes:
    """A numeric matrix as CSV lines, each distinct value formatted once (Kernel SHAP's synthetic rows
    repeat the same few values per column, so this is several times faster than formatting each cell)."""
    if matrix.size == 0:
        return b""
    if matrix.dtype.kind == "f":
        unique, inverse = np.unique(matrix, return_inverse=True)
        texts = np.array([repr(v) for v in unique.tolist()], dtype=object)[inverse.reshape(matrix.shape)]
    else:
        texts = matrix.astype(str).astype(object)
    return ("\n".join(map(",".join, texts.tolist())) + "\n").encode()


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    return value


def batches(rows, fmt: ModelFormat) -> list:
    """Rows split so that each request stays under the payload limit."""
    if len(rows) == 0:
        return []
    probe = min(len(rows), 50)
    sample = len(fmt.serialize(rows[:probe])) / probe
    per_request = max(1, min(MAX_RECORDS, int(MAX_PAYLOAD // max(sample * 1.5, 1))))
    return [rows[i : i + per_request] for i in range(0, len(rows), per_request)]


class Model:
    """Calls an endpoint in batches; ``predict(frame)`` → :class:`Output` for every row."""

    def __init__(self, invoke: Callable[[bytes, str, str], bytes], fmt: ModelFormat):
        self.invoke = invoke
        self.fmt = fmt
        self.calls = 0

    def predict(self, frame: pd.DataFrame | np.ndarray) -> Output:
        matrix = frame.to_numpy() if isinstance(frame, pd.DataFrame) else np.asarray(frame)
        if matrix.dtype == object:  # numbers as numbers where every column is numeric
            try:
                matrix = matrix.astype(float)
            except (TypeError, ValueError):
                pass
        rows = matrix if matrix.dtype.kind in "fiu" else matrix.tolist()
        records: list = []
        for batch in batches(rows, self.fmt):
            body = self.invoke(self.fmt.serialize(batch), self.fmt.content_type, self.fmt.accept_type)
            self.calls += 1
            answer = self.fmt.records(body)
            if len(answer) != len(batch):
                raise ClarifyError(
                    f"The model returned {len(answer)} predictions for {len(batch)} records: each record "
                    f"sent must get exactly one prediction"
                )
            records.extend(answer)
        return self.fmt.parse(records)


def predicted_labels(output: Output, threshold: float, label_headers: list | None, explicit_threshold: bool):
    """One predicted label per record, as Clarify derives it: the ``label`` the model gave (thresholded
    when it is a score and a ``probability_threshold`` was set), else a score > threshold ⇒ 1, or the
    label (header) of the highest score."""
    n = len(output.labels) if output.labels is not None else len(output.scores)
    result = []
    for i in range(n):
        label = output.labels[i] if output.labels is not None else None
        if label is not None and not isinstance(label, list):
            if explicit_threshold and isinstance(label, (int, float)) and not isinstance(label, bool):
                result.append(1 if float(label) > threshold else 0)
            else:
                result.append(label)
            continue
        scores = output.scores[i] if output.scores is not None else None
        if scores is None:
            raise ClarifyError("The model output has no label or score to derive a predicted label from")
        if len(scores) == 1:
            result.append(1 if scores[0] > threshold else 0)
        else:
            best = int(np.argmax(scores))
            names = label if isinstance(label, list) else label_headers
            result.append(names[best] if names and best < len(names) else best)
    return pd.Series(result)


class ShadowEndpoint:
    """The endpoint a job's predictions come from: ``predictor.endpoint_name`` as is, or a temporary one
    created from ``predictor.model_name`` (deleted by :meth:`close`)."""

    def __init__(self, predictor: dict, sagemaker, runtime, job_name: str = ""):
        self.sm = sagemaker
        self.runtime = runtime
        self.predictor = predictor
        self.created = False
        self.name = predictor.get("endpoint_name")
        if not self.name and not predictor.get("model_name"):
            raise ClarifyError("predictor needs model_name or endpoint_name to get predictions from a model")

    def open(self, timeout: float = 1800.0) -> str:
        if not self.name:
            prefix = self.predictor.get("endpoint_name_prefix") or DEFAULT_PREFIX
            self.name = f"{prefix}-{uuid.uuid4().hex[:12]}"[:63]
            variant = {
                "VariantName": "AllTraffic",
                "ModelName": self.predictor["model_name"],
                "InitialInstanceCount": int(self.predictor.get("initial_instance_count") or 1),
                "InstanceType": self.predictor.get("instance_type") or "ml.m5.xlarge",
            }
            if self.predictor.get("accelerator_type"):
                variant["AcceleratorType"] = self.predictor["accelerator_type"]
            print(
                f"Creating shadow endpoint {self.name} for model {self.predictor['model_name']}", flush=True
            )
            try:
                self.sm.create_endpoint_config(EndpointConfigName=self.name, ProductionVariants=[variant])
                self.created = True
                self.sm.create_endpoint(EndpointName=self.name, EndpointConfigName=self.name)
            except self.sm.exceptions.ClientError as exc:
                raise ClarifyError(f"Could not create the shadow endpoint {self.name}: {exc}") from None
        deadline = time.time() + timeout
        while True:
            try:
                desc = self.sm.describe_endpoint(EndpointName=self.name)
            except self.sm.exceptions.ClientError as exc:
                raise ClarifyError(f"Endpoint {self.name} cannot be used: {exc}") from None
            status = desc["EndpointStatus"]
            if status == "InService":
                return self.name
            if status in ("Failed", "OutOfService", "Deleting"):
                reason = desc.get("FailureReason") or status
                raise ClarifyError(f"Endpoint {self.name} is {status}: {reason}")
            if time.time() > deadline:
                raise ClarifyError(f"Endpoint {self.name} was not InService after {timeout:.0f} seconds")
            time.sleep(0.5)

    def invoke(self, body: bytes, content_type: str, accept: str) -> bytes:
        extra = {}
        if self.predictor.get("target_model"):
            extra["TargetModel"] = self.predictor["target_model"]
        if self.predictor.get("custom_attributes"):
            extra["CustomAttributes"] = self.predictor["custom_attributes"]
        try:
            response = self.runtime.invoke_endpoint(
                EndpointName=self.name, Body=body, ContentType=content_type, Accept=accept, **extra
            )
        except self.runtime.exceptions.ClientError as exc:
            raise ClarifyError(f"InvokeEndpoint on {self.name} failed: {exc}") from None
        return response["Body"].read()

    def close(self) -> None:
        if not self.created:
            return
        print(f"Deleting shadow endpoint {self.name}", flush=True)
        for call, key in (
            (self.sm.delete_endpoint, "EndpointName"),
            (self.sm.delete_endpoint_config, "EndpointConfigName"),
        ):
            try:
                call(**{key: self.name})
            except Exception as exc:  # the analysis result stands; the leftover is reported in the log
                log.warning("could not delete %s: %s", self.name, exc)
                print(f"Could not delete {self.name}: {exc}", flush=True)
        self.created = False
