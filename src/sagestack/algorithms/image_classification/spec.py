"""Image Classification's hyperparameters, channels and metrics as SageMaker declares them (§2.15).

Beyond the per-value checks: ``image_shape`` is ``channels,height,width`` (3 or 1 channels);
``checkpoint_frequency`` may not exceed ``epochs``; ``lr_scheduler_step`` is a comma-separated list of
epochs; ``use_pretrained_model=1`` fails the job (no ImageNet weights can be downloaded here); ``resize``
is required when the training data are image files (checked once the channels are known).
"""

from __future__ import annotations

from dataclasses import dataclass

from sagestack.algorithms.base import (
    AlgorithmClientError,
    AlgorithmSpec,
    ChannelSpec,
    Hyperparameter,
    validate_hyperparameters,
)
from sagestack.algorithms.common import FILE_MODES, NUMBER_REGEX, params_of
from sagestack.algorithms.vision.augment import AUGMENTATIONS
from sagestack.algorithms.vision.backbones import NUM_LAYERS
from sagestack.algorithms.vision.inputs import IMAGE_TYPES
from sagestack.algorithms.vision.training import OPTIMIZERS, parse_steps
from sagestack.formats import content_types as ct

MODEL_CONTENT_TYPE = "application/x-sagemaker-model"


def _image_shape(value: str) -> str | None:
    parts = [p.strip() for p in str(value).split(",")]
    if len(parts) != 3 or not all(p.isdigit() and int(p) > 0 for p in parts):
        return f"value {value!r} must be 'channels,height,width' (three positive integers, e.g. 3,224,224)"
    if int(parts[0]) not in (1, 3):
        return f"value {value!r}: the number of channels must be 3 (RGB) or 1 (grayscale)"
    return None


def _steps(value: str) -> str | None:
    try:
        parse_steps(value)
    except AlgorithmClientError:
        return f"value {value!r} must be a comma-separated list of positive epochs, e.g. '10, 20'"
    return None


H = Hyperparameter
UNIT = {"low": 0.0, "high": 1.0}
HYPERPARAMETERS: tuple[Hyperparameter, ...] = (
    H("num_classes", "int", required=True, low=1, description="number of output classes"),
    H("num_training_samples", "int", required=True, low=1, description="number of training examples"),
    H("augmentation_type", "str", choices=AUGMENTATIONS),
    H("beta_1", "float", default=0.9, **UNIT),
    H("beta_2", "float", default=0.999, **UNIT),
    H("checkpoint_frequency", "int", low=1, description="save the model every N epochs"),
    H("early_stopping", "bool", default=False),
    H("early_stopping_min_epochs", "int", default=10, low=1),
    H("early_stopping_patience", "int", default=5, low=1),
    H("early_stopping_tolerance", "float", default=0.0, **UNIT),
    H("epochs", "int", default=30, low=1),
    H("eps", "float", default=1e-8, **UNIT),
    H("gamma", "float", default=0.9, **UNIT),
    H("image_shape", "str", default="3,224,224", check=_image_shape),
    H("kv_store", "str", choices=("dist_sync", "dist_async")),
    H("learning_rate", "float", default=0.1, **UNIT),
    H("lr_scheduler_factor", "float", default=0.1, **UNIT),
    H("lr_scheduler_step", "str", check=_steps),
    H("mini_batch_size", "int", default=32, low=1),
    H("momentum", "float", default=0.9, **UNIT),
    H("multi_label", "int", default=0, choices=(0, 1)),
    H("num_layers", "int", default=152, choices=NUM_LAYERS),
    H("optimizer", "str", default="sgd", choices=OPTIMIZERS),
    H("precision_dtype", "str", default="float32", choices=("float32", "float16")),
    H("resize", "int", low=1),
    H("top_k", "int", low=2),
    H("use_pretrained_model", "int", default=0, choices=(0, 1)),
    H("use_weighted_loss", "int", default=0, choices=(0, 1)),
    H("weight_decay", "float", default=0.0001, **UNIT),
)

METRIC_DEFINITIONS: tuple[dict, ...] = (
    {"Name": "train:accuracy", "Regex": r"Epoch\[\d+\] Train-accuracy=" + NUMBER_REGEX},
    {"Name": "validation:accuracy", "Regex": r"Epoch\[\d+\] Validation-accuracy=" + NUMBER_REGEX},
)

DATA_TYPES: tuple[str, ...] = (ct.RECORDIO, *IMAGE_TYPES)
LST_TYPES: tuple[str, ...] = (*IMAGE_TYPES, ct.TEXT)

SPEC = AlgorithmSpec(
    name="image-classification",
    image_repositories=("image-classification",),
    hyperparameters=HYPERPARAMETERS,
    channels=(
        ChannelSpec(
            "train",
            required=True,
            content_types=DATA_TYPES,
            default_content_type=ct.RECORDIO,
            distributions=("FullyReplicated", "ShardedByS3Key"),
        ),
        ChannelSpec("validation", required=True, content_types=DATA_TYPES, default_content_type=ct.RECORDIO),
        ChannelSpec(
            "train_lst", content_types=LST_TYPES, default_content_type=ct.IMAGE, input_modes=FILE_MODES
        ),
        ChannelSpec(
            "validation_lst", content_types=LST_TYPES, default_content_type=ct.IMAGE, input_modes=FILE_MODES
        ),
        ChannelSpec(
            "model",
            content_types=(MODEL_CONTENT_TYPE,),
            default_content_type=MODEL_CONTENT_TYPE,
            input_modes=FILE_MODES,
        ),
    ),
    metric_definitions=METRIC_DEFINITIONS,
    request_content_types=IMAGE_TYPES,
    response_accept_types=(ct.JSON, ct.JSONLINES),
    supports_distributed_training=True,
    supports_incremental_training=True,
)


@dataclass(frozen=True)
class ICParams:
    num_classes: int
    num_training_samples: int
    augmentation_type: str | None
    beta_1: float
    beta_2: float
    checkpoint_frequency: int | None
    early_stopping: bool
    early_stopping_min_epochs: int
    early_stopping_patience: int
    early_stopping_tolerance: float
    epochs: int
    eps: float
    gamma: float
    image_shape: tuple[int, int, int]
    kv_store: str | None
    learning_rate: float
    lr_scheduler_factor: float
    lr_scheduler_step: tuple[int, ...]
    mini_batch_size: int
    momentum: float
    multi_label: int
    num_layers: int
    optimizer: str
    precision_dtype: str
    resize: int | None
    top_k: int | None
    use_pretrained_model: int
    use_weighted_loss: int
    weight_decay: float


def parse_hyperparameters(raw: dict) -> ICParams:
    hps = validate_hyperparameters(HYPERPARAMETERS, raw, "image-classification")
    if hps["checkpoint_frequency"] is not None and hps["checkpoint_frequency"] > hps["epochs"]:
        raise AlgorithmClientError(
            f"Hyperparameter checkpoint_frequency: value {hps['checkpoint_frequency']} must not exceed "
            f"epochs ({hps['epochs']})"
        )
    if hps["use_pretrained_model"] == 1:
        raise AlgorithmClientError(
            "Hyperparameter use_pretrained_model: value 1 needs pretrained ImageNet weights, which cannot be "
            "downloaded here; train from scratch (use_pretrained_model=0) or fine-tune a model of your own "
            "through the 'model' channel"
        )
    if hps["top_k"] is not None and hps["top_k"] > hps["num_classes"]:
        raise AlgorithmClientError(
            f"Hyperparameter top_k: value {hps['top_k']} must not exceed num_classes ({hps['num_classes']})"
        )
    shape = tuple(int(p) for p in hps["image_shape"].split(","))
    return params_of(
        ICParams,
        hps,
        image_shape=shape,
        lr_scheduler_step=tuple(parse_steps(hps["lr_scheduler_step"])),
    )
