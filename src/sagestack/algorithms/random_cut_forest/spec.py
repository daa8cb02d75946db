"""Random Cut Forest's hyperparameters, channels and metrics as SageMaker declares them (§2.7)."""

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
from sagestack.algorithms.common import RECORDIO_AND_CSV, RESPONSE_TYPES, logged_test_metric
from sagestack.formats import content_types as ct

EVAL_METRICS: tuple[str, ...] = ("accuracy", "precision_recall_fscore")
#: The SDK fixes RandomCutForest's mini-batch size at 1000 (it is only a reading unit here).
MINI_BATCH_SIZE = 1000


def _eval_metrics_check(value: list) -> str | None:
    if not value:
        return f"value {value!r} must list at least one of {', '.join(EVAL_METRICS)}"
    return None


HYPERPARAMETERS: tuple[Hyperparameter, ...] = (
    Hyperparameter("feature_dim", "int", required=True, low=1, high=10000),
    Hyperparameter(
        "eval_metrics", "list", default=list(EVAL_METRICS), choices=EVAL_METRICS, check=_eval_metrics_check
    ),
    Hyperparameter("num_samples_per_tree", "int", default=256, low=1, high=2048),
    Hyperparameter("num_trees", "int", default=100, low=50, high=1000),
    Hyperparameter("mini_batch_size", "int", default=MINI_BATCH_SIZE, low=1),
)

METRIC_DEFINITIONS: tuple[dict, ...] = tuple(
    logged_test_metric(name) for name in ("f1", "accuracy", "precision", "recall")
)

SPEC = AlgorithmSpec(
    name="randomcutforest",
    image_repositories=("randomcutforest",),
    hyperparameters=HYPERPARAMETERS,
    channels=(
        # SageMaker requires ShardedByS3Key for train and FullyReplicated for test (§2.7).
        ChannelSpec(
            "train", required=True, content_types=RECORDIO_AND_CSV, distributions=("ShardedByS3Key",)
        ),
        ChannelSpec("test", content_types=RECORDIO_AND_CSV, distributions=("FullyReplicated",)),
    ),
    metric_definitions=METRIC_DEFINITIONS,
    request_content_types=(ct.CSV, ct.JSON, ct.JSONLINES, ct.RECORDIO_PROTOBUF),
    response_accept_types=RESPONSE_TYPES,
    supports_distributed_training=True,
)


@dataclass(frozen=True)
class RCFParams:
    feature_dim: int
    eval_metrics: tuple[str, ...]
    num_samples_per_tree: int
    num_trees: int
    mini_batch_size: int


def parse_hyperparameters(raw: dict[str, Any]) -> RCFParams:
    hps = validate_hyperparameters(HYPERPARAMETERS, raw, "randomcutforest")
    return RCFParams(
        feature_dim=hps["feature_dim"],
        eval_metrics=tuple(dict.fromkeys(str(m) for m in hps["eval_metrics"])),
        num_samples_per_tree=hps["num_samples_per_tree"],
        num_trees=hps["num_trees"],
        mini_batch_size=hps["mini_batch_size"],
    )


def check_distribution(channel_name: str, distribution: str, hosts: int) -> None:
    """With several instances the train channel must be ShardedByS3Key (each host samples its own
    shard) and test FullyReplicated, as SageMaker's RCF requires. On one instance the distribution
    makes no difference and is not checked (the SDK's ``record_set`` shards every channel)."""
    wanted = {"train": "ShardedByS3Key", "test": "FullyReplicated"}.get(channel_name)
    if hosts > 1 and wanted and distribution != wanted:
        raise AlgorithmClientError(
            f"The {channel_name} channel must use S3DistributionType {wanted} for Random Cut Forest "
            f"(got {distribution})"
        )
