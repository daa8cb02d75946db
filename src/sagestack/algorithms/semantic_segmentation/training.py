"""``train(env)`` for Semantic Segmentation: per-pixel softmax cross-entropy (pixels labelled 255
ignored) with random horizontal flips, ``optimizer`` and ``lr_scheduler`` (``poly``, ``cosine`` or
``step``) by SageMaker's names. Each epoch logs the train ``loss`` and the validation ``mIOU`` and
``pixel_accuracy``; the best-mIOU epoch is kept, early stopping on the relative mIOU gain. Several
instances train data-parallel (each host a shard, gradients averaged).
"""

from __future__ import annotations

import copy
import time

import numpy as np

from sagestack.algorithms import distributed
from sagestack.algorithms.base import AlgorithmClientError, TrainingEnv
from sagestack.algorithms.common import configure, log
from sagestack.algorithms.dense_vision import (
    previous_model,
    quality,
    scheduled_lr,
    setup,
    training_tools,
)
from sagestack.algorithms.object_detection.training import to_tensor
from sagestack.algorithms.semantic_segmentation.data import Samples, read_split
from sagestack.algorithms.semantic_segmentation.masks import IGNORE
from sagestack.algorithms.semantic_segmentation.model import load_model, save_model
from sagestack.algorithms.semantic_segmentation.network import SegmentationNetwork
from sagestack.algorithms.semantic_segmentation.spec import SPEC, parse_hyperparameters
from sagestack.algorithms.vision.training import set_learning_rate

SEED = 13


def confusion(pred: np.ndarray, truth: np.ndarray, classes: int) -> np.ndarray:
    valid = truth != IGNORE
    index = truth[valid].astype(np.int64) * classes + pred[valid].astype(np.int64)
    return np.bincount(index, minlength=classes * classes).reshape(classes, classes)


def scores(matrix: np.ndarray) -> tuple[float, float]:
    """``(mIOU, pixel_accuracy)`` of a confusion matrix (classes absent from truth and prediction are
    left out of the mean)."""
    inter = np.diag(matrix).astype(np.float64)
    union = matrix.sum(0) + matrix.sum(1) - inter
    present = union > 0
    miou = float(np.mean(inter[present] / union[present])) if present.any() else 0.0
    accuracy = float(inter.sum() / max(matrix.sum(), 1))
    return miou, accuracy


def evaluate(network, samples: Samples, classes: int, device, batch: int) -> tuple[float, float]:
    import torch

    network.eval()
    matrix = np.zeros((classes, classes), dtype=np.int64)
    with torch.no_grad():
        for start in range(0, len(samples), batch):
            logits = network(to_tensor(samples.images[start : start + batch], device))
            pred = logits.argmax(1).cpu().numpy()
            matrix += confusion(pred, samples.masks[start : start + batch], classes)
    network.train()
    return scores(matrix)


def train(env: TrainingEnv) -> None:
    import torch
    from torch.nn import functional as F

    hp = configure(SPEC, env, parse_hyperparameters)
    device = setup(env, SEED)
    group = distributed.join(env)
    host, classes = env.current_host, hp["num_classes"]
    try:
        train_set = read_split(env, "train", hp)
        valid_set = read_split(env, "validation", hp)
        log(f"Read {len(train_set)} training and {len(valid_set)} validation images on {device}")
        network = SegmentationNetwork(hp["backbone"], hp["algorithm"], classes)
        previous = previous_model(env)
        if previous is not None:
            old = load_model(previous)
            for key in ("backbone", "algorithm", "crop_size", "num_classes"):
                if old.hp[key] != hp[key]:
                    raise AlgorithmClientError(
                        f"The model channel's model has {key}={old.hp[key]!r}; this job has {hp[key]!r} "
                        f"(they must match for incremental training)"
                    )
            network.load_state_dict(old.network.state_dict())
            log("Initialised from the model channel's model")
        network.to(device)
        group.broadcast(network)
        optimizer, stopper, rng, steps = training_tools(network, hp, SEED)
        batch = hp["mini_batch_size"]
        best_state, best_miou = copy.deepcopy(network.state_dict()), -1.0
        network.train()
        for epoch in range(hp["epochs"]):
            set_learning_rate(
                optimizer,
                scheduled_lr(
                    hp["learning_rate"],
                    hp["lr_scheduler"],
                    epoch,
                    hp["epochs"],
                    steps,
                    hp["lr_scheduler_factor"],
                ),
            )
            order = rng.permutation(len(train_set))[group.rank :: group.world]
            started, total, seen = time.time(), 0.0, 0
            for start in range(0, len(order), batch):
                chosen = np.sort(order[start : start + batch])
                images, masks = train_set.images[chosen], train_set.masks[chosen]
                flip = rng.random(len(chosen)) < 0.5
                if flip.any():
                    images, masks = images.copy(), masks.copy()
                    images[flip] = images[flip, :, ::-1]
                    masks[flip] = masks[flip, :, ::-1]
                logits = network(to_tensor(images, device))
                target = torch.from_numpy(masks.astype(np.int64)).to(device)
                loss = F.cross_entropy(logits, target, ignore_index=IGNORE)
                optimizer.zero_grad()
                loss.backward()
                group.average_gradients(network.parameters())
                optimizer.step()
                total += float(loss.detach()) * len(chosen)
                seen += len(chosen)
            summed = group.sum([total, float(seen)])
            miou, accuracy = evaluate(network, valid_set, classes, device, hp["validation_mini_batch_size"])
            if group.leader:
                speed = seen * group.world / max(time.time() - started, 1e-9)
                log(f"Epoch[{epoch}] Train-speed={speed:.1f} samples/sec")
                quality(host, epoch, "train", "loss", "loss", summed[0] / max(summed[1], 1))
                quality(host, epoch, "validation", "mIOU", "score", miou)
                quality(host, epoch, "validation", "pixel_accuracy", "score", accuracy)
            if stopper.improved(miou) or best_miou < 0:
                best_miou, best_state = miou, copy.deepcopy(network.state_dict())
            if stopper.stop(epoch):
                log(f"Early stopping after epoch {epoch}: mIOU has not improved for {stopper.stale} epochs")
                break
        network.load_state_dict(best_state)
        if group.leader:
            network.to("cpu")
            save_model(env.model_dir, network, hp)
            log(f"Best validation mIOU: {best_miou!r}")
    finally:
        group.close()
