"""``train(env)`` for NTM: minibatch training of the VAE with early stopping, then ``test`` scoring.

Every epoch trains on a ``sub_sample`` fraction of the train batches (shuffled), gradients scaled by
``rescale_gradient`` and clipped to ``clip_gradient``; the epoch's loss on ``validation`` (the
training loss when there is none) must improve by more than ``tolerance`` (relative) within
``num_patience_epochs`` epochs or training stops; the best epoch's weights are kept.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from sagestack.algorithms.base import AlgorithmClientError, Channel, TrainingEnv, reader_content_type
from sagestack.algorithms.common import configure, log
from sagestack.algorithms.neural import make_optimizer, save_state, setup_torch
from sagestack.algorithms.ntm.spec import SPEC, parse_hyperparameters

SEED = 0
READ_BATCH_ROWS = 65536
EVAL_BATCH_ROWS = 4096
TOP_WORDS = 10


def read_counts(channel: Channel, feature_dim: int) -> sp.csr_matrix:
    """The channel's documents as one float32 CSR matrix (``feature_dim`` columns, non-negative)."""
    from sagestack.formats.dataset import iter_channel

    parts = []
    for data in iter_channel(
        channel.path, reader_content_type(SPEC, channel), READ_BATCH_ROWS, label_column=None
    ):
        X = sp.csr_matrix(data.X, dtype=np.float32)
        if X.shape[0] == 0:
            continue
        if X.shape[1] != feature_dim:
            raise AlgorithmClientError(
                f"The {channel.name} channel has documents with {X.shape[1]} words but feature_dim is "
                f"{feature_dim}; set feature_dim to the vocabulary size"
            )
        if X.nnz and (X.data < 0).any() or not np.isfinite(X.data).all():
            raise AlgorithmClientError(f"The {channel.name} channel holds negative or non-finite word counts")
        parts.append(X)
    return sp.vstack(parts).tocsr() if parts else sp.csr_matrix((0, feature_dim), dtype=np.float32)


def read_vocabulary(channel: Channel | None) -> list[str] | None:
    """``vocab.txt`` of the auxiliary channel (one word per line, in word-id order), if given."""
    if channel is None:
        return None
    path = Path(channel.path) / "vocab.txt"
    if not path.is_file():
        raise AlgorithmClientError("The auxiliary channel must hold a file named vocab.txt")
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise AlgorithmClientError("vocab.txt in the auxiliary channel is not UTF-8 text") from None


def mean_losses(net, X: sp.csr_matrix, torch) -> dict[str, float]:
    """Per-document mean losses over ``X`` (deterministic encoder: ``z = μ``)."""
    net.eval()
    sums = {"total_loss": 0.0, "recons_loss": 0.0, "kld": 0.0}
    with torch.no_grad():
        for start in range(0, X.shape[0], EVAL_BATCH_ROWS):
            batch = torch.from_numpy(X[start : start + EVAL_BATCH_ROWS].toarray())
            for name, value in net.losses(batch, sample=False).items():
                sums[name] += float(value.sum())
    return {name: value / max(X.shape[0], 1) for name, value in sums.items()}


def train(env: TrainingEnv) -> None:
    params = configure(SPEC, env, parse_hyperparameters)
    torch = setup_torch(env.num_cpus, SEED)
    from sagestack.algorithms.ntm.network import NTMNetwork

    vocabulary = read_vocabulary(env.channels.get("auxiliary"))
    if vocabulary is not None and len(vocabulary) != params.feature_dim:
        raise AlgorithmClientError(
            f"vocab.txt has {len(vocabulary)} words but feature_dim is {params.feature_dim}"
        )
    X = read_counts(env.channels["train"], params.feature_dim)
    if X.shape[0] == 0:
        raise AlgorithmClientError("The train channel contains no documents")
    validation = env.channels.get("validation")
    X_val = read_counts(validation, params.feature_dim) if validation is not None else None

    net = NTMNetwork(
        params.feature_dim,
        params.num_topics,
        params.encoder_layers,
        params.encoder_layers_activation,
        params.batch_norm,
    )
    optimizer = make_optimizer(params.optimizer, net.parameters(), params.learning_rate, params.weight_decay)
    rng = np.random.default_rng(SEED)
    host = env.current_host
    best, best_state, waited = math.inf, None, 0
    started = time.time()
    for epoch in range(params.epochs):
        net.train()
        order = rng.permutation(X.shape[0])
        if params.sub_sample < 1.0:
            order = order[: max(1, int(round(params.sub_sample * X.shape[0])))]
        total, rows = 0.0, 0
        for start in range(0, order.shape[0], params.mini_batch_size):
            rows_idx = order[start : start + params.mini_batch_size]
            if params.batch_norm and rows_idx.shape[0] < 2:
                continue  # batch norm needs two documents
            batch = torch.from_numpy(X[rows_idx].toarray())
            loss = net.losses(batch)["total_loss"].mean()
            optimizer.zero_grad()
            loss.backward()
            if params.rescale_gradient != 1.0:
                for p in net.parameters():
                    if p.grad is not None:
                        p.grad.mul_(params.rescale_gradient)
            if math.isfinite(params.clip_gradient):
                torch.nn.utils.clip_grad_value_(net.parameters(), params.clip_gradient)
            optimizer.step()
            total += loss.item() * rows_idx.shape[0]
            rows += rows_idx.shape[0]
        if not math.isfinite(total):
            raise AlgorithmClientError(
                "Training diverged (non-finite loss); lower learning_rate or set clip_gradient"
            )
        train_loss = total / max(rows, 1)
        log(f"#quality_metric: host={host}, epoch={epoch}, train total_loss <loss>={train_loss!r}")
        monitored = train_loss
        if X_val is not None and X_val.shape[0]:
            val = mean_losses(net, X_val, torch)
            for name in ("recons_loss", "kld"):
                log(f"#quality_metric: host={host}, epoch={epoch}, validation {name} <loss>={val[name]!r}")
            log(
                f"#quality_metric: host={host}, epoch={epoch}, validation total_loss <loss>={val['total_loss']!r}"
            )
            monitored = val["total_loss"]
        improved = not math.isfinite(best) or monitored < best - params.tolerance * abs(best)
        if improved:
            best, waited = monitored, 0
            best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
        else:
            waited += 1
            if waited >= params.num_patience_epochs:
                log(f"Early stopping after epoch {epoch}: no improvement above tolerance in {waited} epochs")
                break
    if best_state is not None:
        net.load_state_dict(best_state)
    log(f"Trained {params.num_topics} topics on {X.shape[0]} documents in {time.time() - started:.3f}s")
    if vocabulary is not None:
        _log_topics(net, vocabulary, torch)
    net.eval()
    save_state(
        env.model_dir, net, {"algorithm": "ntm", "format_version": 1, "hyperparameters": asdict(params)}
    )
    test = env.channels.get("test")
    if test is not None:
        X_test = read_counts(test, params.feature_dim)
        if X_test.shape[0]:
            losses = mean_losses(net, X_test, torch)
            log(f"#quality_metric: host={host}, test total_loss <loss>={losses['total_loss']!r}")


def _log_topics(net, vocabulary: list[str], torch) -> None:
    with torch.no_grad():
        weights = net.decoder.weight.detach().numpy().T  # (topics, vocab)
    for topic, row in enumerate(weights):
        words = [vocabulary[i] for i in np.argsort(row)[::-1][:TOP_WORDS]]
        log(f"[topic {topic}] {' '.join(words)}")
