"""Semantic Segmentation's hyperparameters, channels and metrics as SageMaker declares them (§2.17).

Deviations, documented in docs/vision-dense.md: ``backbone`` also accepts ``resnet-18`` (a smaller
encoder for quick CPU runs); ``use_pretrained_model=True`` (the default) fails the job, as ImageNet
weights cannot be downloaded here.
"""

from __future__ import annotations

from typing import Any

from sagestack.algorithms.base import (
    AlgorithmClientError,
    AlgorithmSpec,
    ChannelSpec,
    Hyperparameter,
    validate_hyperparameters,
)
from sagestack.algorithms.common import NUMBER_REGEX
from sagestack.algorithms.object_detection.spec import IMAGE_TYPES, _epoch_list, lr_steps
from sagestack.formats import content_types as ct

H = Hyperparameter
BACKBONES: tuple[str, ...] = ("resnet-50", "resnet-101", "resnet-18")
PROTOBUF = "application/x-protobuf"

HYPERPARAMETERS: tuple[Hyperparameter, ...] = (
    H("num_classes", "int", required=True, low=2, high=254),
    H("num_training_samples", "int", required=True, low=1),
    H("backbone", "str", default="resnet-50", choices=BACKBONES),
    H("use_pretrained_model", "bool", default=True),
    H("algorithm", "str", default="fcn", choices=("fcn", "psp", "deeplab")),
    H("base_size", "int", default=520, low=16, low_open=True),
    H("crop_size", "int", default=240, low=16, low_open=True),
    H("early_stopping", "bool", default=False),
    H("early_stopping_min_epochs", "int", default=5, low=0),
    H("early_stopping_patience", "int", default=4, low=0),
    H("early_stopping_tolerance", "float", default=0.0, low=0, high=1),
    H("epochs", "int", default=10, low=1),
    H("gamma1", "float", default=0.9, low=0, high=1),
    H("gamma2", "float", default=0.9, low=0, high=1),
    H("learning_rate", "float", default=0.001, low=0, high=1, low_open=True),
    H("lr_scheduler", "str", default="poly", choices=("poly", "step", "cosine")),
    H("lr_scheduler_factor", "float", default=0.1, low=0, high=1),
    H("lr_scheduler_step", "str", default="", check=_epoch_list),
    H("mini_batch_size", "int", default=16, low=1),
    H("momentum", "float", default=0.9, low=0, high=1, low_open=True),
    H("optimizer", "str", default="sgd", choices=("adam", "adagrad", "nag", "rmsprop", "sgd")),
    H("syncbn", "bool", default=False),
    H("validation_mini_batch_size", "int", default=16, low=1),
    H("weight_decay", "float", default=0.0001, low=0, high=1, low_open=True, high_open=True),
)


def _quality(name: str) -> dict[str, str]:
    regex = r"#quality_metric: host=\S+, epoch=\d+, validation " + name + r" <score>=\("
    return {"Name": f"validation:{name}", "Regex": regex + NUMBER_REGEX + r"\)"}


METRIC_DEFINITIONS: tuple[dict, ...] = (
    _quality("mIOU"),
    _quality("pixel_accuracy"),
    {
        "Name": "train:loss",
        "Regex": r"#quality_metric: host=\S+, epoch=\d+, train loss <loss>=\(" + NUMBER_REGEX + r"\)",
    },
)

DATA_TYPES: tuple[str, ...] = (*IMAGE_TYPES, ct.RECORDIO)
MODES: tuple[str, ...] = ("File", "FastFile", "Pipe")


def _files(name: str, required: bool = False) -> ChannelSpec:
    return ChannelSpec(
        name, required=required, content_types=DATA_TYPES, default_content_type=ct.IMAGE, input_modes=MODES
    )


SPEC = AlgorithmSpec(
    name="semantic-segmentation",
    image_repositories=("semantic-segmentation",),
    hyperparameters=HYPERPARAMETERS,
    channels=(
        _files("train", True),
        _files("validation", True),
        _files("train_annotation"),
        _files("validation_annotation"),
        ChannelSpec(
            "label_map",
            content_types=(ct.JSON, ct.TEXT),
            default_content_type=ct.JSON,
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
    response_accept_types=("image/png", PROTOBUF, ct.RECORDIO_PROTOBUF),
    supports_distributed_training=True,
    supports_incremental_training=True,
)


def parse_hyperparameters(raw: dict[str, Any]) -> dict[str, Any]:
    hps = validate_hyperparameters(HYPERPARAMETERS, raw, "semantic-segmentation")
    if hps["use_pretrained_model"]:
        raise AlgorithmClientError(
            "Hyperparameter use_pretrained_model=True needs ImageNet-pretrained backbone weights, which "
            "cannot be downloaded here; set use_pretrained_model=False to train from scratch"
        )
    steps = lr_steps(hps["lr_scheduler_step"])
    if hps["lr_scheduler"] == "step" and not steps:
        raise AlgorithmClientError("Hyperparameter lr_scheduler_step is required when lr_scheduler=step")
    if steps and steps[-1] >= hps["epochs"]:
        raise AlgorithmClientError(
            f"Hyperparameter lr_scheduler_step: epoch {steps[-1]} is not before epochs ({hps['epochs']})"
        )
    hps["crop_size"] = -(-hps["crop_size"] // 8) * 8  # rounded up to a multiple of 8
    return {k: v for k, v in hps.items() if not k.startswith("_") and not k.startswith("sagemaker_")}
