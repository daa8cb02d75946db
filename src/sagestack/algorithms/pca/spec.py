"""PCA's hyperparameters, channels and metrics as SageMaker declares them (algorithms.md §2.4)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sagestack.algorithms.base import (
    AlgorithmClientError,
    AlgorithmSpec,
    Hyperparameter,
    validate_hyperparameters,
)
from sagestack.algorithms.common import (
    FEATURE_DIM,
    RECORDIO_AND_CSV,
    REQUEST_TYPES,
    RESPONSE_TYPES,
    epochs,
    mini_batch_size,
    train_and_test,
)


def _extra_components_check(value: int) -> str | None:
    if value < -1:
        return f"value {value!r} must be an integer greater than or equal to 0, or -1"
    return None


HYPERPARAMETERS: tuple[Hyperparameter, ...] = (
    FEATURE_DIM,
    mini_batch_size(None),
    Hyperparameter("num_components", "int", required=True, low=1),
    Hyperparameter("algorithm_mode", "str", default="regular", choices=("regular", "randomized")),
    Hyperparameter("extra_components", "int", default=-1, check=_extra_components_check),
    Hyperparameter("subtract_mean", "bool", default=True),
    Hyperparameter("force_dense", "bool", default=True),
    epochs(1),
)

SPEC = AlgorithmSpec(
    name="pca",
    image_repositories=("pca",),
    hyperparameters=HYPERPARAMETERS,
    channels=train_and_test(RECORDIO_AND_CSV),
    metric_definitions=(),  # SageMaker's PCA documents no metrics
    request_content_types=REQUEST_TYPES,
    response_accept_types=RESPONSE_TYPES,  # no CSV response is documented (§2.4)
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
