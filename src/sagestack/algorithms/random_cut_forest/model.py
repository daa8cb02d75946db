"""The RCF model artifact: ``model_algo-<n>.npz`` per host (its trees) plus ``model.json``.

A multi-instance job writes one tree file per host (each host's trees come from its shard of the
train channel); :func:`load_model` merges every tree file it finds into one forest.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from sagestack.algorithms.base import AlgorithmError
from sagestack.algorithms.random_cut_forest.forest import Forest, merge
from sagestack.algorithms.random_cut_forest.spec import RCFParams

METADATA_FILE = "model.json"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class RCFModel:
    forest: Forest
    feature_dim: int
    threshold: float  # mean + 3 standard deviations of the training sample's scores


def tree_file(host: str) -> str:
    return f"model_{host}.npz"


def save_model(model_dir: Path, host: str, forest: Forest, params: RCFParams, threshold: float) -> None:
    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    np.savez(model_dir / tree_file(host), **forest.arrays())
    metadata = {
        "algorithm": "randomcutforest",
        "format_version": FORMAT_VERSION,
        "feature_dim": params.feature_dim,
        "threshold": threshold,
        "hyperparameters": asdict(params),
    }
    (model_dir / METADATA_FILE).write_text(json.dumps(metadata, indent=2))


def load_model(model_dir: Path) -> RCFModel:
    model_dir = Path(model_dir)
    try:
        metadata = json.loads((model_dir / METADATA_FILE).read_text())
    except FileNotFoundError:
        raise AlgorithmError("Not a Random Cut Forest model directory (model.json is missing)") from None
    if metadata.get("algorithm") != "randomcutforest":
        raise AlgorithmError(f"The model in {model_dir} was trained by {metadata.get('algorithm')!r}")
    forests = []
    for path in sorted(model_dir.glob("model_algo-*.npz")):
        with np.load(path, allow_pickle=False) as arrays:
            forests.append(Forest.from_arrays(dict(arrays)))
    if not forests:
        raise AlgorithmError("The Random Cut Forest model holds no trees")
    return RCFModel(
        forest=forests[0] if len(forests) == 1 else merge(forests),
        feature_dim=int(metadata["feature_dim"]),
        threshold=float(metadata["threshold"]),
    )
