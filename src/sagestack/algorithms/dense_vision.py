"""What Object Detection and Semantic Segmentation share: device choice, image tensors, optimizers and
learning-rate schedules by SageMaker's names, early stopping on a validation score, the quality-metric
log lines, and the ``model`` channel of incremental training.

Device: CUDA when the instance type has GPUs (``SM_NUM_GPUS`` > 0) and torch sees one, else the CPU.
"""

from __future__ import annotations

import io
import math
import tarfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from sagestack.algorithms.base import AlgorithmClientError, TrainingEnv

MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32) * 255.0
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32) * 255.0


def setup(env: TrainingEnv, seed: int = 0) -> Any:
    """Seeded torch on the job's device (:func:`~sagestack.algorithms.vision.training.choose_device`);
    on the CPU, up to 4 intra-op threads where the instance has at least 4 CPUs, else one (on small
    shared hosts a second thread costs more in synchronisation than it gains)."""
    import torch

    from sagestack.algorithms.vision.training import choose_device

    torch.manual_seed(seed)
    cpus = int(env.num_cpus or 1)
    torch.set_num_threads(min(cpus, 4) if cpus >= 4 else 1)
    return choose_device(env.num_gpus)


def load_rgb(data: bytes, where: str) -> Any:
    """A PIL RGB image of encoded PNG/JPEG bytes (a ClientError naming ``where`` otherwise)."""
    from PIL import Image, UnidentifiedImageError

    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError) as exc:
        raise AlgorithmClientError(f"{where}: not a readable PNG/JPEG image ({exc})") from None
    return image.convert("RGB")


def to_array(image: Any, size: tuple[int, int] | None = None, resample: int | None = None) -> np.ndarray:
    """``(3, H, W)`` float32, normalised by the ImageNet mean/std, optionally resized to ``(W, H)``."""
    from PIL import Image

    if size is not None and image.size != tuple(size):
        image = image.resize(tuple(size), Image.BILINEAR if resample is None else resample)
    array = np.asarray(image, dtype=np.float32)
    return np.ascontiguousarray(((array - MEAN) / STD).transpose(2, 0, 1))


def make_optimizer(name: str, params: Iterable[Any], lr: float, hp: dict) -> Any:
    """The optimizer the hyperparameters name (momentum, weight_decay, RMSProp's gamma1/gamma2)."""
    from sagestack.algorithms.neural import make_optimizer as optimizer

    return optimizer(
        name,
        params,
        lr,
        hp.get("weight_decay", 0.0),
        momentum=hp.get("momentum", 0.9),
        alpha=hp.get("gamma1", 0.9),
        rms_momentum=hp.get("gamma2", 0.0),
    )


def scheduled_lr(base: float, kind: str, epoch: int, epochs: int, steps: list[int], factor: float) -> float:
    """The learning rate of an epoch: ``step`` (× factor at each listed epoch), ``poly`` (power 0.9) or
    ``cosine`` decay over the run."""
    if kind == "poly":
        return base * (1.0 - epoch / epochs) ** 0.9
    if kind == "cosine":
        return base * 0.5 * (1.0 + math.cos(math.pi * epoch / epochs))
    from sagestack.algorithms.vision.training import step_factor

    return base * step_factor(epoch, steps, factor)


def training_tools(network: Any, hp: dict, seed: int) -> tuple[Any, EarlyStopping, Any, list[int]]:
    """What both dense algorithms' epoch loops start from: the optimizer over ``network``, the early
    stopper, the shuffling generator and the ``lr_scheduler_step`` epochs."""
    from sagestack.algorithms.object_detection.spec import lr_steps

    optimizer = make_optimizer(hp["optimizer"], network.parameters(), hp["learning_rate"], hp)
    stopper = EarlyStopping(
        hp["early_stopping"],
        hp["early_stopping_min_epochs"],
        hp["early_stopping_patience"],
        hp["early_stopping_tolerance"],
    )
    return optimizer, stopper, np.random.default_rng(seed), lr_steps(hp["lr_scheduler_step"])


class EarlyStopping:
    """Stop once ``min_epochs`` have run and ``patience`` epochs passed without the score improving
    relatively by more than ``tolerance`` over the best so far."""

    def __init__(self, enabled: bool, min_epochs: int, patience: int, tolerance: float):
        self.enabled, self.min_epochs, self.patience, self.tolerance = (
            enabled,
            min_epochs,
            patience,
            tolerance,
        )
        self.best: float | None = None
        self.stale = 0

    def improved(self, score: float) -> bool:
        if self.best is None or score > self.best * (1.0 + self.tolerance) + (1e-12 if self.best == 0 else 0):
            self.best, self.stale = score, 0
            return True
        self.stale += 1
        return False

    def stop(self, epoch: int) -> bool:
        return self.enabled and epoch + 1 >= self.min_epochs and self.stale >= self.patience


def quality(host: str, epoch: int, split: str, name: str, what: str, value: float) -> None:
    print(
        f"#quality_metric: host={host}, epoch={epoch}, {split} {name} <{what}>=({float(value)!r})", flush=True
    )


def previous_model(env: TrainingEnv) -> Path | None:
    """The ``model`` channel of incremental training, extracted: the directory holding the artifact."""
    channel = env.channels.get("model")
    if channel is None:
        return None
    root = Path(channel.path)
    for archive in sorted(root.rglob("*.tar.gz")):
        target = env.root / "previous-model"
        target.mkdir(parents=True, exist_ok=True)
        with tarfile.open(archive) as tar:
            tar.extractall(target, filter="data")
        return target
    if any(root.rglob("model_algo-1.json")):
        return next(root.rglob("model_algo-1.json")).parent
    raise AlgorithmClientError("The model channel holds no model.tar.gz of a previous training job")
