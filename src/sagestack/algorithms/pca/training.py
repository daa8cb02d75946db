"""``train(env)`` for PCA: accumulate over the train channel's batches, save, score ``test``."""

from __future__ import annotations

import time

import numpy as np

from sagestack.algorithms.base import AlgorithmClientError, Channel, TrainingEnv
from sagestack.algorithms.batches import ChannelBatches
from sagestack.algorithms.common import configure, log
from sagestack.algorithms.pca.decomposition import (
    PCAResult,
    ScatterAccumulator,
    exact_components,
    project,
    randomized_components,
)
from sagestack.algorithms.pca.model import save_model
from sagestack.algorithms.pca.spec import SPEC, PCAParams, parse_hyperparameters

SEED = 0
# Rows per batch read. Neither mode's result depends on how rows are batched; batches well under a decoded
# RecordIO chunk (16 MB) are slices of it, so only the few that straddle two chunks are copied.
MIN_READ_BATCH_ROWS = 16384


def train(env: TrainingEnv) -> None:
    """Fit ``num_components`` principal components of ``env.channels['train']``; write the model."""
    params = configure(SPEC, env, parse_hyperparameters)
    randomized = params.algorithm_mode == "randomized"
    # regular mode is one pass keeping nothing: batches straight out of the reader's reused buffer, and
    # the NaN/infinity check only for a batch whose scatter came out non-finite
    batches = ChannelBatches.of(
        SPEC,
        env.channels["train"],
        max(params.mini_batch_size, MIN_READ_BATCH_ROWS),
        params.feature_dim,
        transient=not randomized,
        check_finite=randomized,
    )

    started = time.time()
    if randomized:
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
            if not accumulator.add(batch):
                batches.check_finite(batch)
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
    log(
        f"Computed {params.num_components} component(s) ({params.algorithm_mode} mode) from "
        f"{result.rows} records in {time.time() - started:.3f}s; explained variance ratio "
        f"{explained:.6g}"
    )
    save_model(env.model_dir, result, params)

    test = env.channels.get("test")
    if test is not None:
        _score(env, test, result, params)


def _score(env: TrainingEnv, test: Channel, result: PCAResult, params: PCAParams) -> None:
    """Log the test channel's mean squared reconstruction error (informational, no metric)."""
    batches = ChannelBatches.of(SPEC, test, MIN_READ_BATCH_ROWS, params.feature_dim, transient=True)
    error = 0.0
    rows = 0
    for batch in batches():
        projected = project(batch, result.mean, result.components)
        residual = batch.astype(np.float64) - result.mean - projected @ result.components.T
        error += float(np.einsum("ij,ij->", residual, residual))
        rows += batch.shape[0]
    if rows:
        log(f"#test_score ({env.current_host}, reconstruction_error): {error / rows!r}")
