"""``train(env)`` for K-Means: read the channels, fit, score the test channel, save the model."""

from __future__ import annotations

import time

import numpy as np

from sagestack.algorithms.base import AlgorithmClientError, Channel, TrainingEnv
from sagestack.algorithms.batches import ChannelBatches
from sagestack.algorithms.common import configure, log
from sagestack.algorithms.kmeans.clustering import nearest_centers
from sagestack.algorithms.kmeans.fitting import fit
from sagestack.algorithms.kmeans.model import save_model
from sagestack.algorithms.kmeans.spec import SPEC, KMeansParams, parse_hyperparameters

SEED = 0
# Batches read for scoring (the mini-batch size does not change the scores).
SCORE_BATCH_ROWS = 65536


def train(env: TrainingEnv) -> None:
    """Train on ``env.channels['train']``, score ``test`` with ``eval_metrics``, write the model."""
    params = configure(SPEC, env, parse_hyperparameters)
    batches = ChannelBatches.of(SPEC, env.channels["train"], params.mini_batch_size, params.feature_dim)

    started = time.time()
    rng = np.random.default_rng(SEED)
    in_memory = batches.preload()
    if batches.rows == 0:
        raise AlgorithmClientError("The train channel contains no records")
    result = fit(batches, params, rng, log=log, in_memory=in_memory)
    log(
        f"Trained k={params.k} on {result.rows} records ({params.feature_dim} features) "
        f"in {time.time() - started:.3f}s"
    )
    log(f"#train_score ({env.current_host}) : ('msd', {result.train_msd!r})")

    save_model(env.model_dir, result.centers, params)

    test = env.channels.get("test")
    if test is not None:
        _score(env, test, result.centers, params)


def _score(env: TrainingEnv, test: Channel, centers: np.ndarray, params: KMeansParams) -> None:
    batches = ChannelBatches.of(SPEC, test, SCORE_BATCH_ROWS, params.feature_dim, cache_bytes=0)
    total = 0.0
    rows = 0
    for batch in batches():
        _, dists = nearest_centers(batch, centers)
        total += float(dists.sum())
        rows += batch.shape[0]
    if rows == 0:
        log("The test channel contains no records; no test metrics")
        return
    scores = {"msd": total / rows, "ssd": total}
    for metric in params.eval_metrics:
        value = scores[metric]
        log(f"#test_score ({env.current_host}, {metric}): {value!r}")
        log(f"#quality_metric: host={env.current_host}, test {metric} <loss>={value!r}")
