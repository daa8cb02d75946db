"""The K-Means model artifact: ``centroids.npy`` plus ``model.json`` in the model directory.

* ``centroids.npy``: float32 array ``(k, feature_dim)``, cluster ``i`` is row ``i``;
* ``model.json``: ``{"algorithm": "kmeans", "format_version": 1, "k": ..., "feature_dim": ...,
  "hyperparameters": {...}}``.

Models trained on AWS (``model_algo-1``: an MXNet NDArray file holding the centroids) load too
(:mod:`sagestack.algorithms.aws_artifacts`).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from sagestack.algorithms.base import AlgorithmError
from sagestack.algorithms.kmeans.spec import KMeansParams

CENTROIDS_FILE = "centroids.npy"
METADATA_FILE = "model.json"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class KMeansModel:
    centroids: np.ndarray  # (k, feature_dim) float32
    feature_dim: int

    @property
    def k(self) -> int:
        return int(self.centroids.shape[0])


def save_model(model_dir: Path, centroids: np.ndarray, params: KMeansParams) -> None:
    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    np.save(model_dir / CENTROIDS_FILE, np.asarray(centroids, dtype=np.float32))
    metadata = {
        "algorithm": "kmeans",
        "format_version": FORMAT_VERSION,
        "k": int(centroids.shape[0]),
        "feature_dim": int(centroids.shape[1]),
        "hyperparameters": {
            key: list(value) if isinstance(value, tuple) else value for key, value in asdict(params).items()
        },
    }
    (model_dir / METADATA_FILE).write_text(json.dumps(metadata, indent=2))


def load_model(model_dir: Path) -> KMeansModel:
    model_dir = Path(model_dir)
    if not (model_dir / METADATA_FILE).exists():
        aws = load_aws_model(model_dir)
        if aws is not None:
            return aws
    try:
        metadata = json.loads((model_dir / METADATA_FILE).read_text())
        centroids = np.load(model_dir / CENTROIDS_FILE, allow_pickle=False)
    except FileNotFoundError as exc:
        raise AlgorithmError(f"Not a K-Means model directory ({exc.filename} is missing)") from None
    if metadata.get("algorithm") != "kmeans":
        raise AlgorithmError(f"The model in {model_dir} was trained by {metadata.get('algorithm')!r}")
    return KMeansModel(
        centroids=np.ascontiguousarray(centroids, dtype=np.float32),
        feature_dim=int(metadata["feature_dim"]),
    )


def load_aws_model(model_dir: Path) -> KMeansModel | None:
    """A model trained on AWS: ``model_algo-1`` holds ``[centroids]``, shape ``(k, feature_dim)``."""
    from sagestack.algorithms import aws_artifacts

    artifact = aws_artifacts.read(model_dir, "K-Means")
    if artifact is None:
        return None
    arrays = artifact.arrays
    values = list(arrays.values()) if isinstance(arrays, dict) else arrays
    if not values:
        raise aws_artifacts.AWSModelError(
            "The K-Means model cannot be loaded: model_algo-1 is not an MXNet "
            "NDArray file holding the centroids"
        )
    centroids = aws_artifacts.float_matrix(values[0], "the centroid array of model_algo-1", "K-Means")
    return KMeansModel(
        centroids=np.ascontiguousarray(centroids, dtype=np.float32), feature_dim=int(centroids.shape[1])
    )
