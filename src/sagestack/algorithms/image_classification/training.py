"""``train(env)`` for Image Classification: a ResNet of ``num_layers`` trained from scratch (or from the
``model`` channel's weights) on the train channel, scored on the validation channel every epoch.

* Inputs (:mod:`sagestack.algorithms.vision.inputs`): ``.rec`` files, image files with ``.lst`` files,
  or augmented manifests; images are decoded once (``resize`` applied) and cropped / mirrored / colour-
  jittered per ``augmentation_type`` every epoch.
* Optimisation: ``optimizer`` with ``learning_rate`` × ``lr_scheduler_factor`` at each
  ``lr_scheduler_step`` epoch; cross-entropy (binary per class with ``multi_label``; class weights with
  ``use_weighted_loss``); ``precision_dtype=float16`` runs the forward pass under autocast (float16 on a
  GPU, bfloat16 on the CPU).
* Metrics: ``Epoch[e] Train-accuracy=…`` and ``Epoch[e] Validation-accuracy=…`` (``train:accuracy``,
  ``validation:accuracy``); with ``top_k`` also ``…-top_k_accuracy_<k>=…``. Before each validation the
  batch-norm statistics are re-estimated on training images under the epoch's final weights.
* The kept model is the epoch with the best validation accuracy; ``checkpoint_frequency`` also writes the
  weights of every N-th epoch; ``early_stopping`` ends training once ``early_stopping_patience`` epochs
  (after ``early_stopping_min_epochs``) did not improve the best accuracy by the relative
  ``early_stopping_tolerance``.
* Several hosts: data parallel (:mod:`sagestack.algorithms.distributed`): each host trains on its share
  (``ShardedByS3Key`` channels are shares already) with ``mini_batch_size`` images per step, gradients
  averaged; ``algo-1`` validates, logs and writes the model.
* Device: CUDA when the instance type has GPUs and torch sees one (:func:`choose_device`), else the CPU.
"""

from __future__ import annotations

import copy
import math
import tarfile
import tempfile
import time
from contextlib import nullcontext
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np

from sagestack.algorithms.base import AlgorithmClientError, TrainingEnv, reader_content_type
from sagestack.algorithms.common import configure, log
from sagestack.algorithms.distributed import Group, join
from sagestack.algorithms.image_classification.model import (
    ALGORITHM,
    ICModel,
    build_network,
    save_checkpoint,
    save_model,
    to_channels,
)
from sagestack.algorithms.image_classification.spec import SPEC, ICParams, parse_hyperparameters
from sagestack.algorithms.neural import load_state, make_optimizer
from sagestack.algorithms.vision.inputs import IMAGE_TYPES, channel_records
from sagestack.algorithms.vision.training import (
    ImageSet,
    choose_device,
    recalibrate_batchnorm,
    set_learning_rate,
    step_factor,
)
from sagestack.formats import content_types as ct

SEED = 17
#: Images re-estimating the batch-norm statistics before each validation.
RECALIBRATION_IMAGES = 512


def torch_threads(num_cpus: int) -> int:
    """Intra-op threads: half the instance's CPUs (at least one, at most 8) — convolutions gain from
    threads, but a fully subscribed host (other jobs, the server) loses more to contention."""
    return max(1, min(8, int(num_cpus or 1) // 2))


def train(env: TrainingEnv) -> None:
    import torch

    params = configure(SPEC, env, parse_hyperparameters, lambda p: _describe(p))
    _check_resize(env, params)
    torch.manual_seed(SEED)
    torch.set_num_threads(torch_threads(env.num_cpus))
    device = choose_device(env.num_gpus)
    group = join(env)
    try:
        _train(env, params, device, group)
    finally:
        group.close()


def _describe(params: ICParams) -> dict[str, Any]:
    values = dict(vars(params))
    values["image_shape"] = ",".join(str(v) for v in params.image_shape)
    values["lr_scheduler_step"] = ",".join(str(v) for v in params.lr_scheduler_step)
    return values


def _check_resize(env: TrainingEnv, params: ICParams) -> None:
    for name in ("train", "validation"):
        channel = env.channels.get(name)
        if channel is None or params.resize is not None:
            continue
        if ct.normalize(reader_content_type(SPEC, channel)) in IMAGE_TYPES:
            raise AlgorithmClientError(
                f"Hyperparameter resize is required when the {name} channel holds image files "
                f"({channel.content_type}); set resize to the shorter side, in pixels, images are scaled to"
            )


def read_images(env: TrainingEnv, name: str, params: ICParams) -> tuple[ImageSet, np.ndarray]:
    """A channel's decoded images and their targets (class ids, or multi-hot rows with multi_label)."""
    channel = env.channels[name]
    content_type = reader_content_type(SPEC, channel)
    lst = env.channels.get(f"{name}_lst")
    _, height, width = params.image_shape
    started = time.time()
    images = ImageSet.load(
        channel_records(channel, lst, content_type=content_type), height, width, params.resize
    )
    if not len(images):
        raise AlgorithmClientError(f"Channel {name!r} holds no images")
    label_format = ct.parameters(channel.content_type).get("label-format", "multi-hot")
    targets = targets_of(images, params, name, label_format)
    log(f"Channel {name!r}: {len(images)} images decoded in {time.time() - started:.2f}s")
    return images, targets


def targets_of(images: ImageSet, params: ICParams, name: str, label_format: str = "multi-hot") -> np.ndarray:
    classes = params.num_classes
    if params.multi_label:
        rows = np.zeros((len(images), classes), dtype=np.float32)
        for index, labels in enumerate(images.labels):
            where = f"Channel {name!r}, image {images.keys[index]}"
            if label_format == "class-id":
                for value in labels:
                    if not float(value).is_integer() or not 0 <= value < classes:
                        raise AlgorithmClientError(f"{where}: class id {value:g} is outside 0..{classes - 1}")
                    rows[index, int(value)] = 1.0
            else:
                if len(labels) != classes:
                    raise AlgorithmClientError(
                        f"{where}: a multi-hot label needs num_classes ({classes}) values, got {len(labels)} "
                        f"(use the content type parameter label-format=class-id for lists of class ids)"
                    )
                rows[index] = labels
        return rows
    out = np.zeros(len(images), dtype=np.int64)
    for index, labels in enumerate(images.labels):
        where = f"Channel {name!r}, image {images.keys[index]}"
        if not labels:
            raise AlgorithmClientError(f"{where} has no class label")
        value = labels[0]
        if not float(value).is_integer() or not 0 <= value < classes:
            raise AlgorithmClientError(
                f"{where}: label {value:g} is not a class id in 0..{classes - 1} (num_classes={classes})"
            )
        out[index] = int(value)
    return out


def _initial_weights(env: TrainingEnv, params: ICParams, network: Any) -> None:
    """Incremental training: the ``model`` channel's ``model.tar.gz`` (same depth, shape and classes)."""
    channel = env.channels.get("model")
    if channel is None:
        return
    archives = sorted(p for p in channel.path.rglob("*") if p.is_file() and p.name.endswith(".tar.gz"))
    if not archives:
        raise AlgorithmClientError("The model channel holds no model.tar.gz of an image-classification model")
    with tempfile.TemporaryDirectory() as folder:
        try:
            with tarfile.open(archives[0]) as tar:
                tar.extractall(folder, filter="data")
        except (tarfile.TarError, OSError) as exc:
            raise AlgorithmClientError(
                f"The model channel's {archives[0].name} is not a tar.gz: {exc}"
            ) from None
        try:
            meta, state = load_state(Path(folder), ALGORITHM)
        except Exception as exc:
            raise AlgorithmClientError(
                f"The model channel's archive is not an image-classification model: {exc}"
            ) from None
    for key, mine in (
        ("num_layers", params.num_layers),
        ("num_classes", params.num_classes),
        ("image_shape", list(params.image_shape)),
    ):
        if meta.get(key) != mine:
            raise AlgorithmClientError(
                f"The model channel's model has {key}={meta.get(key)}, but the job sets {key}={mine}; they must match"
            )
    network.load_state_dict(state)
    log(f"Initialised from the model channel's {archives[0].name}")


def _loss_function(params: ICParams, targets: np.ndarray, device: Any) -> Any:
    import torch

    if params.multi_label:
        pos_weight = None
        if params.use_weighted_loss:
            positives = targets.sum(axis=0)
            pos_weight = torch.tensor(
                (len(targets) - positives) / np.maximum(positives, 1), dtype=torch.float32
            )
            pos_weight = pos_weight.to(device)
        return torch.nn.BCEWithLogitsLoss(pos_weight=pos_weight)
    weight = None
    if params.use_weighted_loss:
        counts = np.bincount(targets, minlength=params.num_classes).astype(np.float64)
        weights = np.where(counts > 0, len(targets) / (params.num_classes * np.maximum(counts, 1)), 0.0)
        weight = torch.tensor(weights, dtype=torch.float32).to(device)
    return torch.nn.CrossEntropyLoss(weight=weight)


def _autocast(params: ICParams, device: Any) -> Any:
    import torch

    if params.precision_dtype != "float16":
        return nullcontext()
    dtype = torch.float16 if device.type == "cuda" else torch.bfloat16
    return torch.autocast(device_type=device.type, dtype=dtype)


def _hits(logits: Any, target: Any, params: ICParams) -> tuple[float, float, float]:
    """(correct, counted, top-k correct) of a batch."""
    import torch

    if params.multi_label:
        predicted = (logits > 0).float()
        return float((predicted == target).sum()), float(target.numel()), 0.0
    correct = float((logits.argmax(1) == target).sum())
    top = 0.0
    if params.top_k:
        k = min(params.top_k, logits.shape[1])
        top = float((torch.topk(logits, k, dim=1).indices == target[:, None]).any(1).sum())
    return correct, float(target.shape[0]), top


def evaluate(model: ICModel, images: ImageSet, targets: np.ndarray, params: ICParams) -> tuple[float, float]:
    """(accuracy, top-k accuracy) of the model on a decoded set (centre crops)."""
    import torch

    _, height, width = params.image_shape
    correct = counted = top = 0.0
    model.network.eval()
    with torch.no_grad():
        for batch, index in images.batches(max(params.mini_batch_size, 64), height, width):
            inputs = torch.from_numpy(batch).to(model.device)
            logits = model.network(to_channels(inputs, params.image_shape[0])).float()
            target = torch.from_numpy(targets[index]).to(model.device)
            c, n, t = _hits(logits, target, params)
            correct, counted, top = correct + c, counted + n, top + t
    return correct / max(counted, 1.0), top / max(len(images), 1)


def _train(env: TrainingEnv, params: ICParams, device: Any, group: Group) -> None:
    import torch

    train_set, train_targets = read_images(env, "train", params)
    if env.channels["train"].s3_distribution_type != "ShardedByS3Key" and group.world > 1:
        keep = list(range(group.rank, len(train_set), group.world))
        train_set = train_set.shard(group.rank, group.world)
        train_targets = train_targets[keep]
    valid_set, valid_targets = read_images(env, "validation", params) if group.leader else (None, None)
    if params.num_training_samples != len(train_set) * group.world and group.world == 1:
        log(
            f"num_training_samples is {params.num_training_samples}; the train channel holds {len(train_set)} images"
        )
    channels, height, width = params.image_shape
    network = build_network(params.num_layers, params.num_classes, channels)
    _initial_weights(env, params, network)
    network.to(device)
    group.broadcast(network)
    model = ICModel(
        network, params.num_layers, params.num_classes, params.image_shape, params.resize,
        bool(params.multi_label), device,
    )  # fmt: skip
    optimizer = make_optimizer(
        params.optimizer,
        network.parameters(),
        params.learning_rate,
        params.weight_decay,
        momentum=params.momentum,
        betas=(params.beta_1, params.beta_2),
        eps=params.eps,
        alpha=params.gamma,
    )
    loss_fn = _loss_function(params, train_targets, device)
    scaler = (
        torch.amp.GradScaler("cuda")
        if params.precision_dtype == "float16" and device.type == "cuda"
        else None
    )
    batch_size = params.mini_batch_size
    steps = math.ceil(len(train_set) / batch_size)
    if group.world > 1:
        steps = int(-group.max([-float(steps)])[0])  # every host takes the same number of steps
    where = f" on {env.current_host}, one of {group.world} hosts" if group.world > 1 else ""
    log(
        f"Training ResNet-{params.num_layers} ({params.num_classes} classes, {channels}x{height}x{width}) on "
        f"{len(train_set)} images{where}, device {device.type} ({torch.get_num_threads()} threads), {steps} steps "
        f"of {batch_size} per epoch"
    )
    rng = np.random.default_rng(SEED + group.rank)
    targets_all = torch.from_numpy(train_targets)
    best_accuracy, best_state, best_epoch, stale = -1.0, None, -1, 0
    started = time.time()
    for epoch in range(params.epochs):
        set_learning_rate(
            optimizer,
            params.learning_rate * step_factor(epoch, params.lr_scheduler_step, params.lr_scheduler_factor),
        )
        network.train()
        tic = time.time()
        correct = counted = top = 0.0
        total_loss = 0.0
        batches = islice(train_set.batches(batch_size, height, width, params.augmentation_type, rng), steps)
        for batch, index in batches:
            inputs = torch.from_numpy(batch).to(device, non_blocking=True)
            target = targets_all[index].to(device, non_blocking=True)
            with _autocast(params, device):
                logits = network(to_channels(inputs, channels))
            logits = logits.float()
            loss = loss_fn(logits, target)
            optimizer.zero_grad(set_to_none=True)
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.unscale_(optimizer)
            else:
                loss.backward()
            group.average_gradients(network.parameters())
            if scaler is not None:
                scaler.step(optimizer)
                scaler.update()
            else:
                optimizer.step()
            c, n, t = _hits(logits.detach(), target, params)
            correct, counted, top = correct + c, counted + n, top + t
            total_loss += float(loss.detach()) * len(index)
        correct, counted, top, total_loss = group.sum([correct, counted, top, total_loss])
        if not math.isfinite(total_loss):
            raise AlgorithmClientError("Training diverged (the loss is not finite); lower learning_rate")
        elapsed = time.time() - tic
        stop = 0.0
        if group.leader:
            log(f"Epoch[{epoch}] Train-accuracy={correct / max(counted, 1.0):.6f}")
            if params.top_k:
                log(f"Epoch[{epoch}] Train-top_k_accuracy_{params.top_k}={top / max(counted, 1.0):.6f}")
            log(f"Epoch[{epoch}] Time cost={elapsed:.3f}")
            recalibrate_batchnorm(
                network,
                (
                    torch.from_numpy(b).to(device)
                    for b, _ in islice(
                        train_set.batches(batch_size, height, width), _calibration_batches(batch_size)
                    )
                ),
            )
            accuracy, top_accuracy = evaluate(model, valid_set, valid_targets, params)
            log(f"Epoch[{epoch}] Validation-accuracy={accuracy:.6f}")
            if params.top_k:
                log(f"Epoch[{epoch}] Validation-top_k_accuracy_{params.top_k}={top_accuracy:.6f}")
            improved = best_accuracy < 0 or accuracy > best_accuracy * (1.0 + params.early_stopping_tolerance)
            if accuracy > best_accuracy:
                best_accuracy, best_state, best_epoch = accuracy, copy.deepcopy(network.state_dict()), epoch
                log(f"Storing the best model with validation accuracy: {accuracy:.6f}")
            stale = 0 if improved else stale + 1
            if params.checkpoint_frequency and (epoch + 1) % params.checkpoint_frequency == 0:
                save_checkpoint(env.model_dir, epoch + 1, network.state_dict())
                log(f"Saved checkpoint to {env.model_dir}/{ALGORITHM}-{epoch + 1:04d}.params")
            if (
                params.early_stopping
                and epoch + 1 >= params.early_stopping_min_epochs
                and stale >= params.early_stopping_patience
            ):
                log(f"Early stopping after epoch {epoch}: no improvement for {stale} epochs")
                stop = 1.0
        if group.max([stop])[0] > 0:
            break
    if not group.leader:
        return
    log(
        f"Training took {time.time() - started:.3f}s; keeping epoch {best_epoch} "
        f"(validation accuracy {best_accuracy:.6f})"
    )
    network.to("cpu")
    save_model(env.model_dir, model, {k: v.cpu() for k, v in best_state.items()} if best_state else None)


def _calibration_batches(batch_size: int) -> int:
    return max(1, math.ceil(RECALIBRATION_IMAGES / batch_size))
