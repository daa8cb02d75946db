"""The PCA model artifact: ``pca.npz`` plus ``model.json`` in the model directory.

* ``pca.npz``: ``mean`` float32 ``(feature_dim,)`` (zeros when ``subtract_mean`` was off),
  ``v`` float32 ``(feature_dim, num_components)`` whose columns are the components and ``s`` float32
  ``(num_components,)`` their singular values — both in **ascending** order of variance (the top
  component last), the layout and order of the ``mean``/``v``/``s`` arrays in SageMaker's PCA model;
* ``model.json``: ``{"algorithm": "pca", "format_version": 1, "num_components": ..., "feature_dim":
  ..., "subtract_mean": ..., "hyperparameters": {...}}``.

Models trained on AWS (``model_algo-1``: an MXNet NDArray file with the same ``mean``/``v``/``s``)
load too (:mod:`sagestack.algorithms.aws_artifacts`).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from sagestack.algorithms.base import AlgorithmError
from sagestack.algorithms.pca.decomposition import PCAResult
from sagestack.algorithms.pca.spec import PCAParams

ARRAYS_FILE = "pca.npz"
METADATA_FILE = "model.json"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class PCAModel:
    mean: np.ndarray  # (feature_dim,) float64
    v: np.ndarray  # (feature_dim, num_components) float64, ascending variance
    s: np.ndarray  # (num_components,)
    feature_dim: int

    @property
    def num_components(self) -> int:
        return int(self.v.shape[1])


def save_model(model_dir: Path, result: PCAResult, params: PCAParams) -> None:
    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    np.savez(
        model_dir / ARRAYS_FILE,
        mean=result.mean.astype(np.float32),
        v=result.components.astype(np.float32),
        s=result.singular_values.astype(np.float32),
    )
    metadata = {
        "algorithm": "pca",
        "format_version": FORMAT_VERSION,
        "num_components": int(result.components.shape[1]),
        "feature_dim": int(result.components.shape[0]),
        "subtract_mean": params.subtract_mean,
        "hyperparameters": asdict(params),
    }
    (model_dir / METADATA_FILE).write_text(json.dumps(metadata, indent=2))


def load_model(model_dir: Path) -> PCAModel:
    model_dir = Path(model_dir)
    if not (model_dir / METADATA_FILE).exists():
        aws = load_aws_model(model_dir)
        if aws is not None:
            return aws
    try:
        metadata = json.loads((model_dir / METADATA_FILE).read_text())
        with np.load(model_dir / ARRAYS_FILE, allow_pickle=False) as arrays:
            mean, v, s = arrays["mean"], arrays["v"], arrays["s"]
    except FileNotFoundError as exc:
        raise AlgorithmError(f"Not a PCA model directory ({exc.filename} is missing)") from None
    if metadata.get("algorithm") != "pca":
        raise AlgorithmError(f"The model in {model_dir} was trained by {metadata.get('algorithm')!r}")
    return PCAModel(
        mean=mean.astype(np.float64),
        v=v.astype(np.float64),
        s=s.astype(np.float64),
        feature_dim=int(metadata["feature_dim"]),
    )


def load_aws_model(model_dir: Path) -> PCAModel | None:
    """A model trained on AWS: ``model_algo-1`` holds ``v``, ``s`` and (with ``subtract_mean``) ``mean``."""
    from sagestack.algorithms import aws_artifacts

    artifact = aws_artifacts.read(model_dir, "PCA")
    if artifact is None:
        return None
    arrays = artifact.arrays
    if not isinstance(arrays, dict) or "v" not in arrays or "s" not in arrays:
        names = sorted(arrays) if isinstance(arrays, dict) else "an unnamed list"
        raise aws_artifacts.AWSModelError(
            f"The PCA model cannot be loaded: model_algo-1 holds {names}, not the arrays v and s"
        )
    v = aws_artifacts.float_matrix(arrays["v"], "v", "PCA").astype(np.float64)
    s = np.asarray(arrays["s"], dtype=np.float64).ravel()
    feature_dim = int(v.shape[0])
    mean = arrays.get("mean")
    mean = np.zeros(feature_dim) if mean is None else np.asarray(mean, dtype=np.float64).ravel()
    if s.size != v.shape[1] or mean.size != feature_dim:
        raise aws_artifacts.AWSModelError(
            f"The PCA model cannot be loaded: v {v.shape}, s ({s.size},) and mean ({mean.size},) do not agree"
        )
    return PCAModel(mean=mean, v=v, s=s, feature_dim=feature_dim)
