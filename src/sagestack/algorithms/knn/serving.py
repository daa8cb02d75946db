"""k-NN serving: load the index, answer invocations in SageMaker's formats (§2.5 Inference)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sagestack.algorithms.common import MODEL_NAME, load_metadata
from sagestack.algorithms.knn import index as knn_index
from sagestack.algorithms.knn.projection import Projection, projection_from_arrays
from sagestack.algorithms.knn.spec import SPEC
from sagestack.algorithms.knn.training import reduce_vectors


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
    meta = load_metadata(model_dir)
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
    queries = knn_index.prepare_vectors(reduce_vectors(projection, X), meta["index_metric"])
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


def predict(model: KnnModel, body: bytes, content_type: str, accept: str) -> tuple[bytes, str]:
    """One invocation (§2.5 Inference); ``verbose=true`` on the Accept type adds the neighbours."""
    from sagestack.formats.inference import decode_rows, encode_response

    X = decode_rows(body, content_type, model.input_dim, request_types=SPEC.request_content_types)
    distances, nbr, predicted = neighbours_and_predictions(
        model.index, model.labels, model.meta, model.projection, X
    )
    records: dict[str, np.ndarray] = {"predicted_label": predicted}
    if _verbose(accept):
        records["distances"] = distances
        records["labels"] = nbr
    return encode_response(records, accept, accept_types=SPEC.response_accept_types)
