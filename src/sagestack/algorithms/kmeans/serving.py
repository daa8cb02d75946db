"""K-Means inference: rows in, ``closest_cluster`` and ``distance_to_cluster`` per row out."""

from __future__ import annotations

import numpy as np

from sagestack.algorithms.kmeans.clustering import nearest_centers
from sagestack.algorithms.kmeans.model import KMeansModel
from sagestack.algorithms.kmeans.spec import SPEC


def predict(model: KMeansModel, body: bytes, content_type: str, accept: str) -> tuple[bytes, str]:
    """One invocation: SageMaker's k-means request and response formats (algorithms.md §2.3)."""
    from sagestack.formats.inference import decode_rows, encode_response

    X = decode_rows(
        body, content_type, model.feature_dim, dense=True, request_types=SPEC.request_content_types
    )
    labels, squared = nearest_centers(X, model.centroids.astype(np.float64))
    columns = {
        "closest_cluster": labels.astype(np.float32),
        "distance_to_cluster": np.sqrt(squared).astype(np.float32),
    }
    return encode_response(columns, accept, accept_types=SPEC.response_accept_types)
