"""Training helpers the vision algorithms share: the device, SageMaker's optimizers and step learning
rate schedule, decoded-image caches and mini-batches.

* :func:`choose_device`: CUDA when the instance type has GPUs (``env.num_gpus``, from ``SM_NUM_GPUS``)
  and torch sees one, else the CPU — the project never needs a GPU;
* the optimizers are :func:`sagestack.algorithms.neural.make_optimizer`'s;
* :func:`step_factor`: ``lr_scheduler_step`` epochs at which the rate is multiplied by
  ``lr_scheduler_factor``;
* :class:`ImageSet`: the records' images decoded once (``resize`` applied, at least the crop size), their
  labels, and shuffled mini-batches; multi-host training shards them by rank (data parallel; gradients
  averaged with :mod:`sagestack.algorithms.distributed`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sagestack.algorithms.base import AlgorithmClientError
from sagestack.algorithms.vision.augment import augment_batch, prepare, to_tensor_batch
from sagestack.algorithms.vision.inputs import ImageRecord, decode_image

OPTIMIZERS: tuple[str, ...] = ("sgd", "adam", "rmsprop", "nag")


def choose_device(num_gpus: int = 0) -> Any:
    """``torch.device("cuda")`` when the instance has GPUs and torch sees one, else the CPU."""
    import torch

    if num_gpus > 0 and torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")


def parse_steps(text: str | None) -> list[int]:
    """``"10, 20"`` → ``[10, 20]`` (``lr_scheduler_step``)."""
    if text is None or not str(text).strip():
        return []
    try:
        steps = [int(part) for part in str(text).split(",") if part.strip()]
    except ValueError:
        raise AlgorithmClientError(
            f"Hyperparameter lr_scheduler_step: {text!r} is not a comma-separated list of epochs"
        ) from None
    if any(s <= 0 for s in steps):
        raise AlgorithmClientError(f"Hyperparameter lr_scheduler_step: epochs must be positive, got {text!r}")
    return sorted(steps)


def step_factor(epoch: int, steps: Sequence[int], factor: float) -> float:
    """The multiplier of the base rate during 0-based ``epoch``."""
    return factor ** sum(1 for s in steps if epoch >= s)


def set_learning_rate(optimizer: Any, rate: float) -> None:
    """Set every parameter group's learning rate (AdaDelta, which adapts its own step, is left alone)."""
    import torch

    if isinstance(optimizer, torch.optim.Adadelta):
        return
    for group in optimizer.param_groups:
        group["lr"] = rate


@dataclass
class ImageSet:
    """Decoded images (uint8 ``H×W×3``, each at least the crop size) and their labels."""

    images: list[np.ndarray]
    labels: list[tuple[float, ...]]
    keys: list[str]
    annotations: list[Any] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.images)

    @classmethod
    def load(
        cls,
        records: Iterable[ImageRecord],
        height: int,
        width: int,
        resize: int | None = None,
        limit: int | None = None,
    ) -> ImageSet:
        images, labels, keys, annotations = [], [], [], []
        for record in records:
            try:
                array = decode_image(record.image)
            except AlgorithmClientError as exc:
                raise AlgorithmClientError(f"Image {record.key}: {exc}") from None
            images.append(prepare(array, height, width, resize))
            labels.append(record.labels)
            keys.append(record.key)
            annotations.append(record.annotation)
            if limit is not None and len(images) >= limit:
                break
        return cls(images, labels, keys, annotations)

    def shard(self, rank: int, world: int) -> ImageSet:
        """This host's share (every ``world``-th image from ``rank``), for data-parallel training."""
        if world <= 1:
            return self
        pick = slice(rank, None, world)
        return ImageSet(
            self.images[pick],
            self.labels[pick],
            self.keys[pick],
            self.annotations[pick] if self.annotations else [],
        )

    def batches(
        self,
        batch_size: int,
        height: int,
        width: int,
        augmentation: str | None = None,
        rng: np.random.Generator | None = None,
        drop_last: bool = False,
    ) -> Iterator[tuple[np.ndarray, list[int]]]:
        """``(N×3×H×W float32, indices)``: shuffled and augmented with ``rng``, else in order, centred."""
        order = rng.permutation(len(self)) if rng is not None else np.arange(len(self))
        for start in range(0, len(order), batch_size):
            index = order[start : start + batch_size].tolist()
            if drop_last and len(index) < batch_size:
                return
            crops = augment_batch([self.images[i] for i in index], height, width, augmentation, rng)
            yield to_tensor_batch(crops), index


def recalibrate_batchnorm(model: Any, batches: Iterable[Any]) -> None:
    """Replace every BatchNorm layer's running statistics by their average over ``batches`` (input
    tensors) under the final weights ("precise BN"): with few training steps the exponential running
    averages still lag the weights, and evaluation-mode predictions suffer."""
    import torch

    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    saved = [(m.momentum, m.training) for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average
    was_training = model.training
    model.train()
    with torch.no_grad():
        for batch in batches:
            model(batch)
    for m, (momentum, _) in zip(norms, saved):
        m.momentum = momentum
    model.train(was_training)
