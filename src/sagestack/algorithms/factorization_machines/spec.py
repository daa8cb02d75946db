"""Factorization Machines' hyperparameters, channels and metrics as SageMaker declares them (§2.6)."""

from __future__ import annotations

from typing import Any

from sagestack.algorithms.base import (
    AlgorithmClientError,
    AlgorithmSpec,
    ChannelSpec,
    Hyperparameter,
    validate_hyperparameters,
)

_NUMBER = r"([-+]?(?:[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?|nan|inf))"
_INIT_METHODS = ("normal", "uniform", "constant")
_GROUPS = ("bias", "linear", "factors")
_DEFAULT_LR = {"bias": 0.1, "linear": 0.001, "factors": 0.0001}
_DEFAULT_WD = {"bias": 0.01, "linear": 0.001, "factors": 0.00001}
_DEFAULT_SIGMA = {"bias": 0.01, "linear": 0.01, "factors": 0.001}


def _group_hyperparameters(group: str) -> tuple[Hyperparameter, ...]:
    return (
        Hyperparameter(f"{group}_lr", "float", default=_DEFAULT_LR[group], low=0),
        Hyperparameter(f"{group}_wd", "float", default=_DEFAULT_WD[group], low=0),
        Hyperparameter(f"{group}_init_method", "str", default="normal", choices=_INIT_METHODS),
        Hyperparameter(f"{group}_init_scale", "float", low=0),
        Hyperparameter(f"{group}_init_sigma", "float", default=_DEFAULT_SIGMA[group], low=0),
        Hyperparameter(f"{group}_init_value", "float"),
    )


HYPERPARAMETERS: tuple[Hyperparameter, ...] = (
    Hyperparameter("feature_dim", "int", required=True, low=1),
    Hyperparameter("num_factors", "int", required=True, low=1),
    Hyperparameter("predictor_type", "str", required=True, choices=("binary_classifier", "regressor")),
    Hyperparameter("epochs", "int", default=1, low=1),
    Hyperparameter("mini_batch_size", "int", default=1000, low=1),
    Hyperparameter("clip_gradient", "float"),
    Hyperparameter("eps", "float"),
    Hyperparameter("rescale_grad", "float"),
    *(hp for group in _GROUPS for hp in _group_hyperparameters(group)),
)


def _test_metric(name: str) -> dict:
    return {
        "Name": f"test:{name}",
        "Regex": r"#test_score \([^)]*\) : \('" + name + r"', " + _NUMBER + r"\)",
    }


METRIC_DEFINITIONS: tuple[dict, ...] = (
    _test_metric("rmse"),
    _test_metric("binary_classification_accuracy"),
    _test_metric("binary_classification_cross_entropy"),
    _test_metric("binary_f_beta"),
)

_CONTENT_TYPES = ("application/x-recordio-protobuf",)

SPEC = AlgorithmSpec(
    name="factorization-machines",
    image_repositories=("factorization-machines",),
    hyperparameters=HYPERPARAMETERS,
    channels=(
        ChannelSpec("train", required=True, content_types=_CONTENT_TYPES),
        ChannelSpec("test", content_types=_CONTENT_TYPES),
    ),
    metric_definitions=METRIC_DEFINITIONS,
    request_content_types=("application/json", "application/jsonlines", "application/x-recordio-protobuf"),
    response_accept_types=("application/json", "application/jsonlines", "application/x-recordio-protobuf"),
    supports_distributed_training=True,
)


def parse_hyperparameters(raw: dict[str, Any]) -> dict[str, Any]:
    """Typed, defaulted and cross-checked hyperparameters (AlgorithmClientError naming the value)."""
    hps = validate_hyperparameters(HYPERPARAMETERS, raw, "factorization-machines")
    for group in _GROUPS:
        method = hps[f"{group}_init_method"]
        if method == "uniform" and hps[f"{group}_init_scale"] is None:
            raise AlgorithmClientError(
                f"Hyperparameter {group}_init_scale is required when {group}_init_method is 'uniform'"
            )
        if method == "constant" and hps[f"{group}_init_value"] is None:
            raise AlgorithmClientError(
                f"Hyperparameter {group}_init_value is required when {group}_init_method is 'constant'"
            )
    if hps["clip_gradient"] is not None and hps["clip_gradient"] <= 0:
        raise AlgorithmClientError(
            f"Hyperparameter clip_gradient: value {str(hps['clip_gradient'])!r} must be > 0"
        )
    if hps["eps"] is not None and hps["eps"] < 0:
        raise AlgorithmClientError(f"Hyperparameter eps: value {str(hps['eps'])!r} must be >= 0")
    return hps
