"""``train(env)`` for RCF: sample each tree's points from the train channel, build, score ``test``.

Multi-instance jobs: every host builds its share of ``num_trees`` from its own shard (the train
channel is ShardedByS3Key) and writes its own tree file; the model is the union of the hosts' trees.
"""

from __future__ import annotations

import time

import numpy as np

from sagestack.algorithms.base import AlgorithmClientError, Channel, TrainingEnv, reader_content_type
from sagestack.algorithms.batches import ChannelBatches
from sagestack.algorithms.common import configure, log
from sagestack.algorithms.random_cut_forest.forest import build, sample_rows, score
from sagestack.algorithms.random_cut_forest.model import save_model
from sagestack.algorithms.random_cut_forest.spec import (
    SPEC,
    RCFParams,
    check_distribution,
    parse_hyperparameters,
)

SEED = 0
READ_BATCH_ROWS = 65536
#: Sampled rows scored to set the anomaly threshold of the test metrics (mean + 3 std of their scores).
THRESHOLD_ROWS = 5000


def trees_for_host(num_trees: int, hosts: list[str], host: str) -> int:
    """This host's share of ``num_trees`` (the first hosts take the remainder)."""
    ordered = sorted(hosts)
    index = ordered.index(host) if host in ordered else 0
    share, extra = divmod(num_trees, len(ordered))
    return share + (1 if index < extra else 0)


def train(env: TrainingEnv) -> None:
    params = configure(SPEC, env, parse_hyperparameters)
    for name, channel in env.channels.items():
        check_distribution(name, channel.s3_distribution_type, len(env.hosts))
    batches = ChannelBatches.of(
        SPEC, env.channels["train"], max(params.mini_batch_size, READ_BATCH_ROWS), params.feature_dim
    )
    started = time.time()
    X = _all_rows(batches)
    if X.shape[0] == 0:
        raise AlgorithmClientError("The train channel contains no records")
    host_index = sorted(env.hosts).index(env.current_host) if env.current_host in env.hosts else 0
    rng = np.random.default_rng(SEED + host_index)
    num_trees = trees_for_host(params.num_trees, env.hosts, env.current_host)
    sample = sample_rows(X.shape[0], num_trees, params.num_samples_per_tree, rng)
    forest = build([X[rows].astype(np.float64) for rows in sample], rng, params.num_samples_per_tree)
    log(
        f"Built {num_trees} trees of up to {params.num_samples_per_tree} samples from {X.shape[0]} records "
        f"({params.feature_dim} features) in {time.time() - started:.3f}s"
    )
    sampled = np.unique(sample)
    if sampled.shape[0] > THRESHOLD_ROWS:
        sampled = rng.choice(sampled, size=THRESHOLD_ROWS, replace=False)
    train_scores = score(forest, X[sampled])
    threshold = float(train_scores.mean() + 3 * train_scores.std())
    log(
        f"Training sample scores: mean {train_scores.mean():.6g}, std {train_scores.std():.6g}; "
        f"anomaly threshold (mean + 3 std) {threshold:.6g}"
    )
    save_model(env.model_dir, env.current_host, forest, params, threshold)
    test = env.channels.get("test")
    if test is not None:
        _score_test(env, test, forest, params, threshold)


def _all_rows(batches: ChannelBatches) -> np.ndarray:
    parts = list(batches())
    return np.concatenate(parts) if parts else np.zeros((0, batches.feature_dim), dtype=np.float32)


def _score_test(env: TrainingEnv, test: Channel, forest, params: RCFParams, threshold: float) -> None:
    """Accuracy, precision, recall and F1 of ``score > threshold`` against the test labels (1 = anomaly)."""
    from sagestack.formats.dataset import load_channel

    data = load_channel(test.path, reader_content_type(SPEC, test))
    if data.y is None:
        raise AlgorithmClientError(
            "The test channel needs an anomaly label per record (text/csv;label_size=1 with the label in "
            "column 0, or recordio-protobuf labels): 1 anomalous, 0 normal"
        )
    X = data.X.toarray() if hasattr(data.X, "toarray") else np.asarray(data.X)
    if X.shape[0] == 0:
        log("The test channel contains no records; no test metrics")
        return
    if X.shape[1] != params.feature_dim:
        raise AlgorithmClientError(
            f"The test channel has records with {X.shape[1]} features but feature_dim is {params.feature_dim}"
        )
    metrics = classification_metrics(np.asarray(data.y).ravel() > 0.5, score(forest, X) > threshold)
    host = env.current_host
    if "accuracy" in params.eval_metrics:
        log(f"#test_score ({host}) : ('accuracy', {metrics['accuracy']!r})")
    if "precision_recall_fscore" in params.eval_metrics:
        for name in ("precision", "recall", "f1"):
            log(f"#test_score ({host}) : ('{name}', {metrics[name]!r})")


def classification_metrics(actual: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    tp = float(np.sum(actual & predicted))
    fp = float(np.sum(~actual & predicted))
    fn = float(np.sum(actual & ~predicted))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "accuracy": float(np.mean(actual == predicted)),
        "precision": precision,
        "recall": recall,
        "f1": f1,
    }
