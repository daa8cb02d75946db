"""IP Insights' hyperparameters, channels and metrics as SageMaker declares them (algorithms.md §2.13)."""

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
from sagestack.algorithms.common import NUMBER_REGEX
from sagestack.formats import content_types as ct

HYPERPARAMETERS: tuple[Hyperparameter, ...] = (
    Hyperparameter("num_entity_vectors", "int", required=True, low=1, high=250_000_000),
    Hyperparameter("vector_dim", "int", required=True, low=4, high=4096),
    Hyperparameter("batch_metrics_publish_interval", "int", default=1000, low=1),
    Hyperparameter("epochs", "int", default=10, low=1),
    Hyperparameter("learning_rate", "float", default=0.001, low=1e-6, high=10.0),
    Hyperparameter("mini_batch_size", "int", default=10000, low=1, high=500_000),
    Hyperparameter("num_ip_encoder_layers", "int", default=1, low=0, high=100),
    Hyperparameter("random_negative_sampling_rate", "int", default=1, low=0, high=500),
    Hyperparameter("shuffled_negative_sampling_rate", "int", default=1, low=0, high=500),
    Hyperparameter("weight_decay", "float", default=0.00001, low=0.0, high=10.0),
    # The SDK's AmazonAlgorithmEstimatorBase sends the RecordSet's feature_dim; IP Insights ignores it.
    Hyperparameter("feature_dim", "int", default=None, low=1),
)

METRIC_DEFINITIONS: tuple[dict, ...] = (
    {
        "Name": "validation:discriminator_auc",
        "Regex": r"#quality_metric: host=\S+, epoch=\d+, validation discriminator_auc <score>="
        + NUMBER_REGEX,
    },
    {
        "Name": "train:binary_classification_cross_entropy",
        "Regex": r"#quality_metric: host=\S+, epoch=\d+, train binary_classification_cross_entropy "
        r"<loss>=" + NUMBER_REGEX,
    },
)

SPEC = AlgorithmSpec(
    name="ipinsights",
    image_repositories=("ipinsights",),
    hyperparameters=HYPERPARAMETERS,
    channels=(
        ChannelSpec(
            "train",
            required=True,
            content_types=(ct.CSV,),
            default_content_type=ct.CSV,
            input_modes=("File",),
        ),
        ChannelSpec(
            "validation", content_types=(ct.CSV,), default_content_type=ct.CSV, input_modes=("File",)
        ),
    ),
    metric_definitions=METRIC_DEFINITIONS,
    request_content_types=(ct.CSV, ct.JSON, ct.JSONLINES),
    response_accept_types=(ct.JSON, ct.JSONLINES),
    supports_distributed_training=False,
)


@dataclass(frozen=True)
class IPInsightsParams:
    num_entity_vectors: int
    vector_dim: int
    batch_metrics_publish_interval: int
    epochs: int
    learning_rate: float
    mini_batch_size: int
    num_ip_encoder_layers: int
    random_negative_sampling_rate: int
    shuffled_negative_sampling_rate: int
    weight_decay: float


def parse_hyperparameters(raw: dict[str, Any]) -> IPInsightsParams:
    hps = validate_hyperparameters(HYPERPARAMETERS, raw, "ipinsights")
    rates = hps["random_negative_sampling_rate"] + hps["shuffled_negative_sampling_rate"]
    if not 1 <= rates <= 500:
        raise AlgorithmClientError(
            "Hyperparameters random_negative_sampling_rate and shuffled_negative_sampling_rate: their sum "
            f"must be between 1 and 500 (got {rates})"
        )
    return IPInsightsParams(**{name: hps[name] for name in IPInsightsParams.__dataclass_fields__})
