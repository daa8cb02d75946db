"""k-NN serving: load the index, answer invocations in SageMaker's formats (§2.5 Inference)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sagestack.algorithms.aws_artifacts import AWSModelError
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
    if "index_metric" not in meta:  # trained on AWS: model_algo-1.json holds the documented keys only
        meta = aws_metadata(meta, index, has_projection=(model_dir / f"{MODEL_NAME}.projection.npz").exists())
    if reduction:
        with np.load(model_dir / f"{MODEL_NAME}.projection.npz") as arrays:
            projection = projection_from_arrays(
                reduction["type"], reduction["input_dim"], reduction["target_dim"], reduction["seed"], arrays
            )
    return KnnModel(index=index, labels=labels, meta=meta, projection=projection)


def aws_metadata(meta: dict, index, has_projection: bool = False) -> dict:
    """Complete the metadata of a model trained on AWS (``k``, ``predictor_type``,
    ``dimension_reduction``, ``normalize``, ``version``) from the faiss index itself: the metric
    (``normalize`` means cosine), the dimension and, for IVF indexes, the nprobe it was saved with."""
    import faiss

    reduction = meta.get("dimension_reduction")
    if reduction and not has_projection:
        raise AWSModelError(
            f"The k-NN model cannot be loaded: it was trained with dimension_reduction "
            f"{reduction.get('type')!r} (seed {reduction.get('seed')}), and the random projection SageMaker "
            "draws from that seed is not part of the model artifact; train it again without "
            "dimension_reduction_type, or in sagestack"
        )
    if meta.get("predictor_type") not in ("classifier", "regressor") or "k" not in meta:
        raise AWSModelError("The k-NN model cannot be loaded: model_algo-1.json lacks k or predictor_type")
    if meta.get("normalize"):
        metric = "COSINE"
    else:
        metric = "L2" if index.metric_type == faiss.METRIC_L2 else "INNER_PRODUCT"
    try:
        nprobe = int(faiss.extract_index_ivf(index).nprobe)
    except RuntimeError:  # not an IVF index
        nprobe = 1
    feature_dim = int(reduction["input_dim"]) if reduction else int(index.d)
    return {**meta, "index_metric": metric, "feature_dim": feature_dim, "faiss_nprobe": nprobe}


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
