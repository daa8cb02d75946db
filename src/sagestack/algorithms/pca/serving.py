"""PCA inference: rows in, one ``projection`` of ``num_components`` values per row out."""

from __future__ import annotations

import numpy as np

from sagestack.algorithms.pca.decomposition import project
from sagestack.algorithms.pca.model import PCAModel
from sagestack.algorithms.pca.spec import SPEC


def predict(model: PCAModel, body: bytes, content_type: str, accept: str) -> tuple[bytes, str]:
    """One invocation; JSON answers ``{"projections": [{"projection": [...]}, ...]}``."""
    from sagestack.formats.inference import decode_rows, encode_response

    X = decode_rows(
        body, content_type, model.feature_dim, dense=True, request_types=SPEC.request_content_types
    )
    projections = project(X, model.mean, model.v).astype(np.float32)
    return encode_response(
        {"projection": projections}, accept, key="projections", accept_types=SPEC.response_accept_types
    )
