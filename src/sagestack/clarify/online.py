"""Online explainability (``ClarifyExplainerConfig`` on an endpoint config): which records of a request
are explained (``EnableExplanations``, a JMESPath over each record's model output), Kernel SHAP against
the variant's model for them, and Clarify's JSON response. The caller supplies ``predict``: rows of
feature values → the model's raw answer for them (the serving layer sends them to the variant)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass

import jmespath
import numpy as np

from .errors import ClarifyError

CSV = "text/csv"
JSON_LINES = "application/jsonlines"
SUPPORTED = (CSV, JSON_LINES)
RESPONSE_CONTENT_TYPE = "application/json"


def compile_expression(expression: str):
    """The compiled ``EnableExplanations`` JMESPath; raises :class:`ClarifyError` when it is invalid."""
    try:
        return jmespath.compile(expression)
    except jmespath.exceptions.JMESPathError as exc:
        raise ClarifyError(
            f"EnableExplanations {expression!r} is not a valid JMESPath expression: {exc}"
        ) from None


def _cell(text: str):
    text = text.strip()
    try:
        return json.loads(text) if text[:1] in "[{" else float(text)
    except ValueError:
        return text


def base_type(content_type: str | None) -> str:
    return (content_type or "").split(";")[0].strip().lower()


def csv_records(text: str) -> list[list]:
    return [[_cell(c) for c in row] for row in csv.reader(io.StringIO(text)) if row]


def n_samples(number_of_samples: int | None, features: int) -> int:
    """Kernel SHAP samples per explained record (Clarify's sizing): at most 2^M − 2."""
    cap = max(1, 2**features - 2) if features < 40 else 2**40
    wanted = int(number_of_samples) if number_of_samples else 2 * features + 2**11
    return max(1, min(wanted, cap))


@dataclass
class ExplainerSettings:
    """``ClarifyExplainerConfig`` read once per endpoint deployment."""

    enable: object | None
    features_attribute: str | None
    content_template: str | None
    probability_index: int | None
    label_index: int | None
    probability_attribute: str | None
    label_attribute: str | None
    label_headers: list[str] | None
    feature_headers: list[str] | None
    baseline: list[list]
    number_of_samples: int | None
    use_logit: bool
    seed: int | None

    @classmethod
    def from_config(cls, explainer_config: dict, read_uri: Callable[[str], str] | None = None):
        clarify = explainer_config.get("ClarifyExplainerConfig") or {}
        inference = clarify.get("InferenceConfig") or {}
        shap_config = clarify.get("ShapConfig") or {}
        baseline_config = shap_config.get("ShapBaselineConfig") or {}
        text = baseline_config.get("ShapBaseline")
        if text is None and baseline_config.get("ShapBaselineUri"):
            if read_uri is None:
                raise ClarifyError("ShapBaselineUri cannot be read here")
            text = read_uri(baseline_config["ShapBaselineUri"])
        if not text:
            raise ClarifyError("ShapBaselineConfig needs ShapBaseline or ShapBaselineUri")
        mime = baseline_config.get("MimeType") or CSV
        features_attribute = inference.get("FeaturesAttribute")
        if mime == JSON_LINES:
            rows = []
            for line in text.splitlines():
                if line.strip():
                    record = json.loads(line)
                    values = jmespath.search(features_attribute, record) if features_attribute else record
                    rows.append(values if isinstance(values, list) else [values])
        else:
            rows = csv_records(text)
        enable = clarify.get("EnableExplanations")
        return cls(
            enable=compile_expression(enable) if enable else None,
            features_attribute=features_attribute,
            content_template=inference.get("ContentTemplate"),
            probability_index=inference.get("ProbabilityIndex"),
            label_index=inference.get("LabelIndex"),
            probability_attribute=inference.get("ProbabilityAttribute"),
            label_attribute=inference.get("LabelAttribute"),
            label_headers=inference.get("LabelHeaders"),
            feature_headers=inference.get("FeatureHeaders"),
            baseline=rows,
            number_of_samples=shap_config.get("NumberOfSamples"),
            use_logit=bool(shap_config.get("UseLogit")),
            seed=shap_config.get("Seed"),
        )

    # -- requests and model answers -------------------------------------------------------------

    def request_rows(self, body: bytes, content_type: str) -> list[list]:
        text = body.decode("utf-8", "replace")
        if content_type == CSV:
            return csv_records(text)
        rows = []
        for line in text.splitlines():
            if not line.strip():
                continue
            record = json.loads(line)
            values = jmespath.search(self.features_attribute, record) if self.features_attribute else record
            if values is None:
                raise ClarifyError(
                    f"FeaturesAttribute {self.features_attribute!r} found no features in {line}"
                )
            rows.append(values if isinstance(values, list) else [values])
        return rows

    def serialize(self, rows, content_type: str) -> bytes:
        if content_type == CSV:
            return "".join(",".join(_text(v) for v in row) + "\n" for row in rows).encode()
        template = self.content_template or '{"features":$features}'
        if self.content_template is None and self.features_attribute:
            template = json.dumps({self.features_attribute: "__F__"}).replace('"__F__"', "$features")
        return "".join(
            template.replace("$features", json.dumps([_plain(v) for v in row])) + "\n" for row in rows
        ).encode()

    def output_records(self, body: bytes, content_type: str) -> list:
        text = body.decode("utf-8", "replace")
        if base_type(content_type) in ("application/jsonlines", "application/json"):
            records = [json.loads(line) for line in text.splitlines() if line.strip()]
            if (
                len(records) == 1
                and isinstance(records[0], list)
                and records[0]
                and isinstance(records[0][0], dict)
            ):
                return records[0]
            return records
        return csv_records(text)

    def scores(self, records: list) -> np.ndarray:
        out = []
        for record in records:
            if isinstance(record, list):
                value = (
                    record[self.probability_index]
                    if self.probability_index is not None
                    else (record if len(record) != 1 else record[0])
                )
            else:
                if not self.probability_attribute:
                    raise ClarifyError(
                        "ProbabilityAttribute is needed to read scores from JSON Lines model output"
                    )
                value = jmespath.search(self.probability_attribute, record)
            try:
                out.append(np.atleast_1d(np.asarray(value, dtype=float)))
            except (TypeError, ValueError):
                raise ClarifyError(f"The model output {record!r} has no numeric score to explain") from None
        return np.array(out, dtype=float)

    def explained(self, records: list, override: str | None) -> list[bool]:
        expression = compile_expression(override) if override else self.enable
        if expression is None:
            return [True] * len(records)
        flags = []
        for record in records:
            try:
                result = expression.search(record)
            except jmespath.exceptions.JMESPathError as exc:
                raise ClarifyError(
                    f"EnableExplanations could not be evaluated on {record!r}: {exc}"
                ) from None
            if not isinstance(result, bool):
                raise ClarifyError(
                    f"EnableExplanations must evaluate to a boolean; it gave {result!r} for the model output {record!r}"
                )
            flags.append(result)
        return flags

    def label_headers_for(self, records: list) -> list[str] | None:
        if self.label_headers:
            return list(self.label_headers)
        first = records[0] if records else None
        if (
            isinstance(first, list)
            and self.label_index is not None
            and isinstance(first[self.label_index], list)
        ):
            return [str(v) for v in first[self.label_index]]
        if isinstance(first, dict) and self.label_attribute:
            found = jmespath.search(self.label_attribute, first)
            if isinstance(found, list):
                return [str(v) for v in found]
        return None

    # -- the explanation ------------------------------------------------------------------------

    def explain(self, rows: list[list], predict: Callable[[np.ndarray], np.ndarray]) -> list[list[dict]]:
        """Per row: per feature ``{"feature_header"?, "attributions": [{"attribution": [per label]}]}``."""
        import shap

        width = len(rows[0])
        baseline = np.array(self.baseline, dtype=float)
        if baseline.shape[1] != width:
            raise ClarifyError(
                f"The SHAP baseline has {baseline.shape[1]} features but the request records have {width}"
            )
        if self.seed is not None:
            np.random.seed(int(self.seed))
        explainer = shap.KernelExplainer(predict, baseline, link="logit" if self.use_logit else "identity")
        values = np.asarray(
            explainer.shap_values(
                np.array(rows, dtype=float), nsamples=n_samples(self.number_of_samples, width), silent=True
            ),
            dtype=float,
        )
        if values.ndim == 2:
            values = values[:, :, None]
        headers = (
            self.feature_headers if self.feature_headers and len(self.feature_headers) == width else None
        )
        result = []
        for row in values:
            features = []
            for i, per_label in enumerate(row):
                item: dict = {}
                if headers:
                    item["feature_header"] = headers[i]
                item["attributions"] = [{"attribution": [float(v) for v in per_label]}]
                features.append(item)
            result.append(features)
        return result


def response(
    prediction_body: bytes,
    prediction_type: str,
    explanations: list | None,
    label_headers: list[str] | None,
) -> bytes:
    document: dict = {
        "version": "1.0",
        "predictions": {"content_type": prediction_type, "data": prediction_body.decode("utf-8", "replace")},
    }
    if label_headers:
        document["label_headers"] = label_headers
    document["explanations"] = {"kernel_shap": explanations} if explanations is not None else {}
    return json.dumps(document).encode()


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value


def _text(value) -> str:
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    return str(_plain(value))
