"""PCA's hyperparameters, channels and metrics as SageMaker declares them (algorithms.md §2.4)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sagestack.algorithms.base import (
    AlgorithmClientError,
    AlgorithmSpec,
    ChannelSpec,
    Hyperparameter,
    validate_hyperparameters,
)


def _extra_components_check(value: int) -> str | None:
    if value < -1:
        return f"value {value!r} must be an integer greater than or equal to 0, or -1"
    return None


HYPERPARAMETERS: tuple[Hyperparameter, ...] = (
    Hyperparameter("feature_dim", "int", required=True, low=1),
    Hyperparameter("mini_batch_size", "int", required=True, low=1),
    Hyperparameter("num_components", "int", required=True, low=1),
    Hyperparameter("algorithm_mode", "str", default="regular", choices=("regular", "randomized")),
    Hyperparameter("extra_components", "int", default=-1, check=_extra_components_check),
    Hyperparameter("subtract_mean", "bool", default=True),
    Hyperparameter("force_dense", "bool", default=True),
    Hyperparameter("epochs", "int", default=1, low=1),
)

_CONTENT_TYPES = ("application/x-recordio-protobuf", "text/csv")

SPEC = AlgorithmSpec(
    name="pca",
    image_repositories=("pca",),
    hyperparameters=HYPERPARAMETERS,
    channels=(
        ChannelSpec("train", required=True, content_types=_CONTENT_TYPES),
        ChannelSpec("test", content_types=_CONTENT_TYPES),
    ),
    metric_definitions=(),  # SageMaker's PCA documents no metrics
    request_content_types=(
        "text/csv",
        "application/json",
        "application/jsonlines",
        "application/x-recordio-protobuf",
    ),
    response_accept_types=(
        "application/json",
        "application/jsonlines",
        "application/x-recordio-protobuf",
        "text/csv",
    ),
    supports_distributed_training=True,
)


@dataclass(frozen=True)
class PCAParams:
    feature_dim: int
    mini_batch_size: int
    num_components: int
    algorithm_mode: str
    extra_components: int  # resolved: -1 became max(10, num_components)
    subtract_mean: bool
    force_dense: bool
    epochs: int


def parse_hyperparameters(raw: dict[str, Any]) -> PCAParams:
    """Typed, defaulted and cross-checked hyperparameters (AlgorithmClientError naming the value)."""
    hps = validate_hyperparameters(HYPERPARAMETERS, raw, "pca")
    if hps["num_components"] > hps["feature_dim"]:
        raise AlgorithmClientError(
            f"Hyperparameter num_components: value {hps['num_components']} must not exceed "
            f"feature_dim ({hps['feature_dim']})"
        )
    extra = hps["extra_components"]
    if extra == -1:
        extra = max(10, hps["num_components"])
    return PCAParams(
        feature_dim=hps["feature_dim"],
        mini_batch_size=hps["mini_batch_size"],
        num_components=hps["num_components"],
        algorithm_mode=hps["algorithm_mode"],
        extra_components=extra,
        subtract_mean=hps["subtract_mean"],
        force_dense=hps["force_dense"],
        epochs=hps["epochs"],
    )
