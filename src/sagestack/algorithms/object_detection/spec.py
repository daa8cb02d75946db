"""Object Detection's hyperparameters, channels and metrics as SageMaker declares them (§2.16).

Deviations, documented in docs/vision-dense.md: ``image_shape`` accepts sizes from 32 (SageMaker asks
for at least 300; small inputs make quick CPU runs possible) and ``base_network`` also accepts
``resnet-18`` (a smaller ResNet base of the same SSD). ``use_pretrained_model=1`` (the default) fails
the job: ImageNet weights cannot be downloaded here.
"""

from __future__ import annotations

import re
from typing import Any

from sagestack.algorithms.base import (
    AlgorithmClientError,
    AlgorithmSpec,
    ChannelSpec,
    Hyperparameter,
    validate_hyperparameters,
)
from sagestack.algorithms.common import NUMBER_REGEX
from sagestack.formats import content_types as ct

H = Hyperparameter
PNG, JPEG = "image/png", "image/jpeg"
IMAGE_TYPES: tuple[str, ...] = (ct.IMAGE, PNG, JPEG)
BASE_NETWORKS: tuple[str, ...] = ("vgg-16", "resnet-50", "resnet-18")


def _epoch_list(value: str) -> str | None:
    if not str(value).strip():
        return None
    try:
        steps = [int(part) for part in str(value).split(",")]
    except ValueError:
        return f"value {value!r} must be comma-separated epoch numbers, e.g. '10,20'"
    if any(s <= 0 for s in steps) or steps != sorted(steps):
        return f"value {value!r} must be increasing positive epoch numbers"
    return None


def _regex(value: str) -> str | None:
    try:
        re.compile(value)
    except re.error as exc:
        return f"value {value!r} is not a valid regular expression ({exc})"
    return None


HYPERPARAMETERS: tuple[Hyperparameter, ...] = (
    H("num_classes", "int", required=True, low=1),
    H("num_training_samples", "int", required=True, low=1),
    H("base_network", "str", default="vgg-16", choices=BASE_NETWORKS),
    H("early_stopping", "bool", default=False),
    H("early_stopping_min_epochs", "int", default=10, low=1),
    H("early_stopping_patience", "int", default=5, low=1),
    H("early_stopping_tolerance", "float", default=0.0, low=0, high=1),
    H("epochs", "int", default=30, low=1),
    H("freeze_layer_pattern", "str", default="", check=_regex),
    H("image_shape", "int", default=300, low=32, description="square input size; SageMaker: >= 300"),
    H("kv_store", "str", default=None, choices=("dist_sync", "dist_async")),
    H("label_width", "int", default=350, low=1),
    H("learning_rate", "float", default=0.001, low=0, high=1, low_open=True),
    H("lr_scheduler_factor", "float", default=0.1, low=0, high=1, low_open=True, high_open=True),
    H("lr_scheduler_step", "str", default="", check=_epoch_list),
    H("mini_batch_size", "int", default=32, low=1),
    H("momentum", "float", default=0.9, low=0, high=1, low_open=True),
    H("nms_threshold", "float", default=0.45, low=0, high=1, low_open=True),
    H("optimizer", "str", default="sgd", choices=("sgd", "adam", "rmsprop", "adadelta")),
    H("overlap_threshold", "float", default=0.5, low=0, high=1, low_open=True),
    H("use_pretrained_model", "int", default=1, choices=(0, 1)),
    H("weight_decay", "float", default=0.0005, low=0, high=1, low_open=True, high_open=True),
)


def _quality(split: str, name: str, what: str) -> dict[str, str]:
    regex = r"#quality_metric: host=\S+, epoch=\d+, " + split + " " + name + " <" + what + r">=\("
    return {"Name": f"{split}:{name}", "Regex": regex + NUMBER_REGEX + r"\)"}


METRIC_DEFINITIONS: tuple[dict, ...] = (
    _quality("validation", "mAP", "score"),
    _quality("train", "cross_entropy", "loss"),
    _quality("train", "smooth_l1", "loss"),
)

#: RecordIO (.rec) or images (+ annotation JSON); augmented manifests arrive as application/x-recordio.
DATA_TYPES: tuple[str, ...] = (ct.RECORDIO, *IMAGE_TYPES)
MODES: tuple[str, ...] = ("File", "FastFile", "Pipe")

SPEC = AlgorithmSpec(
    name="object-detection",
    image_repositories=("object-detection",),
    hyperparameters=HYPERPARAMETERS,
    channels=(
        ChannelSpec(
            "train",
            required=True,
            content_types=DATA_TYPES,
            default_content_type=ct.RECORDIO,
            input_modes=MODES,
            distributions=("FullyReplicated", "ShardedByS3Key"),
        ),
        ChannelSpec(
            "validation",
            required=True,
            content_types=DATA_TYPES,
            default_content_type=ct.RECORDIO,
            input_modes=MODES,
        ),
        ChannelSpec(
            "train_annotation",
            content_types=(ct.JSON, *IMAGE_TYPES),
            default_content_type=ct.JSON,
            input_modes=("File", "FastFile"),
        ),
        ChannelSpec(
            "validation_annotation",
            content_types=(ct.JSON, *IMAGE_TYPES),
            default_content_type=ct.JSON,
            input_modes=("File", "FastFile"),
        ),
        ChannelSpec(
            "train_lst",
            content_types=(ct.IMAGE, ct.TEXT, *IMAGE_TYPES),
            default_content_type=ct.IMAGE,
            input_modes=("File", "FastFile"),
        ),
        ChannelSpec(
            "validation_lst",
            content_types=(ct.IMAGE, ct.TEXT, *IMAGE_TYPES),
            default_content_type=ct.IMAGE,
            input_modes=("File", "FastFile"),
        ),
        ChannelSpec(
            "model",
            content_types=("application/x-sagemaker-model",),
            default_content_type="application/x-sagemaker-model",
            input_modes=("File",),
        ),
    ),
    metric_definitions=METRIC_DEFINITIONS,
    request_content_types=IMAGE_TYPES,
    response_accept_types=(ct.JSON, ct.JSONLINES),
    supports_distributed_training=True,
    supports_incremental_training=True,
)


def lr_steps(value: str) -> list[int]:
    return [int(part) for part in value.split(",")] if value.strip() else []


def parse_hyperparameters(raw: dict[str, Any]) -> dict[str, Any]:
    hps = validate_hyperparameters(HYPERPARAMETERS, raw, "object-detection")
    if hps["use_pretrained_model"] == 1:
        raise AlgorithmClientError(
            "Hyperparameter use_pretrained_model=1 needs ImageNet-pretrained weights, which cannot be "
            "downloaded here; set use_pretrained_model=0 to train the base network from scratch"
        )
    steps = lr_steps(hps["lr_scheduler_step"])
    if steps and steps[-1] >= hps["epochs"]:
        raise AlgorithmClientError(
            f"Hyperparameter lr_scheduler_step: epoch {steps[-1]} is not before epochs ({hps['epochs']})"
        )
    if hps["label_width"] < 7:
        raise AlgorithmClientError(
            "Hyperparameter label_width must leave room for the header and one object (at least 7)"
        )
    return {k: v for k, v in hps.items() if not k.startswith("_") and not k.startswith("sagemaker_")}
