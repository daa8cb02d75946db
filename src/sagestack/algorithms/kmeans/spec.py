"""K-Means' hyperparameters, channels and metrics as SageMaker declares them (algorithms.md §2.3)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sagestack.algorithms.base import (
    AlgorithmSpec,
    ChannelSpec,
    Hyperparameter,
    validate_hyperparameters,
)

EVAL_METRICS: tuple[str, ...] = ("msd", "ssd")


def _auto_or_positive_int(value: str) -> str | None:
    if value.lower() == "auto":
        return None
    try:
        number = float(value)
    except ValueError:
        return f"value {value!r} must be 'auto' or a positive integer"
    if not number.is_integer() or number < 1:
        return f"value {value!r} must be 'auto' or a positive integer"
    return None


def _eval_metrics_check(value: list) -> str | None:
    if not value:
        return f"value {value!r} must list at least one of {', '.join(EVAL_METRICS)}"
    return None


HYPERPARAMETERS: tuple[Hyperparameter, ...] = (
    Hyperparameter("feature_dim", "int", required=True, low=1),
    Hyperparameter("k", "int", required=True, low=1),
    Hyperparameter("epochs", "int", default=1, low=1),
    Hyperparameter("eval_metrics", "list", default=["msd"], choices=EVAL_METRICS, check=_eval_metrics_check),
    Hyperparameter("extra_center_factor", "str", default="auto", check=_auto_or_positive_int),
    Hyperparameter("half_life_time_size", "int", default=0, low=0),
    Hyperparameter("init_method", "str", default="random", choices=("random", "kmeans++")),
    Hyperparameter("local_lloyd_init_method", "str", default="kmeans++", choices=("random", "kmeans++")),
    Hyperparameter("local_lloyd_max_iter", "int", default=300, low=1),
    Hyperparameter("local_lloyd_num_trials", "str", default="auto", check=_auto_or_positive_int),
    Hyperparameter("local_lloyd_tol", "float", default=0.0001, low=0.0, high=1.0),
    Hyperparameter("mini_batch_size", "int", default=5000, low=1),
    Hyperparameter("force_dense", "bool", default=True),
)

_NUMBER = r"([-+]?(?:[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?|nan|inf))"

# The regexes SageMaker's k-means publishes for its tuning metrics.
METRIC_DEFINITIONS: tuple[dict, ...] = (
    {"Name": "test:msd", "Regex": r"#quality_metric: host=\S+, test msd <loss>=(\S+)"},
    {"Name": "test:ssd", "Regex": r"#quality_metric: host=\S+, test ssd <loss>=(\S+)"},
)

_CONTENT_TYPES = ("application/x-recordio-protobuf", "text/csv")

SPEC = AlgorithmSpec(
    name="kmeans",
    image_repositories=("kmeans",),
    hyperparameters=HYPERPARAMETERS,
    channels=(
        ChannelSpec("train", required=True, content_types=_CONTENT_TYPES),
        ChannelSpec("test", content_types=_CONTENT_TYPES),
    ),
    metric_definitions=METRIC_DEFINITIONS,
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

    def auto(name: str) -> int | None:
        value = hps[name]
        return None if str(value).lower() == "auto" else int(float(value))

    metrics = tuple(dict.fromkeys(str(m) for m in hps["eval_metrics"]))
    return KMeansParams(
        feature_dim=hps["feature_dim"],
        k=hps["k"],
        epochs=hps["epochs"],
        eval_metrics=metrics,
        extra_center_factor=auto("extra_center_factor"),
        half_life_time_size=hps["half_life_time_size"],
        init_method=hps["init_method"],
        local_lloyd_init_method=hps["local_lloyd_init_method"],
        local_lloyd_max_iter=hps["local_lloyd_max_iter"],
        local_lloyd_num_trials=auto("local_lloyd_num_trials"),
        local_lloyd_tol=hps["local_lloyd_tol"],
        mini_batch_size=hps["mini_batch_size"],
        force_dense=hps["force_dense"],
    )
