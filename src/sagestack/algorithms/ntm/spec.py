"""NTM's hyperparameters, channels and metrics as SageMaker declares them (algorithms.md §2.9)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sagestack.algorithms.base import (
    AlgorithmClientError,
    AlgorithmSpec,
    ChannelSpec,
    Hyperparameter,
    validate_hyperparameters,
)
from sagestack.algorithms.common import NUMBER_REGEX, RECORDIO_AND_CSV, REQUEST_TYPES, RESPONSE_TYPES
from sagestack.algorithms.neural import OPTIMIZERS
from sagestack.formats import content_types as ct

ACTIVATIONS: tuple[str, ...] = ("sigmoid", "tanh", "relu")


def parse_layers(value: Any) -> list[int] | None:
    """``auto`` → None; ``"[100, 50]"`` or ``"100,50"`` → ``[100, 50]``; anything else raises ValueError."""
    text = str(value).strip()
    if text.lower() == "auto":
        return None
    items = json.loads(text) if text.startswith("[") else [p for p in text.split(",") if p.strip()]
    if not isinstance(items, list) or not items:
        raise ValueError(text)
    layers = []
    for item in items:
        number = float(item)
        if not number.is_integer() or number < 1:
            raise ValueError(text)
        layers.append(int(number))
    return layers


def _layers_check(value: Any) -> str | None:
    try:
        parse_layers(value)
    except (ValueError, TypeError, json.JSONDecodeError):
        return f"value {value!r} must be 'auto' or a comma-separated list of positive integers"
    return None


HYPERPARAMETERS: tuple[Hyperparameter, ...] = (
    Hyperparameter("feature_dim", "int", required=True, low=1, high=1_000_000),
    Hyperparameter("num_topics", "int", required=True, low=2, high=1000),
    Hyperparameter("batch_norm", "bool", default=False),
    Hyperparameter("clip_gradient", "float", default=float("inf"), low=1e-3),
    Hyperparameter("encoder_layers", "str", default="auto", check=_layers_check),
    Hyperparameter("encoder_layers_activation", "str", default="sigmoid", choices=ACTIVATIONS),
    Hyperparameter("epochs", "int", default=50, low=1),
    Hyperparameter("learning_rate", "float", default=0.001, low=1e-6, high=1.0),
    Hyperparameter("mini_batch_size", "int", default=256, low=1, high=10000),
    Hyperparameter("num_patience_epochs", "int", default=3, low=1),
    Hyperparameter("optimizer", "str", default="adadelta", choices=OPTIMIZERS),
    Hyperparameter("rescale_gradient", "float", default=1.0, low=1e-3, high=1.0),
    Hyperparameter("sub_sample", "float", default=1.0, low=0.0, high=1.0, low_open=True),
    Hyperparameter("tolerance", "float", default=0.001, low=1e-6, high=0.1),
    Hyperparameter("weight_decay", "float", default=0.0, low=0.0, high=1.0),
)

METRIC_DEFINITIONS: tuple[dict, ...] = (
    {
        "Name": "validation:total_loss",
        "Regex": r"#quality_metric: host=\S+, epoch=\d+, validation total_loss <loss>=" + NUMBER_REGEX,
    },
    {
        "Name": "train:total_loss",
        "Regex": r"#quality_metric: host=\S+, epoch=\d+, train total_loss <loss>=" + NUMBER_REGEX,
    },
    {
        "Name": "test:total_loss",
        "Regex": r"#quality_metric: host=\S+, test total_loss <loss>=" + NUMBER_REGEX,
    },
)

SPEC = AlgorithmSpec(
    name="ntm",
    image_repositories=("ntm",),
    hyperparameters=HYPERPARAMETERS,
    channels=(
        ChannelSpec("train", required=True, content_types=RECORDIO_AND_CSV),
        ChannelSpec("validation", content_types=RECORDIO_AND_CSV, distributions=("FullyReplicated",)),
        ChannelSpec("test", content_types=RECORDIO_AND_CSV, distributions=("FullyReplicated",)),
        ChannelSpec(
            "auxiliary",
            content_types=(ct.TEXT,),
            default_content_type=ct.TEXT,
            distributions=("FullyReplicated",),
        ),
    ),
    metric_definitions=METRIC_DEFINITIONS,
    request_content_types=REQUEST_TYPES,
    response_accept_types=RESPONSE_TYPES,
    supports_distributed_training=False,
)


@dataclass(frozen=True)
class NTMParams:
    feature_dim: int
    num_topics: int
    batch_norm: bool
    clip_gradient: float
    encoder_layers: tuple[int, ...]
    encoder_layers_activation: str
    epochs: int
    learning_rate: float
    mini_batch_size: int
    num_patience_epochs: int
    optimizer: str
    rescale_gradient: float
    sub_sample: float
    tolerance: float
    weight_decay: float


def parse_hyperparameters(raw: dict[str, Any]) -> NTMParams:
    hps = validate_hyperparameters(HYPERPARAMETERS, raw, "ntm")
    layers = parse_layers(hps["encoder_layers"])
    if layers is None:
        layers = [3 * hps["num_topics"], 2 * hps["num_topics"]]
    if hps["num_topics"] > hps["feature_dim"]:
        raise AlgorithmClientError(
            f"Hyperparameter num_topics: value {hps['num_topics']} must not exceed feature_dim "
            f"({hps['feature_dim']}), the vocabulary size"
        )
    values = {name: hps[name] for name in NTMParams.__dataclass_fields__ if name != "encoder_layers"}
    return NTMParams(encoder_layers=tuple(layers), **values)
