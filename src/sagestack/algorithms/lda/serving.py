"""LDA inference: word-count rows in, one ``topic_mixture`` (num_topics values) per document out."""

from __future__ import annotations

import numpy as np

from sagestack.algorithms.lda.model import LDAModel
from sagestack.algorithms.lda.spec import SPEC
from sagestack.algorithms.lda.spectral import topic_mixtures


def predict(model: LDAModel, body: bytes, content_type: str, accept: str) -> tuple[bytes, str]:
    """One invocation; JSON answers ``{"predictions": [{"topic_mixture": [...]}, ...]}``."""
    from sagestack.formats.errors import InferenceError
    from sagestack.formats.inference import decode_rows, encode_response

    X = decode_rows(
        body, content_type, model.feature_dim, dense=True, request_types=SPEC.request_content_types
    )
    if (X < 0).any():
        raise InferenceError("LDA documents are word counts: values must not be negative", status=400)
    mixtures = topic_mixtures(X, model.alpha, model.beta).astype(np.float32)
    return encode_response({"topic_mixture": mixtures}, accept, accept_types=SPEC.response_accept_types)
