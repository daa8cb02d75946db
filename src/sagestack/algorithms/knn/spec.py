"""k-NN's hyperparameters, channels and metrics as SageMaker declares them (algorithms.md §2.5)."""

from __future__ import annotations

from typing import Any

from sagestack.algorithms.base import (
    AlgorithmClientError,
    AlgorithmSpec,
    ChannelSpec,
    Hyperparameter,
    validate_hyperparameters,
)

PQ_M_CHOICES: tuple[int, ...] = (1, 2, 3, 4, 8, 12, 16, 20, 24, 28, 32, 40, 48, 56, 64, 96)

_NUMBER = r"([-+]?(?:[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?|nan|inf))"


def _nlists_check(value: str) -> str | None:
    if value == "auto":
        return None
    try:
        number = int(value)
    except ValueError:
        return f"value {value!r} must be 'auto' or a positive integer"
    if number < 1:
        return f"value {value!r} must be 'auto' or a positive integer"
    return None


HYPERPARAMETERS: tuple[Hyperparameter, ...] = (
    Hyperparameter("feature_dim", "int", required=True, low=1),
    Hyperparameter("k", "int", required=True, low=1),
    Hyperparameter("predictor_type", "str", required=True, choices=("classifier", "regressor")),
    Hyperparameter("sample_size", "int", required=True, low=1),
    Hyperparameter("dimension_reduction_type", "str", choices=("sign", "fjlt")),
    Hyperparameter("dimension_reduction_target", "int", low=1),
    Hyperparameter("faiss_index_ivf_nlists", "str", default="auto", check=_nlists_check),
    Hyperparameter("faiss_index_pq_m", "int", choices=PQ_M_CHOICES),
    Hyperparameter("index_metric", "str", default="L2", choices=("L2", "INNER_PRODUCT", "COSINE")),
    Hyperparameter(
        "index_type", "str", default="faiss.Flat", choices=("faiss.Flat", "faiss.IVFFlat", "faiss.IVFPQ")
    ),
    Hyperparameter("mini_batch_size", "int", default=5000, low=1),
)

METRIC_DEFINITIONS: tuple[dict, ...] = (
    {"Name": "test:accuracy", "Regex": r"#test_score \([^)]*\) : \('accuracy', " + _NUMBER + r"\)"},
    {"Name": "test:mse", "Regex": r"#test_score \([^)]*\) : \('mse', " + _NUMBER + r"\)"},
)

_CONTENT_TYPES = ("application/x-recordio-protobuf", "text/csv")

SPEC = AlgorithmSpec(
    name="knn",
    image_repositories=("knn",),
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
    response_accept_types=("application/json", "application/jsonlines", "application/x-recordio-protobuf"),
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
