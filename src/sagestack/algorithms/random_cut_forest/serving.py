"""RCF inference: rows in, one anomaly ``score`` per row out (JSON top-level key ``scores``)."""

from __future__ import annotations

import numpy as np

from sagestack.algorithms.random_cut_forest.forest import score
from sagestack.algorithms.random_cut_forest.model import RCFModel
from sagestack.algorithms.random_cut_forest.spec import SPEC


def predict(model: RCFModel, body: bytes, content_type: str, accept: str) -> tuple[bytes, str]:
    """One invocation; JSON answers ``{"scores": [{"score": ...}, ...]}``."""
    from sagestack.formats.inference import decode_rows, encode_response

    X = decode_rows(
        body, content_type, model.feature_dim, dense=True, request_types=SPEC.request_content_types
    )
    scores = score(model.forest, X).astype(np.float32)
    return encode_response({"score": scores}, accept, key="scores", accept_types=SPEC.response_accept_types)
