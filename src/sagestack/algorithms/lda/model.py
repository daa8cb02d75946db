"""The LDA model artifact, as SageMaker's: ``model_algo-1``, an MXNet NDArray list ``[alpha, beta]``
(``alpha`` the Dirichlet prior, ``num_topics`` values; ``beta`` the ``num_topics × vocabulary``
topic-word matrix), loadable with ``mx.ndarray.load`` as the SageMaker documentation shows.

Models trained on AWS load the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sagestack.algorithms.base import AlgorithmError
from sagestack.algorithms.common import MODEL_NAME


@dataclass(frozen=True)
class LDAModel:
    alpha: np.ndarray  # (k,) float64
    beta: np.ndarray  # (k, V) float64, rows sum to 1

    @property
    def feature_dim(self) -> int:
        return int(self.beta.shape[1])


def save_model(model_dir: Path, alpha: np.ndarray, beta: np.ndarray) -> None:
    from sagestack.formats import mxnet_ndarray

    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    payload = mxnet_ndarray.save([alpha.astype(np.float32), beta.astype(np.float32)])
    (model_dir / MODEL_NAME).write_bytes(payload)


def load_model(model_dir: Path) -> LDAModel:
    from sagestack.formats import mxnet_ndarray

    path = Path(model_dir) / MODEL_NAME
    try:
        arrays = mxnet_ndarray.load(path.read_bytes())
    except FileNotFoundError:
        raise AlgorithmError(f"Not an LDA model directory ({MODEL_NAME} is missing)") from None
    except mxnet_ndarray.MXNetFormatError as exc:
        raise AlgorithmError(f"The LDA model cannot be loaded: {exc}") from None
    values = list(arrays.values()) if isinstance(arrays, dict) else list(arrays)
    if len(values) != 2:
        raise AlgorithmError(f"The LDA model holds {len(values)} arrays, not [alpha, beta]")
    alpha = np.asarray(values[0], dtype=np.float64).ravel()
    beta = np.asarray(values[1], dtype=np.float64)
    if beta.ndim != 2 or beta.shape[0] != alpha.size:
        raise AlgorithmError(f"The LDA model's alpha {alpha.shape} and beta {beta.shape} do not agree")
    beta = np.maximum(beta, 0.0)
    beta = beta / np.maximum(beta.sum(axis=1, keepdims=True), 1e-300)
    return LDAModel(alpha=alpha, beta=beta)
