"""LDA's hyperparameters, channels and metrics as SageMaker declares them (algorithms.md §2.8)."""

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
from sagestack.algorithms.common import FEATURE_DIM, RECORDIO_AND_CSV, RESPONSE_TYPES, logged_test_metric
from sagestack.formats import content_types as ct

HYPERPARAMETERS: tuple[Hyperparameter, ...] = (
    Hyperparameter("num_topics", "int", required=True, low=1),
    FEATURE_DIM,
    Hyperparameter("mini_batch_size", "int", required=True, low=1),
    Hyperparameter("alpha0", "float", default=1.0, low=0.0, low_open=True),
    Hyperparameter("max_restarts", "int", default=10, low=1),
    Hyperparameter("max_iterations", "int", default=1000, low=1),
    Hyperparameter("tol", "float", default=1e-8, low=0.0, low_open=True),
)

SPEC = AlgorithmSpec(
    name="lda",
    image_repositories=("lda",),
    hyperparameters=HYPERPARAMETERS,
    channels=(
        ChannelSpec("train", required=True, content_types=RECORDIO_AND_CSV),
        ChannelSpec("test", content_types=RECORDIO_AND_CSV),
    ),
    metric_definitions=(logged_test_metric("pwll"),),
    request_content_types=(ct.CSV, ct.JSON, ct.JSONLINES, ct.RECORDIO_PROTOBUF),
    response_accept_types=RESPONSE_TYPES,
    supports_distributed_training=False,  # the SDK forces instance_count=1
)


@dataclass(frozen=True)
class LDAParams:
    num_topics: int
    feature_dim: int
    mini_batch_size: int
    alpha0: float
    max_restarts: int
    max_iterations: int
    tol: float


def parse_hyperparameters(raw: dict[str, Any]) -> LDAParams:
    hps = validate_hyperparameters(HYPERPARAMETERS, raw, "lda")
    if hps["num_topics"] > hps["feature_dim"]:
        raise AlgorithmClientError(
            f"Hyperparameter num_topics: value {hps['num_topics']} must not exceed feature_dim "
            f"({hps['feature_dim']}), the vocabulary size"
        )
    return LDAParams(**{name: hps[name] for name in LDAParams.__dataclass_fields__})
