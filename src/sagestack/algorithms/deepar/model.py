"""A trained DeepAR model: the network, what it was trained with, and the tensors it reads.

Artifact (``model_dir``): ``model_algo-1.json`` (the configuration: frequency, lengths, lags,
likelihood, cardinality, number of dynamic features, network sizes) and ``model_algo-1.pt`` (the
network's ``state_dict``, saved with ``torch.save``; loaded with ``weights_only=True``). SageMaker's own
artifact is an MXNet checkpoint (``model_algo-1-0000.params``); it is not reproduced.

Every series is laid out with ``pad = max_lag + context_length + prediction_length`` missing values in
front (so the earliest windows and the lags of short series read "missing", imputed as 0) and, for
forecasting, ``prediction_length`` slots behind; calendar features, the age and ``dynamic_feat``
follow the same layout.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from sagestack.algorithms.common import MODEL_NAME
from sagestack.algorithms.deepar import features
from sagestack.algorithms.deepar.data import Series

FORMAT_VERSION = "1.0"


@dataclass
class DeepARConfig:
    time_freq: str
    context_length: int
    prediction_length: int
    likelihood: str
    lags: list[int]
    cardinality: list[int]  # one entry per cat feature used ([] when cat is not used)
    num_dynamic_feat: int  # 0 when dynamic_feat is not used
    embedding_dimension: int
    num_cells: int
    num_layers: int
    dropout_rate: float
    version: str = FORMAT_VERSION

    @property
    def pad(self) -> int:
        return max(self.lags) + self.context_length + self.prediction_length

    def network_kwargs(self) -> dict:
        return {
            "num_lags": len(self.lags),
            "num_time_features": len(features.feature_names(self.time_freq)),
            "cardinality": self.cardinality,
            "embedding_dimension": self.embedding_dimension,
            "num_dynamic_feat": self.num_dynamic_feat,
            "num_cells": self.num_cells,
            "num_layers": self.num_layers,
            "dropout_rate": self.dropout_rate,
            "likelihood": self.likelihood,
        }


@dataclass
class Laid:
    """One series in the padded layout."""

    target: np.ndarray  # (pad + T + future,) float32, NaN = missing
    time_feat: np.ndarray  # (same, F)
    dynamic: np.ndarray  # (same, D)
    cat: np.ndarray  # (C,) int64
    length: int  # T (observed part, without padding)


def lay_out(config: DeepARConfig, series: Series, future: int = 0) -> Laid:
    pad = config.pad
    T = int(series.target.shape[0])
    total = pad + T + future
    target = np.full(total, np.nan, dtype=np.float32)
    target[pad : pad + T] = series.target
    start = features.shifted_start(series.start, pad, config.time_freq)
    time_feat = features.time_features(start, total, config.time_freq)
    dynamic = np.zeros((total, config.num_dynamic_feat), dtype=np.float32)
    if config.num_dynamic_feat:
        values = series.dynamic_feat[:, : T + future]  # type: ignore[index]
        dynamic[pad : pad + values.shape[1]] = values.T
    cat = np.asarray(series.cat[: len(config.cardinality)] if config.cardinality else [], dtype=np.int64)
    return Laid(target, time_feat, dynamic, cat, T)


def save_model(model_dir: Path, config: DeepARConfig, state_dict: dict) -> None:
    import torch

    model_dir.mkdir(parents=True, exist_ok=True)
    (model_dir / f"{MODEL_NAME}.json").write_text(json.dumps(asdict(config)))
    torch.save(state_dict, model_dir / f"{MODEL_NAME}.pt")


@dataclass
class DeepARModel:
    config: DeepARConfig
    network: object  # DeepARNetwork, in eval mode


def load_model(model_dir: Path) -> DeepARModel:
    import torch

    from sagestack.algorithms.deepar.network import DeepARNetwork

    torch.set_num_threads(1)  # one small network per worker: no thread oversubscription
    model_dir = Path(model_dir)
    raw = json.loads((model_dir / f"{MODEL_NAME}.json").read_text())
    config = DeepARConfig(**raw)
    network = DeepARNetwork(**config.network_kwargs())
    network.load_state_dict(torch.load(model_dir / f"{MODEL_NAME}.pt", weights_only=True))
    network.eval()
    return DeepARModel(config, network)
