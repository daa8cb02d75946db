"""k-NN serving: load the index, answer invocations in SageMaker's formats (§2.5 Inference)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sagestack.algorithms.base import InferenceError
from sagestack.algorithms.knn import index as knn_index
from sagestack.algorithms.knn.projection import Projection, projection_from_arrays
from sagestack.algorithms.knn.training import MODEL_NAME, _reduce

DEFAULT_ACCEPT = "application/json"


@dataclass
class KnnModel:
    index: object  # faiss.Index
    labels: np.ndarray  # float32, one per indexed point
    meta: dict
    projection: Projection | None

    @property
    def input_dim(self) -> int:
        return int(self.meta["feature_dim"])


def load_model(model_dir: Path) -> KnnModel:
    import faiss

    model_dir = Path(model_dir)
    meta = json.loads((model_dir / f"{MODEL_NAME}.json").read_text())
    index = faiss.read_index(str(model_dir / MODEL_NAME))
    labels = np.fromfile(model_dir / f"{MODEL_NAME}.labels", dtype=np.float32)
    projection = None
    reduction = meta.get("dimension_reduction")
    if reduction:
        with np.load(model_dir / f"{MODEL_NAME}.projection.npz") as arrays:
            projection = projection_from_arrays(
                reduction["type"], reduction["input_dim"], reduction["target_dim"], reduction["seed"], arrays
            )
    return KnnModel(index=index, labels=labels, meta=meta, projection=projection)


def neighbours_and_predictions(index, labels: np.ndarray, meta: dict, projection: Projection | None, X):
    """``(distances, neighbour_labels, predicted)`` for a batch, with one faiss search."""
    queries = knn_index.prepare_vectors(_reduce(projection, X), meta["index_metric"])
    distances, ids = knn_index.search(
        index, queries, int(meta["k"]), meta["index_metric"], int(meta.get("faiss_nprobe", 1))
    )
    nbr = knn_index.neighbour_labels(labels, ids)
    if meta["predictor_type"] == "classifier":
        predicted = knn_index.vote(nbr)
    else:
        predicted = knn_index.average(nbr)
    return distances, nbr, predicted


def _verbose(accept: str | None) -> bool:
    """Whether the Accept type asks for the neighbours (``application/json; verbose=true``)."""
    from sagestack.formats.content_types import parameters

    first = (accept or "").split(",")[0]
    return parameters(first).get("verbose", "").strip().lower() in ("true", "1")


def _widen(X, dim: int):
    """Sparse rows whose highest keys are absent (JSON without ``shape``) get the model's width."""
    import scipy.sparse as sp

    if sp.issparse(X) and X.shape[1] < dim:
        X = X.tocsr()
        return sp.csr_matrix((X.data, X.indices, X.indptr), shape=(X.shape[0], dim))
    return X


def predict(model: KnnModel, body: bytes, content_type: str, accept: str) -> tuple[bytes, str]:
    from sagestack.formats.inference import decode_request, encode_response

    accept = (accept or "").split(",")[0]
    X = _widen(decode_request(body, content_type), model.input_dim)
    if X.shape[0] and X.shape[1] != model.input_dim:
        raise InferenceError(
            f"Invalid request: records have {X.shape[1]} features; the model expects {model.input_dim}"
        )
    distances, nbr, predicted = neighbours_and_predictions(
        model.index, model.labels, model.meta, model.projection, X
    )
    records: dict[str, np.ndarray] = {"predicted_label": predicted}
    if _verbose(accept):
        records["distances"] = distances
        records["labels"] = nbr
    return encode_response(records, accept, default=DEFAULT_ACCEPT)
