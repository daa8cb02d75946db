"""``train(env)`` for K-Means: read the channels, fit, score the test channel, save the model."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np

from sagestack.algorithms.base import (
    AlgorithmClientError,
    Channel,
    TrainingEnv,
    channel_content_type,
)
from sagestack.algorithms.kmeans.batches import ChannelBatches
from sagestack.algorithms.kmeans.clustering import nearest_centers
from sagestack.algorithms.kmeans.fitting import fit
from sagestack.algorithms.kmeans.model import save_model
from sagestack.algorithms.kmeans.spec import HYPERPARAMETERS, SPEC, KMeansParams, parse_hyperparameters

SEED = 0
# Batches read for scoring (the mini-batch size does not change the scores).
SCORE_BATCH_ROWS = 65536


def _reader_content_type(channel: Channel) -> str:
    """The validated content type with its parameters kept (``text/csv;label_size=0``)."""
    normalized = channel_content_type(SPEC, channel)
    return channel.content_type if channel.content_type else normalized


def _log(message: str) -> None:
    stamp = time.strftime("%m/%d/%Y %H:%M:%S")
    print(f"[{stamp} INFO {os.getpid()}] {message}", flush=True)


def train(env: TrainingEnv) -> None:
    """Train on ``env.channels['train']``, score ``test`` with ``eval_metrics``, write the model."""
    defaults = {hp.name: hp.default for hp in HYPERPARAMETERS if not hp.required}
    _log(f"Reading default configuration: {json.dumps(defaults)}")
    _log(f"Reading provided configuration: {json.dumps(env.hyperparameters)}")
    params = parse_hyperparameters(env.hyperparameters)
    _log(f"Final configuration: {json.dumps(params.__dict__)}")

    for channel in env.channels.values():
        channel_content_type(SPEC, channel)  # rejects unknown channels and content types
    if "train" not in env.channels:
        raise AlgorithmClientError("K-Means requires a 'train' channel")
    train_channel = env.channels["train"]
    batches = ChannelBatches(
        train_channel.path,
        _reader_content_type(train_channel),
        params.mini_batch_size,
        params.feature_dim,
        "train",
    )

    started = time.time()
    rng = np.random.default_rng(SEED)
    in_memory = batches.preload()
    if batches.rows == 0:
        raise AlgorithmClientError("The train channel contains no records")
    result = fit(batches, params, rng, log=_log, in_memory=in_memory)
    _log(
        f"Trained k={params.k} on {result.rows} records ({params.feature_dim} features) "
        f"in {time.time() - started:.3f}s"
    )
    _log(f"#train_score ({env.current_host}) : ('msd', {result.train_msd!r})")

    save_model(env.model_dir, result.centers, params)

    test = env.channels.get("test")
    if test is not None:
        _score(env, test.path, _reader_content_type(test), result.centers, params)


def _score(
    env: TrainingEnv, path: Path, content_type: str, centers: np.ndarray, params: KMeansParams
) -> None:
    batches = ChannelBatches(path, content_type, SCORE_BATCH_ROWS, params.feature_dim, "test", 0)
    total = 0.0
    rows = 0
    for batch in batches():
        _, dists = nearest_centers(batch, centers)
        total += float(dists.sum())
        rows += batch.shape[0]
    if rows == 0:
        _log("The test channel contains no records; no test metrics")
        return
    scores = {"msd": total / rows, "ssd": total}
    for metric in params.eval_metrics:
        value = scores[metric]
        _log(f"#test_score ({env.current_host}, {metric}): {value!r}")
        _log(f"#quality_metric: host={env.current_host}, test {metric} <loss>={value!r}")
