"""Factorization Machines serving: ``score`` (and ``predicted_label`` for binary_classifier), §2.6."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sagestack.algorithms.base import InferenceError
from sagestack.algorithms.factorization_machines import model as fm
from sagestack.algorithms.factorization_machines.training import MODEL_NAME

DEFAULT_ACCEPT = "application/json"
REQUEST_TYPES = ("application/json", "application/jsonlines", "application/x-recordio-protobuf")


@dataclass
class FMModel:
    params: fm.FMParams
    meta: dict

    @property
    def predictor_type(self) -> str:
        return self.meta["predictor_type"]


def load_model(model_dir: Path) -> FMModel:
    model_dir = Path(model_dir)
    meta = json.loads((model_dir / f"{MODEL_NAME}.json").read_text())
    with np.load(model_dir / f"{MODEL_NAME}.npz") as arrays:
        params = fm.FMParams(w0=arrays["w0"], w=arrays["w"], V=arrays["V"])
    return FMModel(params=params, meta=meta)


def _widen(X, dim: int):
    """Sparse rows whose highest keys are absent (JSON without ``shape``) get the model's width."""
    import scipy.sparse as sp

    if sp.issparse(X) and X.shape[1] < dim:
        X = X.tocsr()
        return sp.csr_matrix((X.data, X.indices, X.indptr), shape=(X.shape[0], dim))
    return X


def predict(model: FMModel, body: bytes, content_type: str, accept: str) -> tuple[bytes, str]:
    from sagestack.formats.content_types import normalize
    from sagestack.formats.inference import decode_request, encode_response

    if normalize(content_type) not in REQUEST_TYPES:
        raise InferenceError(
            f"Content type {content_type!r} is not supported by Factorization Machines; "
            f"use one of {', '.join(REQUEST_TYPES)}",
            status=415,
        )
    feature_dim = int(model.meta["feature_dim"])
    X = _widen(decode_request(body, content_type), feature_dim)
    if X.shape[0] and X.shape[1] != feature_dim:
        raise InferenceError(
            f"Invalid request: records have {X.shape[1]} features; the model expects {feature_dim}"
        )
    scores = fm.predict_scores(model.params, X, model.predictor_type)
    records: dict[str, np.ndarray] = {"score": scores}
    if model.predictor_type == "binary_classifier":
        records["predicted_label"] = (scores >= 0.5).astype(np.float32)
    return encode_response(records, (accept or "").split(",")[0], default=DEFAULT_ACCEPT)
