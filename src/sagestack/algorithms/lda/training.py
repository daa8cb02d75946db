"""``train(env)`` for LDA: accumulate the corpus moments, decompose, save, score ``test`` (pwll)."""

from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp

from sagestack.algorithms.base import AlgorithmClientError, Channel, TrainingEnv, reader_content_type
from sagestack.algorithms.common import configure, log
from sagestack.algorithms.lda.model import save_model
from sagestack.algorithms.lda.spec import SPEC, LDAParams, parse_hyperparameters
from sagestack.algorithms.lda.spectral import Moments, fit, per_word_log_likelihood, refine

SEED = 0
READ_BATCH_ROWS = 65536
SCORE_BATCH_ROWS = 4096


def _count_batches(channel: Channel, feature_dim: int):
    """The channel's documents as sparse count batches (labels, if any, ignored)."""
    from sagestack.formats.dataset import iter_channel

    for data in iter_channel(
        channel.path, reader_content_type(SPEC, channel), READ_BATCH_ROWS, label_column=None
    ):
        X = sp.csr_matrix(data.X, dtype=np.float64)
        if X.shape[0] == 0:
            continue
        if X.shape[1] != feature_dim:
            if X.shape[1] < feature_dim and not (channel.content_type or "").startswith("text/csv"):
                X = sp.csr_matrix((X.data, X.indices, X.indptr), shape=(X.shape[0], feature_dim))
            else:
                raise AlgorithmClientError(
                    f"The {channel.name} channel has documents with {X.shape[1]} words but feature_dim "
                    f"is {feature_dim}; set feature_dim to the vocabulary size"
                )
        if X.nnz and (X.data < 0).any():
            raise AlgorithmClientError(f"The {channel.name} channel holds negative word counts")
        yield X


def train(env: TrainingEnv) -> None:
    params = configure(SPEC, env, parse_hyperparameters)
    started = time.time()
    moments = Moments(params.feature_dim)
    for batch in _count_batches(env.channels["train"], params.feature_dim):
        moments.add(batch)
    if moments.docs1 == 0:
        raise AlgorithmClientError("The train channel contains no documents with words")
    if moments.docs2 < 2:
        raise AlgorithmClientError("LDA needs documents with at least 3 words to estimate topics")
    result = fit(
        moments,
        params.num_topics,
        params.alpha0,
        params.max_restarts,
        params.max_iterations,
        params.tol,
        np.random.default_rng(SEED),
    )
    spectral_s = time.time() - started
    result = refine(moments, result)
    log(
        f"Spectral decomposition of {moments.docs1} documents ({params.feature_dim} words) into "
        f"{params.num_topics} topics in {spectral_s:.3f}s, refined in {time.time() - started - spectral_s:.3f}s; alpha = {result.alpha.round(6).tolist()}"
    )
    save_model(env.model_dir, result.alpha, result.beta)
    test = env.channels.get("test")
    if test is not None:
        _score(env, test, result.alpha, result.beta, params)


def _score(env: TrainingEnv, test: Channel, alpha: np.ndarray, beta: np.ndarray, params: LDAParams) -> None:
    total, words = 0.0, 0.0
    for batch in _count_batches(test, params.feature_dim):
        for start in range(0, batch.shape[0], SCORE_BATCH_ROWS):
            dense = batch[start : start + SCORE_BATCH_ROWS].toarray()
            n = dense.sum()
            if n:
                total += per_word_log_likelihood(dense, alpha, beta) * n
                words += n
    if not words:
        log("The test channel contains no words; no test metrics")
        return
    log(f"#test_score ({env.current_host}) : ('pwll', {float(total / words)!r})")
