"""K-Means inference: rows in, ``closest_cluster`` and ``distance_to_cluster`` per row out."""

from __future__ import annotations

import numpy as np

from sagestack.algorithms.base import InferenceError
from sagestack.algorithms.kmeans.clustering import nearest_centers
from sagestack.algorithms.kmeans.model import KMeansModel


def request_rows(body: bytes, content_type: str, feature_dim: int) -> np.ndarray:
    """Decode a request into dense float32 rows of width ``feature_dim`` (InferenceError otherwise)."""
    from sagestack.formats.inference import decode_request

    X = decode_request(body, content_type)
    if hasattr(X, "toarray"):
        if X.shape[1] > feature_dim:
            raise InferenceError(
                f"The request has feature indices up to {X.shape[1] - 1} but the model has "
                f"feature_dim={feature_dim}",
                status=400,
            )
        X = X.toarray()
        if X.shape[1] < feature_dim:
            X = np.pad(X, ((0, 0), (0, feature_dim - X.shape[1])))
    X = np.ascontiguousarray(X, dtype=np.float32)
    if X.ndim != 2 or X.shape[1] != feature_dim:
        width = X.shape[1] if X.ndim == 2 else X.size
        raise InferenceError(
            f"The request has {width} features per record but the model expects {feature_dim}",
            status=400,
        )
    if not np.isfinite(X).all():
        raise InferenceError("The request contains NaN or infinite feature values", status=400)
    return X


def predict(model: KMeansModel, body: bytes, content_type: str, accept: str) -> tuple[bytes, str]:
    """One invocation: SageMaker's k-means request and response formats (algorithms.md §2.3)."""
    from sagestack.formats.inference import encode_response

    X = request_rows(body, content_type, model.feature_dim)
    labels, squared = nearest_centers(X, model.centroids.astype(np.float64))
    columns = {
        "closest_cluster": labels.astype(np.float32),
        "distance_to_cluster": np.sqrt(squared).astype(np.float32),
    }
    return encode_response(columns, accept)
