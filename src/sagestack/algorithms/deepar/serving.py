"""DeepAR inference (§2.10 Inference): forecasts for the ``instances`` of a request.

``application/json``: ``{"instances": [{start, target, [cat], [dynamic_feat]}, …], "configuration":
{"num_samples": 100, "output_types": ["mean", "quantiles", "samples"], "quantiles": ["0.1", …]}}`` →
``{"predictions": [{"mean": [...], "quantiles": {"0.5": [...]}, "samples": [[...]]}, …]}`` with only the
requested outputs, quantile keys as the request spells them. ``application/jsonlines`` (batch
transform): one series per line, one forecast object per line, the configuration from the
``DEEPAR_INFERENCE_CONFIG`` environment variable (JSON), else the default below.
"""

from __future__ import annotations

import json
import os
from typing import Any

from sagestack.algorithms.base import AlgorithmClientError, InferenceError
from sagestack.algorithms.deepar.data import Series, parse_record
from sagestack.algorithms.deepar.forecast import sample_paths, summarize
from sagestack.algorithms.deepar.model import DeepARModel
from sagestack.algorithms.deepar.model import load_model as load_model  # noqa: PLC0414 (entry point)
from sagestack.algorithms.deepar.spec import SPEC
from sagestack.formats import content_types as ct

CONFIG_ENV = "DEEPAR_INFERENCE_CONFIG"
DEFAULT_CONFIGURATION = {
    "num_samples": 100,
    "output_types": ["mean", "quantiles"],
    "quantiles": ["0.1", "0.2", "0.3", "0.4", "0.5", "0.6", "0.7", "0.8", "0.9"],
}
OUTPUT_TYPES = ("mean", "quantiles", "samples")
MAX_SAMPLES = 10000


def _configuration(raw: Any) -> tuple[int, list[str], list[str]]:
    config = dict(DEFAULT_CONFIGURATION)
    if raw is not None:
        if not isinstance(raw, dict):
            raise InferenceError("'configuration' must be a JSON object", 400)
        config.update(raw)
    try:
        num_samples = int(config["num_samples"])
    except (TypeError, ValueError):
        raise InferenceError(
            f"configuration.num_samples {config['num_samples']!r} is not an integer", 400
        ) from None
    if not 1 <= num_samples <= MAX_SAMPLES:
        raise InferenceError(f"configuration.num_samples must be between 1 and {MAX_SAMPLES}", 400)
    output_types = config["output_types"]
    if not isinstance(output_types, list) or not all(t in OUTPUT_TYPES for t in output_types):
        raise InferenceError(
            f"configuration.output_types {output_types!r} must be a list of {', '.join(OUTPUT_TYPES)}", 400
        )
    quantiles = config["quantiles"]
    if not isinstance(quantiles, list):
        raise InferenceError("configuration.quantiles must be a list", 400)
    keys = [q if isinstance(q, str) else json.dumps(q) for q in quantiles]
    for key in keys:
        try:
            value = float(key)
        except ValueError:
            value = -1.0
        if not 0.0 < value < 1.0:
            raise InferenceError(f"configuration.quantiles: {key!r} is not a number in (0, 1)", 400)
    return num_samples, output_types, keys


def _series(model: DeepARModel, doc: Any, where: str) -> Series:
    config = model.config
    try:
        series = parse_record(doc, where, allow_empty_target=True)
    except AlgorithmClientError as exc:
        raise InferenceError(str(exc), 400) from None
    if config.cardinality:
        if not series.cat or len(series.cat) < len(config.cardinality):
            raise InferenceError(f"{where}: the model was trained with 'cat'; the instance needs it", 400)
        for i, (value, limit) in enumerate(zip(series.cat, config.cardinality)):
            if value >= limit:
                raise InferenceError(f"{where}: cat[{i}] = {value} is not below the cardinality {limit}", 400)
    if config.num_dynamic_feat:
        dyn = series.dynamic_feat
        if dyn is None or dyn.shape[0] != config.num_dynamic_feat:
            raise InferenceError(
                f"{where}: the model was trained with {config.num_dynamic_feat} 'dynamic_feat' arrays; the "
                f"instance needs them",
                400,
            )
        needed = series.target.shape[0] + config.prediction_length
        if dyn.shape[1] < needed:
            raise InferenceError(
                f"{where}: each 'dynamic_feat' array needs len(target) + prediction_length = {needed} values",
                400,
            )
    return series


def forecast(model: DeepARModel, instances: list[Any], configuration: Any) -> list[dict]:
    num_samples, output_types, quantiles = _configuration(configuration)
    series = [_series(model, doc, f"instances[{i}]") for i, doc in enumerate(instances)]
    return [summarize(sample_paths(model, s, num_samples), output_types, quantiles) for s in series]


def _load(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InferenceError(f"The request body is not valid JSON: {exc}", 400) from None


def predict(model: DeepARModel, body: bytes, content_type: str, accept: str) -> tuple[bytes, str]:
    request = ct.normalize(content_type)
    answer = ct.normalize((accept or "").split(",")[0])
    if answer in ("", ct.ANY):
        answer = request if request in SPEC.response_accept_types else ct.JSON
    if request not in SPEC.request_content_types:
        raise InferenceError(
            f"Content type {content_type!r} is not supported; supported: {', '.join(SPEC.request_content_types)}",
            415,
        )
    if answer not in SPEC.response_accept_types:
        raise InferenceError(
            f"Accept type {accept!r} is not supported; supported: {', '.join(SPEC.response_accept_types)}",
            406,
        )
    if request == ct.JSON:
        doc = _load(body)
        if not isinstance(doc, dict) or not isinstance(doc.get("instances"), list):
            raise InferenceError("The request must be a JSON object with an 'instances' array", 400)
        predictions = forecast(model, doc["instances"], doc.get("configuration"))
    else:
        try:
            lines = [line for line in body.decode("utf-8").splitlines() if line.strip()]
        except UnicodeDecodeError:
            raise InferenceError("The request body is not UTF-8 JSON Lines", 400) from None
        instances = [_load(line.encode()) for line in lines]
        env_config = os.environ.get(CONFIG_ENV)
        configuration = None
        if env_config:
            try:
                configuration = json.loads(env_config)
            except json.JSONDecodeError:
                raise InferenceError(f"{CONFIG_ENV} is not valid JSON", 400) from None
        predictions = forecast(model, instances, configuration)
    if answer == ct.JSON:
        return json.dumps({"predictions": predictions}).encode(), ct.JSON
    return "".join(json.dumps(p) + "\n" for p in predictions).encode(), ct.JSONLINES
