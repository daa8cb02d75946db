"""A trained segmentation network: ``model_algo-1`` (the torch ``state_dict``, loaded with
``weights_only``) and ``model_algo-1.json`` (backbone, algorithm, classes, crop size). SageMaker's own
artifact holds GluonCV parameters; it is not reproduced."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sagestack.algorithms.neural import load_network, save_network
from sagestack.algorithms.semantic_segmentation.network import SegmentationNetwork

ALGORITHM = "semantic-segmentation"
KEPT = ("backbone", "algorithm", "num_classes", "crop_size")


@dataclass
class SegmentationModel:
    network: SegmentationNetwork
    hp: dict


def save_model(model_dir: Path, network: SegmentationNetwork, hp: dict) -> None:
    save_network(model_dir, network, ALGORITHM, hp, KEPT)


def load_model(model_dir: Path) -> SegmentationModel:
    return SegmentationModel(
        *load_network(
            model_dir,
            ALGORITHM,
            lambda hp: SegmentationNetwork(hp["backbone"], hp["algorithm"], hp["num_classes"]),
        )
    )
