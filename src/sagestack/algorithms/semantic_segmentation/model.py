"""A trained segmentation network: ``model_algo-1`` (the torch ``state_dict``, loaded with
``weights_only``) and ``model_algo-1.json`` (backbone, algorithm, classes, crop size). SageMaker's own
artifact holds GluonCV parameters; it is not reproduced."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sagestack.algorithms.neural import load_state, save_state
from sagestack.algorithms.semantic_segmentation.network import SegmentationNetwork

ALGORITHM = "semantic-segmentation"
KEPT = ("backbone", "algorithm", "num_classes", "crop_size")


@dataclass
class SegmentationModel:
    network: SegmentationNetwork
    hp: dict


def save_model(model_dir: Path, network: SegmentationNetwork, hp: dict) -> None:
    Path(model_dir).mkdir(parents=True, exist_ok=True)
    save_state(model_dir, network, {"algorithm": ALGORITHM, "hyperparameters": {k: hp[k] for k in KEPT}})


def load_model(model_dir: Path) -> SegmentationModel:
    import torch

    torch.set_num_threads(1)
    meta, state = load_state(Path(model_dir), ALGORITHM)
    hp = meta["hyperparameters"]
    network = SegmentationNetwork(hp["backbone"], hp["algorithm"], hp["num_classes"])
    network.load_state_dict(state)
    network.eval()
    return SegmentationModel(network, hp)
