"""Factorization Machines' hyperparameters, channels and metrics as SageMaker declares them (§2.6)."""

from __future__ import annotations

from typing import Any

from sagestack.algorithms.base import (
    AlgorithmClientError,
    AlgorithmSpec,
    Hyperparameter,
    validate_hyperparameters,
)
from sagestack.algorithms.common import (
    FEATURE_DIM,
    RESPONSE_TYPES,
    epochs,
    logged_test_metric,
    mini_batch_size,
    train_and_test,
)
from sagestack.formats import content_types as ct

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
    FEATURE_DIM,
    Hyperparameter("num_factors", "int", required=True, low=1),
    Hyperparameter("predictor_type", "str", required=True, choices=("binary_classifier", "regressor")),
    epochs(1),
    mini_batch_size(1000),
    Hyperparameter("clip_gradient", "float"),
    Hyperparameter("eps", "float"),
    Hyperparameter("rescale_grad", "float"),
    *(hp for group in _GROUPS for hp in _group_hyperparameters(group)),
)


METRIC_DEFINITIONS: tuple[dict, ...] = (
    logged_test_metric("rmse"),
    logged_test_metric("binary_classification_accuracy"),
    logged_test_metric("binary_classification_cross_entropy"),
    logged_test_metric("binary_f_beta"),
)

_CONTENT_TYPES = (ct.RECORDIO_PROTOBUF,)  # no CSV, for training or inference (§2.6)

SPEC = AlgorithmSpec(
    name="factorization-machines",
    image_repositories=("factorization-machines",),
    hyperparameters=HYPERPARAMETERS,
    channels=train_and_test(_CONTENT_TYPES),
    metric_definitions=METRIC_DEFINITIONS,
    request_content_types=(ct.JSON, ct.JSONLINES, ct.RECORDIO_PROTOBUF),
    response_accept_types=RESPONSE_TYPES,
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
