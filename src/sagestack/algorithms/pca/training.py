"""``train(env)`` for PCA: accumulate over the train channel's batches, save, score ``test``."""

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
from sagestack.algorithms.pca.decomposition import (
    PCAResult,
    ScatterAccumulator,
    exact_components,
    project,
    randomized_components,
)
from sagestack.algorithms.pca.model import save_model
from sagestack.algorithms.pca.spec import HYPERPARAMETERS, SPEC, PCAParams, parse_hyperparameters

SEED = 0
# Rows decoded per batch. Neither mode's result depends on how rows are batched, so batches are read
# larger than ``mini_batch_size`` to keep the per-batch overhead low.
MIN_READ_BATCH_ROWS = 65536


def _reader_content_type(channel: Channel) -> str:
    """The validated content type with its parameters kept (``text/csv;label_size=0``)."""
    normalized = channel_content_type(SPEC, channel)
    return channel.content_type if channel.content_type else normalized


def _log(message: str) -> None:
    stamp = time.strftime("%m/%d/%Y %H:%M:%S")
    print(f"[{stamp} INFO {os.getpid()}] {message}", flush=True)


def train(env: TrainingEnv) -> None:
    """Fit ``num_components`` principal components of ``env.channels['train']``; write the model."""
    defaults = {hp.name: hp.default for hp in HYPERPARAMETERS if not hp.required}
    _log(f"Reading default configuration: {json.dumps(defaults)}")
    _log(f"Reading provided configuration: {json.dumps(env.hyperparameters)}")
    params = parse_hyperparameters(env.hyperparameters)
    _log(f"Final configuration: {json.dumps(params.__dict__)}")

    for channel in env.channels.values():
        channel_content_type(SPEC, channel)  # rejects unknown channels and content types
    if "train" not in env.channels:
        raise AlgorithmClientError("PCA requires a 'train' channel")
    train_channel = env.channels["train"]
    batches = ChannelBatches(
        train_channel.path,
        _reader_content_type(train_channel),
        max(params.mini_batch_size, MIN_READ_BATCH_ROWS),
        params.feature_dim,
        "train",
    )

    started = time.time()
    if params.algorithm_mode == "randomized":
        batches.preload()
        result = randomized_components(
            batches,
            params.feature_dim,
            params.num_components,
            params.extra_components,
            params.subtract_mean,
            np.random.default_rng(SEED),
        )
    else:
        accumulator = ScatterAccumulator(params.feature_dim)
        for batch in batches():
            accumulator.add(batch)
        result = (
            None
            if accumulator.rows == 0
            else exact_components(accumulator, params.num_components, params.subtract_mean)
        )
    if result is None or result.rows == 0:
        raise AlgorithmClientError("The train channel contains no records")

    explained = (
        float(np.sum(result.singular_values**2)) / result.total_variance if result.total_variance > 0 else 1.0
    )
    _log(
        f"Computed {params.num_components} component(s) ({params.algorithm_mode} mode) from "
        f"{result.rows} records in {time.time() - started:.3f}s; explained variance ratio "
        f"{explained:.6g}"
    )
    save_model(env.model_dir, result, params)

    test = env.channels.get("test")
    if test is not None:
        _score(env, test.path, _reader_content_type(test), result, params)


def _score(env: TrainingEnv, path: Path, content_type: str, result: PCAResult, params: PCAParams) -> None:
    """Log the test channel's mean squared reconstruction error (informational, no metric)."""
    batches = ChannelBatches(path, content_type, MIN_READ_BATCH_ROWS, params.feature_dim, "test", 0)
    error = 0.0
    rows = 0
    for batch in batches():
        projected = project(batch, result.mean, result.components)
        residual = batch.astype(np.float64) - result.mean - projected @ result.components.T
        error += float(np.einsum("ij,ij->", residual, residual))
        rows += batch.shape[0]
    if rows:
        _log(f"#test_score ({env.current_host}, reconstruction_error): {error / rows!r}")
