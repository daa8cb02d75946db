"""PCA inference: rows in, one ``projection`` of ``num_components`` values per row out."""

from __future__ import annotations

import numpy as np

from sagestack.algorithms.kmeans.serving import request_rows
from sagestack.algorithms.pca.decomposition import project
from sagestack.algorithms.pca.model import PCAModel


def predict(model: PCAModel, body: bytes, content_type: str, accept: str) -> tuple[bytes, str]:
    """One invocation; JSON answers ``{"projections": [{"projection": [...]}, ...]}``."""
    from sagestack.formats.inference import encode_response

    X = request_rows(body, content_type, model.feature_dim)
    projections = project(X, model.mean, model.v).astype(np.float32)
    return encode_response({"projection": projections}, accept, key="projections")
