"""Serving for the XGBoost algorithm: SageMaker's XGBoost container request/response formats.

Requests: ``text/csv`` (no label; delimiter sniffed; empty field → NaN), ``text/libsvm``
(``text/x-libsvm``; the default when no Content-Type is given), ``application/x-recordio-protobuf``.
Responses (Accept): ``text/csv`` (one prediction per line), ``application/json``
(``{"predictions": [{"score": …}]}``), ``application/jsonlines``, ``application/x-recordio-protobuf``;
``SAGEMAKER_INFERENCE_OUTPUT`` selects classification outputs (predicted_label, probabilities, …).

The hot path parses the body straight into a numpy array (or CSR matrix) and calls
``Booster.inplace_predict``.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sagestack.algorithms.base import AlgorithmClientError, InferenceError

from . import data, legacy_format
from .versions import ImageVersion, current_version

logger = logging.getLogger(__name__)

CSV_TYPE = "text/csv"
JSON_TYPE = "application/json"
JSONLINES_TYPE = "application/jsonlines"
RECORDIO_TYPE = "application/x-recordio-protobuf"
SUPPORTED_ACCEPTS = (JSON_TYPE, JSONLINES_TYPE, RECORDIO_TYPE, CSV_TYPE)

PREDICTED_LABEL = "predicted_label"
LABELS = "labels"
PROBABILITY = "probability"
PROBABILITIES = "probabilities"
RAW_SCORE = "raw_score"
RAW_SCORES = "raw_scores"
PREDICTED_SCORE = "predicted_score"

_CLASSIFICATION_ALL = (PREDICTED_LABEL, LABELS, PROBABILITY, PROBABILITIES, RAW_SCORE, RAW_SCORES)
_CLASSIFICATION_RAW = (PREDICTED_LABEL, LABELS, RAW_SCORE, RAW_SCORES)
VALID_SELECTABLE_KEYS: dict[str, tuple[str, ...]] = {
    "reg:squarederror": (PREDICTED_SCORE,),
    "reg:logistic": (PREDICTED_SCORE,),
    "reg:gamma": (PREDICTED_SCORE,),
    "reg:absoluteerror": (PREDICTED_SCORE,),
    "reg:tweedie": (PREDICTED_SCORE,),
    "binary:logistic": _CLASSIFICATION_ALL,
    "binary:logitraw": _CLASSIFICATION_RAW,
    "binary:hinge": _CLASSIFICATION_RAW,
    "multi:softmax": _CLASSIFICATION_RAW,
    "multi:softprob": _CLASSIFICATION_ALL,
}
_VOTING_OBJECTIVES = ("multi:softmax", "binary:hinge")


@dataclass
class XGBoostModel:
    """What ``load_model`` returns: the booster(s) and the serving settings read once at load."""

    boosters: list[Any]
    formats: list[str]
    objective: str
    num_class: int
    num_features: int
    version: ImageVersion
    selected_keys: list[str] | None = None
    batch: bool = False
    default_accept: str = CSV_TYPE
    settings: dict[str, str] = field(default_factory=dict)
    #: Per booster, the end of the iteration range the container predicts with (its
    #: ``best_ntree_limit``), or ``None`` for all trees.
    iteration_ends: list[int | None] = field(default_factory=list)
    #: Per booster, ``gbtree`` / ``dart`` / ``gblinear`` (gblinear has no in-place prediction).
    booster_kinds: list[str] = field(default_factory=list)

    @property
    def booster(self) -> Any:
        return self.boosters[0]


def load_model(model_dir: Path | str) -> XGBoostModel:
    """Load every non-dot file of ``model_dir`` (pickle first, else XGBoost's own formats).

    Several files make an ensemble unless ``SAGEMAKER_INFERENCE_ENSEMBLE`` is ``"false"``.
    """
    model_dir = Path(model_dir)
    paths = sorted(p for p in model_dir.iterdir() if p.is_file() and not p.name.startswith("."))
    if not paths:
        raise FileNotFoundError(f"No model file found in {model_dir}")
    if os.environ.get("SAGEMAKER_INFERENCE_ENSEMBLE", "true") != "true":
        paths = paths[:1]
    version = current_version()
    boosters, formats, ends, kinds = [], [], [], []
    for path in paths:
        booster, fmt, limit = _load_booster(path, version)
        boosters.append(booster)
        formats.append(fmt)
        gradient_booster = json.loads(booster.save_config())["learner"]["gradient_booster"]
        kinds.append(str(gradient_booster.get("name", "gbtree")))
        ends.append(_iteration_end(booster, gradient_booster, limit))
    config = json.loads(boosters[0].save_config())
    learner = config["learner"]
    objective = learner["objective"]["name"]
    num_class = int(float(learner["learner_model_param"].get("num_class", "0") or 0))
    selected = os.environ.get("SAGEMAKER_INFERENCE_OUTPUT")
    return XGBoostModel(
        boosters=boosters,
        formats=formats,
        objective=objective,
        num_class=num_class,
        num_features=boosters[0].num_features(),
        version=version,
        iteration_ends=ends,
        booster_kinds=kinds,
        selected_keys=selected.replace(" ", "").lower().split(",") if selected else None,
        batch=bool(os.environ.get("SAGEMAKER_BATCH")),
        default_accept=os.environ.get("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", CSV_TYPE),
    )


def _load_booster(path: Path, version: ImageVersion) -> tuple[Any, str, int | None]:
    """``(booster, format, best_ntree_limit)``: a pickle first, else XGBoost's own formats, as the
    container does. Models from older XGBoost releases (the legacy binary format, pickles of 0.x and
    1.0-1.2 boosters) are converted (:mod:`.legacy_format`).

    ``best_ntree_limit`` is what the container predicts with: a pickled booster's attribute, or for
    images whose XGBoost (1.4 … 1.7) restores it on ``load_model``, the model attribute."""
    raw = path.read_bytes()
    pickle_error = None
    if legacy_format.looks_like_pickle(raw):
        try:
            state = legacy_format.read_pickled_booster(raw)
        except legacy_format.LegacyModelError as exc:
            pickle_error = exc
        else:
            booster = _loaded(path, lambda: legacy_format.booster_from_pickle(raw, state))
            booster.set_param("nthread", 1)
            return booster, "pkl_format", state.best_ntree_limit
    booster = _loaded(path, lambda: legacy_format.load_booster(raw), pickle_error)
    booster.set_param("nthread", 1)
    limit = booster.attr("best_ntree_limit") if (1, 4) <= version.key < (2, 0) else None
    return booster, "xgb_format", int(limit) if limit and limit.isdigit() else None


def _loaded(path: Path, load: Any, pickle_error: Exception | None = None) -> Any:
    try:
        return load()
    except legacy_format.LegacyModelError as exc:
        detail = f"{exc}" if pickle_error is None else f"{pickle_error}; {exc}"
        raise legacy_format.LegacyModelError(f"Model {path.name} cannot be loaded: {detail}") from None


def _iteration_end(booster: Any, booster_config: dict[str, Any], limit: int | None) -> int | None:
    """``best_ntree_limit`` (trees per output group) as the end of ``iteration_range``, as XGBoost
    1.4+ turned ``ntree_limit`` into one; ``None`` when it covers every round (or for gblinear)."""
    if not limit or limit <= 0:
        return None
    if booster_config.get("name") == "gblinear":
        return None
    parallel = _find_key(booster_config, "num_parallel_tree")
    end = limit // max(int(parallel or 1), 1)
    return end if 0 < end < booster.num_boosted_rounds() else None


def _find_key(tree: Any, key: str) -> Any:
    if isinstance(tree, dict):
        if key in tree:
            return tree[key]
        for value in tree.values():
            found = _find_key(value, key)
            if found is not None:
                return found
    return None


# ------------------------------------------------------------------------------------------------
# Requests


def request_kind(content_type: str | None, version: ImageVersion) -> str:
    """``csv`` / ``libsvm`` / ``recordio-protobuf`` for a request Content-Type (HTTP 415 otherwise)."""
    default = data.CSV if version.legacy else data.LIBSVM
    try:
        kind = data.content_kind(content_type, default=default)
    except AlgorithmClientError as exc:  # unknown type or label_size != 1
        raise InferenceError(str(exc), status=415) from None
    if kind == data.PARQUET:
        raise InferenceError(f"Content-type {content_type} is not supported.", status=415)
    return kind


#: Above this size a CSV payload goes through pandas' C reader: splitting into Python bytes objects
#: costs ~6× the payload in memory (batch transform sends up to MaxPayloadInMB per request).
LARGE_CSV_BYTES = 256 * 1024


def parse_csv(body: bytes) -> np.ndarray:
    """CSV rows (no label) → float32 matrix; empty fields are NaN; ragged rows are an error."""
    if len(body) > LARGE_CSV_BYTES:
        return _parse_large_csv(body)
    text = body.strip()
    if b"\r" in text:
        text = text.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    newline = text.find(b"\n")
    first = text if newline < 0 else text[:newline]
    delimiter = _request_delimiter(first)
    if newline < 0:
        fields = first.split(delimiter)
        rows = 1
    else:
        lines = text.split(b"\n")
        rows = len(lines)
        counts = np.fromiter(map(bytes.count, lines, [delimiter] * rows), dtype=np.int64, count=rows)
        if counts.min() != counts.max():
            raise ValueError("rows of the CSV payload have different numbers of columns")
        fields = text.replace(b"\n", delimiter).split(delimiter)
    try:
        values = np.array(fields, dtype=np.float32)
    except ValueError:
        # Empty fields are missing values (the container turns them into "nan").
        values = np.array([f if f.strip() else b"nan" for f in fields], dtype=np.float32)
    return values.reshape(rows, -1)


def _parse_large_csv(body: bytes) -> np.ndarray:
    import io

    import pandas as pd

    newline = body.find(b"\n")
    delimiter = _request_delimiter(body if newline < 0 else body[:newline]).decode()
    try:
        frame = pd.read_csv(
            io.BytesIO(body), header=None, sep=delimiter, dtype=np.float32, engine="c", skip_blank_lines=True
        )
    except (ValueError, pd.errors.ParserError) as exc:
        raise ValueError(f"could not parse the CSV payload: {exc}") from None
    return np.ascontiguousarray(frame.to_numpy(dtype=np.float32))


def _request_delimiter(first_line: bytes) -> bytes:
    if b"," in first_line:
        return b","
    sniffed = data.sniff_delimiter(first_line.decode("utf-8", errors="replace"))
    if sniffed is None or sniffed.isalnum():
        return b","
    return sniffed.encode()


def parse_libsvm(body: bytes, num_features: int) -> Any:
    """LibSVM lines (label optional, ``idx:val`` zero-based) → CSR matrix.

    XGBoost's own reader skips what it cannot parse (an unparsable payload gives zero rows); here a
    token that is neither ``<index>:<value>`` (nor ``qid:<n>``) nor a leading numeric label is a 400."""
    import scipy.sparse as sp

    text = body.strip().replace(b"\r", b"")
    tokens = np.array(text.replace(b"\n", b" \x01 ").split())
    if tokens.size == 0:
        return sp.csr_matrix((0, num_features), dtype=np.float32)
    newline = tokens == b"\x01"
    row_of = np.cumsum(newline)
    is_feature = (np.char.find(tokens, b":") >= 0) & ~np.char.startswith(tokens, b"qid:")
    others = ~is_feature & ~newline & ~np.char.startswith(tokens, b"qid:")
    first_of_line = np.concatenate(([True], newline[:-1]))
    if np.any(others & ~first_of_line):
        raise _libsvm_error(tokens[others & ~first_of_line][0])
    try:
        np.array(tokens[others], dtype=np.float64)  # the labels
    except ValueError:
        raise _libsvm_error(next(t for t in tokens[others] if not data.is_float(t))) from None
    features = tokens[is_feature]
    rows = row_of[is_feature]
    n_rows = int(newline.sum()) + 1
    if features.size == 0:
        return sp.csr_matrix((n_rows, num_features), dtype=np.float32)
    try:
        pairs = np.array(b" ".join(features).replace(b":", b" ").split(), dtype=np.float64)
    except ValueError:
        raise _libsvm_error(next(t for t in features if not _is_pair(t))) from None
    if pairs.size != 2 * features.size:
        raise _libsvm_error(next(t for t in features if not _is_pair(t)))
    pairs = pairs.reshape(-1, 2)
    cols = pairs[:, 0]
    if cols.min() < 0 or not np.all(cols == np.floor(cols)):
        raise InferenceError("Loading libsvm data failed: feature indices must be integers >= 0", status=400)
    cols = cols.astype(np.int64)
    width = max(int(cols.max()) + 1, num_features)
    return sp.csr_matrix((pairs[:, 1].astype(np.float32), (rows, cols)), shape=(n_rows, width))


def _is_pair(token: bytes) -> bool:
    index, _, value = token.partition(b":")
    return data.is_float(index) and data.is_float(value) and b":" not in value


def _libsvm_error(token: bytes) -> InferenceError:
    shown = token.decode("utf-8", errors="replace")[:50]
    return InferenceError(
        f"Loading libsvm data failed: {shown!r} is not <index>:<value> (or a leading label)", status=400
    )


def parse_recordio(body: bytes) -> Any:
    """RecordIO-protobuf records → feature matrix (labels ignored)."""
    from sagestack.formats import recordio_protobuf

    batch = recordio_protobuf.decode(body)
    return batch.features


def _parse(body: bytes, kind: str, model: XGBoostModel) -> Any:
    try:
        if kind == data.CSV:
            return parse_csv(body)
        if kind == data.LIBSVM:
            return parse_libsvm(body, model.num_features)
        return parse_recordio(body)
    except InferenceError:
        raise
    except Exception as exc:  # noqa: BLE001 - any parse failure is the client's payload
        name = {data.CSV: "csv", data.LIBSVM: "libsvm"}.get(kind, "recordio-protobuf")
        raise InferenceError(
            f"Loading {name} data failed with Exception, please ensure data is in {name} format:\n"
            f" {type(exc)}\n {exc}",
            status=415,
        ) from None


# ------------------------------------------------------------------------------------------------
# Prediction


def resolve_accept(accept: str | None, model: XGBoostModel) -> str:
    media = (accept or "").split(";")[0].strip().lower()
    if not media or media == "*/*":
        return model.default_accept
    if media not in SUPPORTED_ACCEPTS:
        raise InferenceError(
            f"Accept type {accept} is not supported. Please use supported accept types: "
            f"{list(SUPPORTED_ACCEPTS)}.",
            status=406,
        )
    return media


def predict(
    model: XGBoostModel, body: bytes, content_type: str | None, accept: str | None
) -> tuple[bytes, str]:
    """One invocation: ``(response body, response content type)``."""
    accept_type = resolve_accept(accept, model)
    if not body:
        return b"", accept_type
    kind = request_kind(content_type, model.version)
    features = _parse(body, kind, model)
    _check_feature_count(model, features, kind)
    try:
        predictions = _predict_array(model, features)
    except Exception as exc:  # noqa: BLE001 - XGBoost rejects the payload (shape, values)
        raise InferenceError(f"Unable to evaluate payload provided: {exc}", status=400) from None
    if model.selected_keys is not None:
        return encode_selected(model, predictions, accept_type), accept_type
    return encode_predictions(predictions, accept_type, model.batch), accept_type


def _check_feature_count(model: XGBoostModel, features: Any, kind: str) -> None:
    """Pickled (pre-1.3) models check the request width as the container does."""
    if model.formats[0] != "pkl_format":
        return
    expected, got = model.num_features, features.shape[1]
    if kind == data.LIBSVM:
        if got > expected + 1:
            raise InferenceError(
                f"Unable to evaluate payload provided: Feature size of libsvm inference data {got} is "
                f"larger than feature size of trained model {expected}.",
                status=400,
            )
    elif got not in (expected, expected + 1):
        raise InferenceError(
            f"Unable to evaluate payload provided: Feature size of {kind} inference data {got} is not "
            f"consistent with feature size of trained model {expected}.",
            status=400,
        )


def _predict_array(model: XGBoostModel, features: Any) -> np.ndarray:
    features = _fit_width(features, model.num_features)
    ends = model.iteration_ends or [None] * len(model.boosters)
    kinds = model.booster_kinds or ["gbtree"] * len(model.boosters)
    outputs = [
        np.asarray(_predict_one(b, features, end, kind)) for b, end, kind in zip(model.boosters, ends, kinds)
    ]
    if len(outputs) == 1:
        return outputs[0]
    stacked = np.stack(outputs)
    if model.objective in _VOTING_OBJECTIVES:
        from scipy import stats

        return stats.mode(stacked, axis=0, keepdims=False).mode
    return stacked.mean(axis=0)


def _predict_one(booster: Any, features: Any, end: int | None, kind: str = "gbtree") -> Any:
    if kind == "gblinear":  # XGBoost has no in-place prediction for linear boosters
        import xgboost as xgb

        return booster.predict(xgb.DMatrix(features, missing=np.nan), validate_features=False)
    if end is None:
        return booster.inplace_predict(features, validate_features=False)
    return booster.inplace_predict(features, iteration_range=(0, end), validate_features=False)


def _fit_width(features: Any, width: int) -> Any:
    """Sparse inputs narrower than the model are widened (absent features are missing)."""
    if hasattr(features, "tocsr") and features.shape[1] < width:
        features = features.tocsr()
        features.resize((features.shape[0], width))
    return features


# ------------------------------------------------------------------------------------------------
# Responses


def encode_predictions(predictions: np.ndarray, accept: str, batch: bool = False) -> bytes:
    """Plain predictions (no selectable output) in the Accept format."""
    values = predictions.tolist()
    if batch:
        return ("\n".join(map(str, values)) + "\n").encode()
    if accept == CSV_TYPE:
        if predictions.ndim == 1:
            return ("\n".join(map(repr, values)) + "\n").encode()
        return ("\n".join(",".join(map(repr, row)) for row in values) + "\n").encode()
    if accept == JSON_TYPE:
        return json.dumps({"predictions": [{"score": v} for v in values]}).encode()
    if accept == JSONLINES_TYPE:
        return "".join(json.dumps({"score": v}) + "\n" for v in values).encode()
    from sagestack.formats import recordio_protobuf

    return recordio_protobuf.encode_label_columns({"score": predictions})


def selected_predictions(
    model: XGBoostModel, predictions: np.ndarray, keys: list[str]
) -> list[dict[str, Any]]:
    """Per-row dicts of the selected outputs; keys invalid for the objective are NaN."""
    objective = model.objective
    if objective not in VALID_SELECTABLE_KEYS:
        raise InferenceError(
            f"Objective `{objective}` unsupported for selectable inference predictions.", 500
        )
    valid = VALID_SELECTABLE_KEYS[objective]
    n = predictions.shape[0]
    columns: dict[str, list[Any]] = {}
    multi = predictions.ndim == 2
    for key in keys:
        if key not in valid:
            columns[key] = [float("nan")] * n
        elif key == PREDICTED_SCORE:
            columns[key] = predictions.tolist()
        elif key == LABELS:
            labels = [0, 1] if objective.startswith("binary:") else list(range(model.num_class))
            columns[key] = [labels] * n
        elif key == PREDICTED_LABEL:
            if objective in _VOTING_OBJECTIVES:
                columns[key] = predictions.tolist()
            elif objective == "binary:logistic":
                columns[key] = (predictions > 0.5).astype(int).tolist()
            elif objective == "binary:logitraw":
                columns[key] = (predictions > 0).astype(int).tolist()
            else:
                columns[key] = np.argmax(predictions, axis=1).tolist()
        elif key in (PROBABILITY, RAW_SCORE):
            columns[key] = (predictions.max(axis=1) if multi else predictions).tolist()
        else:  # PROBABILITIES, RAW_SCORES
            columns[key] = (
                predictions if multi else np.stack([1.0 - predictions, predictions], axis=1)
            ).tolist()
    return [{key: columns[key][i] for key in keys} for i in range(n)]


def encode_selected(model: XGBoostModel, predictions: np.ndarray, accept: str) -> bytes:
    keys = model.selected_keys or []
    rows = selected_predictions(model, predictions, keys)
    if accept == JSON_TYPE:
        return json.dumps({"predictions": rows}).encode()
    if accept == JSONLINES_TYPE:
        return "".join(json.dumps(row) + "\n" for row in rows).encode()
    if accept == RECORDIO_TYPE:
        from sagestack.formats import recordio_protobuf

        return recordio_protobuf.encode_records(rows)
    lines = "\n".join(
        ",".join(f'"{row[k]}"' if isinstance(row[k], list) else str(row[k]) for k in keys) for row in rows
    )
    return (lines + "\n" if model.batch else lines).encode()
