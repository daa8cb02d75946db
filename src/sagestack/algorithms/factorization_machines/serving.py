"""Factorization Machines serving: ``score`` (and ``predicted_label`` for binary_classifier), §2.6."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sagestack.algorithms.common import MODEL_NAME, load_metadata
from sagestack.algorithms.factorization_machines import model as fm
from sagestack.algorithms.factorization_machines.spec import SPEC


@dataclass
class FMModel:
    params: fm.FMParams
    meta: dict

    @property
    def predictor_type(self) -> str:
        return self.meta["predictor_type"]


def load_model(model_dir: Path) -> FMModel:
    model_dir = Path(model_dir)
    meta = load_metadata(model_dir)
    with np.load(model_dir / f"{MODEL_NAME}.npz") as arrays:
        params = fm.FMParams(w0=arrays["w0"], w=arrays["w"], V=arrays["V"])
    return FMModel(params=params, meta=meta)


def predict(model: FMModel, body: bytes, content_type: str, accept: str) -> tuple[bytes, str]:
    """One invocation (§2.6 Inference): no CSV in or out."""
    from sagestack.formats.inference import decode_rows, encode_response

    X = decode_rows(body, content_type, int(model.meta["feature_dim"]),
                    request_types=SPEC.request_content_types)
    scores = fm.predict_scores(model.params, X, model.predictor_type)
    records: dict[str, np.ndarray] = {"score": scores}
    if model.predictor_type == "binary_classifier":
        records["predicted_label"] = (scores >= 0.5).astype(np.float32)
    return encode_response(records, accept, accept_types=SPEC.response_accept_types)
