"""K-Means' hyperparameters, channels and metrics as SageMaker declares them (algorithms.md §2.3)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sagestack.algorithms.base import AlgorithmSpec, Hyperparameter, validate_hyperparameters
from sagestack.algorithms.common import (
    FEATURE_DIM,
    RECORDIO_AND_CSV,
    REQUEST_TYPES,
    RESPONSE_TYPES,
    auto_number,
    auto_value,
    epochs,
    mini_batch_size,
    train_and_test,
)
from sagestack.formats import content_types as ct

EVAL_METRICS: tuple[str, ...] = ("msd", "ssd")


def _eval_metrics_check(value: list) -> str | None:
    if not value:
        return f"value {value!r} must list at least one of {', '.join(EVAL_METRICS)}"
    return None


HYPERPARAMETERS: tuple[Hyperparameter, ...] = (
    FEATURE_DIM,
    Hyperparameter("k", "int", required=True, low=1),
    epochs(1),
    Hyperparameter("eval_metrics", "list", default=["msd"], choices=EVAL_METRICS, check=_eval_metrics_check),
    auto_number("extra_center_factor", int, low=1),
    Hyperparameter("half_life_time_size", "int", default=0, low=0),
    Hyperparameter("init_method", "str", default="random", choices=("random", "kmeans++")),
    Hyperparameter("local_lloyd_init_method", "str", default="kmeans++", choices=("random", "kmeans++")),
    Hyperparameter("local_lloyd_max_iter", "int", default=300, low=1),
    auto_number("local_lloyd_num_trials", int, low=1),
    Hyperparameter("local_lloyd_tol", "float", default=0.0001, low=0.0, high=1.0),
    mini_batch_size(5000),
    Hyperparameter("force_dense", "bool", default=True),
)

# The regexes SageMaker's k-means publishes for its tuning metrics.
METRIC_DEFINITIONS: tuple[dict, ...] = (
    {"Name": "test:msd", "Regex": r"#quality_metric: host=\S+, test msd <loss>=(\S+)"},
    {"Name": "test:ssd", "Regex": r"#quality_metric: host=\S+, test ssd <loss>=(\S+)"},
)

SPEC = AlgorithmSpec(
    name="kmeans",
    image_repositories=("kmeans",),
    hyperparameters=HYPERPARAMETERS,
    channels=train_and_test(RECORDIO_AND_CSV),
    metric_definitions=METRIC_DEFINITIONS,
    request_content_types=REQUEST_TYPES,
    # k-means alone documents a CSV response: ``closest_cluster,distance_to_cluster`` per row (§2.3).
    response_accept_types=(*RESPONSE_TYPES, ct.CSV),
    supports_distributed_training=True,
)


@dataclass(frozen=True)
class KMeansParams:
    """Validated hyperparameters with ``auto`` values still marked as ``None``."""

    feature_dim: int
    k: int
    epochs: int
    eval_metrics: tuple[str, ...]
    extra_center_factor: int | None
    half_life_time_size: int
    init_method: str
    local_lloyd_init_method: str
    local_lloyd_max_iter: int
    local_lloyd_num_trials: int | None
    local_lloyd_tol: float
    mini_batch_size: int
    force_dense: bool


def parse_hyperparameters(raw: dict[str, Any]) -> KMeansParams:
    """Typed, defaulted hyperparameters (AlgorithmClientError naming the offending value)."""
    hps = validate_hyperparameters(HYPERPARAMETERS, raw, "kmeans")
    metrics = tuple(dict.fromkeys(str(m) for m in hps["eval_metrics"]))
    return KMeansParams(
        feature_dim=hps["feature_dim"],
        k=hps["k"],
        epochs=hps["epochs"],
        eval_metrics=metrics,
        extra_center_factor=auto_value(hps["extra_center_factor"], int),
        half_life_time_size=hps["half_life_time_size"],
        init_method=hps["init_method"],
        local_lloyd_init_method=hps["local_lloyd_init_method"],
        local_lloyd_max_iter=hps["local_lloyd_max_iter"],
        local_lloyd_num_trials=auto_value(hps["local_lloyd_num_trials"], int),
        local_lloyd_tol=hps["local_lloyd_tol"],
        mini_batch_size=hps["mini_batch_size"],
        force_dense=hps["force_dense"],
    )
