"""Image Classification's model artifact and its inference core.

The artifact (``model.tar.gz``) holds ``model_algo-1`` (the ResNet's torch ``state_dict``) and
``model_algo-1.json`` (``num_layers``, ``num_classes``, ``image_shape``, ``resize``, ``multi_label``),
plus — with ``checkpoint_frequency`` — ``image-classification-<epoch>.params`` state dicts of the
checkpointed epochs. :meth:`ICModel.probabilities` turns encoded images into class probabilities
(softmax; sigmoid per class for ``multi_label``), resizing each as training's evaluation did.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sagestack.algorithms.base import AlgorithmError
from sagestack.algorithms.neural import load_state, save_state

ALGORITHM = "image-classification"


@dataclass
class ICModel:
    network: Any  # ResNetClassifier, eval mode
    num_layers: int
    num_classes: int
    image_shape: tuple[int, int, int]
    resize: int | None
    multi_label: bool
    device: Any = None

    def metadata(self) -> dict[str, Any]:
        return {
            "algorithm": ALGORITHM,
            "num_layers": self.num_layers,
            "num_classes": self.num_classes,
            "image_shape": list(self.image_shape),
            "resize": self.resize,
            "multi_label": self.multi_label,
        }

    def prepare(self, arrays: list[np.ndarray]) -> np.ndarray:
        """Decoded ``H×W×3`` images → the normalised input batch (resized, centre-cropped)."""
        from sagestack.algorithms.vision.augment import center_crop, resize_shorter, to_tensor_batch

        _, height, width = self.image_shape
        crops = []
        for array in arrays:
            if self.resize:
                array = resize_shorter(array, self.resize)
            elif array.shape[0] != height or array.shape[1] != width:
                array = resize_shorter(array, max(height, width))
            crops.append(center_crop(array, height, width))
        return to_tensor_batch(np.stack(crops))

    def probabilities_of_batch(self, batch: np.ndarray) -> np.ndarray:
        import torch

        with torch.no_grad():
            inputs = torch.from_numpy(batch)
            if self.device is not None:
                inputs = inputs.to(self.device)
            logits = self.network(to_channels(inputs, self.image_shape[0])).float()
            probs = torch.sigmoid(logits) if self.multi_label else torch.softmax(logits, dim=1)
        return probs.cpu().numpy()

    def probabilities(self, images: list[bytes]) -> np.ndarray:
        from sagestack.algorithms.vision.inputs import decode_image

        return self.probabilities_of_batch(self.prepare([decode_image(data) for data in images]))


def to_channels(inputs: Any, channels: int) -> Any:
    """The RGB input batch as the network's ``channels`` (1: the mean of R, G, B)."""
    if channels == 1:
        return inputs.mean(dim=1, keepdim=True)
    return inputs


def build_network(num_layers: int, num_classes: int, channels: int = 3) -> Any:
    from sagestack.algorithms.vision.backbones import resnet

    return resnet(num_layers, num_classes, in_channels=channels)


def save_model(model_dir: Path, model: ICModel, state: dict | None = None) -> None:
    module = model.network
    if state is not None:
        module.load_state_dict(state)
    save_state(model_dir, module, model.metadata())


def save_checkpoint(model_dir: Path, epoch: int, state: dict) -> None:
    import torch

    Path(model_dir).mkdir(parents=True, exist_ok=True)
    torch.save(state, Path(model_dir) / f"{ALGORITHM}-{epoch:04d}.params")


def load_model(model_dir: Path, device: Any = None) -> ICModel:
    """The model ``train`` wrote (``model_dir``: the extracted ``model.tar.gz``)."""
    import torch

    # serving workers fork after loading: an OpenMP pool started here would hang in the children, and one
    # network per worker process needs no intra-op threads anyway
    torch.set_num_threads(1)
    meta, state = load_state(Path(model_dir), ALGORITHM)
    try:
        shape = tuple(int(v) for v in meta["image_shape"])
        network = build_network(int(meta["num_layers"]), int(meta["num_classes"]), shape[0])
        network.load_state_dict(state)
    except (KeyError, ValueError, RuntimeError) as exc:
        raise AlgorithmError(f"The image-classification model in {model_dir} is not usable: {exc}") from None
    if device is None:
        device = torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")
    network.to(device).eval()
    return ICModel(
        network=network,
        num_layers=int(meta["num_layers"]),
        num_classes=int(meta["num_classes"]),
        image_shape=shape,  # type: ignore[arg-type]
        resize=meta.get("resize"),
        multi_label=bool(meta.get("multi_label")),
        device=device,
    )
