"""``train(env)`` for Object Detection: SSD trained with the multibox loss (softmax cross-entropy with
3:1 hard negative mining, smooth L1 on the matched anchors' offsets), anchors matched at
``overlap_threshold``; random horizontal flips. Each epoch logs ``train cross_entropy``/``smooth_l1``
and the validation ``mAP`` (VOC, at IoU ``overlap_threshold``, after NMS at ``nms_threshold``); the
best-mAP epoch is kept. Several instances train data-parallel (each host a shard of every epoch,
gradients averaged with :mod:`sagestack.algorithms.distributed`).
"""

from __future__ import annotations

import copy
import re
import time

import numpy as np

from sagestack.algorithms import distributed
from sagestack.algorithms.base import AlgorithmClientError, TrainingEnv
from sagestack.algorithms.common import configure, log
from sagestack.algorithms.dense_vision import (
    MEAN,
    STD,
    previous_model,
    quality,
    scheduled_lr,
    setup,
    training_tools,
)
from sagestack.algorithms.object_detection import boxes
from sagestack.algorithms.object_detection.data import Samples, read_split
from sagestack.algorithms.object_detection.model import load_model, save_model
from sagestack.algorithms.object_detection.network import SSD, multibox_loss
from sagestack.algorithms.object_detection.spec import SPEC, parse_hyperparameters
from sagestack.algorithms.vision.training import set_learning_rate

SEED = 11


def to_tensor(images: np.ndarray, device):
    """uint8 ``(B, H, W, 3)`` → normalised float ``(B, 3, H, W)`` on ``device``."""
    import torch

    x = torch.tensor(images, dtype=torch.float32, device=device)
    x = (x - torch.from_numpy(MEAN).to(device)) / torch.from_numpy(STD).to(device)
    return x.permute(0, 3, 1, 2).contiguous()


def _targets(objects: list[np.ndarray], anchors, threshold: float, device):
    import torch

    labels, targets = [], []
    cpu_anchors = anchors.cpu()
    for found in objects:
        t = torch.from_numpy(found)
        lab, tgt = boxes.match(t[:, 1:5], t[:, 0].long(), cpu_anchors, threshold)
        labels.append(lab)
        targets.append(tgt)
    return torch.stack(labels).to(device), torch.stack(targets).to(device)


def evaluate(network, samples: Samples, hp: dict, device, batch: int) -> float:
    import torch

    network.eval()
    detections = []
    with torch.no_grad():
        for start in range(0, len(samples), batch):
            x = to_tensor(samples.images[start : start + batch], device)
            logits, offsets = network(x)
            found = boxes.detect(
                logits.float().cpu(), offsets.float().cpu(), network.anchors.cpu(), hp["nms_threshold"]
            )
            detections += [d.numpy() for d in found]
    network.train()
    return boxes.mean_average_precision(
        detections, samples.objects, hp["num_classes"], hp["overlap_threshold"]
    )


def _freeze(network, pattern: str) -> int:
    if not pattern:
        return 0
    regex = re.compile(pattern)
    frozen = 0
    for name, param in network.named_parameters():
        if regex.search(name):
            param.requires_grad_(False)
            frozen += 1
    return frozen


def train(env: TrainingEnv) -> None:

    hp = configure(SPEC, env, parse_hyperparameters)
    device = setup(env, SEED)
    group = distributed.join(env)
    host = env.current_host
    try:
        train_set = read_split(env, "train", hp)
        valid_set = read_split(env, "validation", hp)
        log(f"Read {len(train_set)} training and {len(valid_set)} validation images on {device}")
        network = SSD(hp["base_network"], hp["num_classes"], hp["image_shape"])
        previous = previous_model(env)
        if previous is not None:
            old = load_model(previous)
            for key in ("base_network", "num_classes"):
                if old.hp[key] != hp[key]:
                    raise AlgorithmClientError(
                        f"The model channel's model has {key}={old.hp[key]!r}; this job has {hp[key]!r} "
                        f"(they must match for incremental training)"
                    )
            if old.hp["image_shape"] == hp["image_shape"]:
                network.load_state_dict(old.network.state_dict())
            else:
                state = {
                    k: v
                    for k, v in old.network.state_dict().items()
                    if not k.startswith(("classifiers", "regressors"))
                }
                network.load_state_dict(state, strict=False)
            log("Initialised from the model channel's model")
        frozen = _freeze(network, hp["freeze_layer_pattern"])
        if frozen:
            log(f"Froze {frozen} parameter tensors matching {hp['freeze_layer_pattern']!r}")
        network.to(device)
        group.broadcast(network)
        optimizer, stopper, rng, steps = training_tools(network, hp, SEED)
        batch = hp["mini_batch_size"]
        best_state, best_map = copy.deepcopy(network.state_dict()), -1.0
        network.train()
        for epoch in range(hp["epochs"]):
            set_learning_rate(
                optimizer,
                scheduled_lr(
                    hp["learning_rate"], "step", epoch, hp["epochs"], steps, hp["lr_scheduler_factor"]
                ),
            )
            order = rng.permutation(len(train_set))[group.rank :: group.world]
            started, seen = time.time(), 0
            sums = np.zeros(3)
            for start in range(0, len(order), batch):
                chosen = order[start : start + batch]
                images = train_set.images[chosen]
                objects = [train_set.objects[i] for i in chosen]
                flip = rng.random(len(chosen)) < 0.5
                if flip.any():
                    images = images.copy()
                    images[flip] = images[flip, :, ::-1]
                    objects = [_flipped(o) if f else o for o, f in zip(objects, flip)]
                labels, targets = _targets(objects, network.anchors, hp["overlap_threshold"], device)
                logits, offsets = network(to_tensor(images, device))
                ce, l1 = multibox_loss(logits, offsets, labels, targets)
                optimizer.zero_grad()
                (ce + l1).backward()
                group.average_gradients(network.parameters())
                optimizer.step()
                sums += [float(ce.detach()) * len(chosen), float(l1.detach()) * len(chosen), len(chosen)]
                seen += len(chosen)
            sums = np.asarray(group.sum(sums.tolist()))
            mean_ce, mean_l1 = sums[0] / max(sums[2], 1), sums[1] / max(sums[2], 1)
            score = evaluate(network, valid_set, hp, device, batch)
            if group.leader:
                speed = seen * group.world / max(time.time() - started, 1e-9)
                log(f"Epoch[{epoch}] Train-speed={speed:.1f} samples/sec")
                quality(host, epoch, "train", "cross_entropy", "loss", mean_ce)
                quality(host, epoch, "train", "smooth_l1", "loss", mean_l1)
                quality(host, epoch, "validation", "mAP", "score", score)
            if stopper.improved(score) or best_map < 0:
                best_map, best_state = score, copy.deepcopy(network.state_dict())
            if stopper.stop(epoch):
                log(f"Early stopping after epoch {epoch}: mAP has not improved for {stopper.stale} epochs")
                break
        network.load_state_dict(best_state)
        if group.leader:
            network.to("cpu")
            save_model(env.model_dir, network, hp)
            log(f"Best validation mAP: {best_map!r}")
    finally:
        group.close()


def _flipped(objects: np.ndarray) -> np.ndarray:
    out = objects.copy()
    out[:, 1], out[:, 3] = 1.0 - objects[:, 3], 1.0 - objects[:, 1]
    return out
