"""A trained SSD: ``model_algo-1`` (the torch ``state_dict``, loaded with ``weights_only``) and
``model_algo-1.json`` (base network, classes, input size, NMS threshold). SageMaker's own artifact is an
MXNet checkpoint; it is not reproduced."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sagestack.algorithms.neural import load_network, save_network
from sagestack.algorithms.object_detection.network import SSD

ALGORITHM = "object-detection"
KEPT = ("base_network", "num_classes", "image_shape", "nms_threshold", "overlap_threshold")


@dataclass
class DetectionModel:
    network: SSD
    hp: dict


def save_model(model_dir: Path, network: SSD, hp: dict) -> None:
    save_network(model_dir, network, ALGORITHM, hp, KEPT)


def load_model(model_dir: Path) -> DetectionModel:
    return DetectionModel(
        *load_network(
            model_dir, ALGORITHM, lambda hp: SSD(hp["base_network"], hp["num_classes"], hp["image_shape"])
        )
    )
