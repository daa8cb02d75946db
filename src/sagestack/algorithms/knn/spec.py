"""k-NN's hyperparameters, channels and metrics as SageMaker declares them (algorithms.md §2.5)."""

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
    RECORDIO_AND_CSV,
    REQUEST_TYPES,
    RESPONSE_TYPES,
    auto_number,
    logged_test_metric,
    mini_batch_size,
    train_and_test,
)

PQ_M_CHOICES: tuple[int, ...] = (1, 2, 3, 4, 8, 12, 16, 20, 24, 28, 32, 40, 48, 56, 64, 96)

HYPERPARAMETERS: tuple[Hyperparameter, ...] = (
    FEATURE_DIM,
    Hyperparameter("k", "int", required=True, low=1),
    Hyperparameter("predictor_type", "str", required=True, choices=("classifier", "regressor")),
    Hyperparameter("sample_size", "int", required=True, low=1),
    Hyperparameter("dimension_reduction_type", "str", choices=("sign", "fjlt")),
    Hyperparameter("dimension_reduction_target", "int", low=1),
    auto_number("faiss_index_ivf_nlists", int, low=1),
    Hyperparameter("faiss_index_pq_m", "int", choices=PQ_M_CHOICES),
    Hyperparameter("index_metric", "str", default="L2", choices=("L2", "INNER_PRODUCT", "COSINE")),
    Hyperparameter(
        "index_type", "str", default="faiss.Flat", choices=("faiss.Flat", "faiss.IVFFlat", "faiss.IVFPQ")
    ),
    mini_batch_size(5000),
)

METRIC_DEFINITIONS: tuple[dict, ...] = (logged_test_metric("accuracy"), logged_test_metric("mse"))

SPEC = AlgorithmSpec(
    name="knn",
    image_repositories=("knn",),
    hyperparameters=HYPERPARAMETERS,
    channels=train_and_test(RECORDIO_AND_CSV),
    metric_definitions=METRIC_DEFINITIONS,
    request_content_types=REQUEST_TYPES,
    response_accept_types=RESPONSE_TYPES,
    supports_distributed_training=True,
)


def parse_hyperparameters(raw: dict[str, Any]) -> dict[str, Any]:
    """Typed, defaulted and cross-checked hyperparameters (AlgorithmClientError naming the value)."""
    hps = validate_hyperparameters(HYPERPARAMETERS, raw, "knn")
    feature_dim = hps["feature_dim"]
    reduction = hps["dimension_reduction_type"]
    target = hps["dimension_reduction_target"]
    if reduction is not None:
        if target is None:
            raise AlgorithmClientError(
                "Hyperparameter dimension_reduction_target is required when dimension_reduction_type "
                f"is {reduction!r}"
            )
        if target >= feature_dim:
            raise AlgorithmClientError(
                f"Hyperparameter dimension_reduction_target: value {str(target)!r} must be less than "
                f"feature_dim ({feature_dim})"
            )
    if hps["index_type"] == "faiss.IVFPQ" and hps["index_metric"] != "L2":
        raise AlgorithmClientError(
            f"Hyperparameter index_metric: value {hps['index_metric']!r} is not supported with index_type "
            "'faiss.IVFPQ'; use 'L2'"
        )
    pq_m = hps["faiss_index_pq_m"]
    if pq_m is not None and hps["index_type"] == "faiss.IVFPQ":
        dim = target if reduction is not None else feature_dim
        if dim % pq_m:
            raise AlgorithmClientError(
                f"Hyperparameter faiss_index_pq_m: value {str(pq_m)!r} must divide the indexed dimension "
                f"({dim})"
            )
    return hps
