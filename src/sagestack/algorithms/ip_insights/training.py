"""``train(env)`` for IP Insights: negative-sampling training, ``validation:discriminator_auc``."""

from __future__ import annotations

import time
from dataclasses import asdict

import numpy as np

from sagestack.algorithms.base import AlgorithmClientError, TrainingEnv
from sagestack.algorithms.common import configure, log
from sagestack.algorithms.ip_insights.data import read_channel
from sagestack.algorithms.ip_insights.spec import SPEC, IPInsightsParams, parse_hyperparameters
from sagestack.algorithms.neural import make_optimizer, save_state, setup_torch

SEED = 0
EVAL_BATCH_ROWS = 65536


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (rank statistic, ties averaged)."""
    from scipy.stats import rankdata

    positives = labels > 0.5
    n_pos, n_neg = int(positives.sum()), int((~positives).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(scores)
    return float((ranks[positives].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _ids(entities: list[str], params: IPInsightsParams) -> np.ndarray:
    from sagestack.algorithms.ip_insights.network import entity_index

    cache: dict[str, int] = {}
    out = np.empty(len(entities), dtype=np.int64)
    for i, entity in enumerate(entities):
        index = cache.get(entity)
        if index is None:
            index = cache[entity] = entity_index(entity, params.num_entity_vectors)
        out[i] = index
    return out


def _labelled_batch(entity_ids, ips, params: IPInsightsParams, rng):
    from sagestack.algorithms.ip_insights.network import negatives

    neg_e, neg_ip = negatives(
        entity_ids, ips, params.random_negative_sampling_rate, params.shuffled_negative_sampling_rate, rng
    )
    all_e = np.concatenate([entity_ids, neg_e])
    all_ip = np.concatenate([ips, neg_ip]).astype(np.uint64)
    labels = np.concatenate([np.ones(entity_ids.shape[0]), np.zeros(neg_e.shape[0])]).astype(np.float32)
    return all_e, all_ip, labels


def _scores(net, entity_ids: np.ndarray, ips: np.ndarray, torch) -> np.ndarray:
    from sagestack.algorithms.ip_insights.network import ip_prefix_ids

    out = []
    with torch.no_grad():
        for start in range(0, entity_ids.shape[0], EVAL_BATCH_ROWS):
            e = torch.from_numpy(entity_ids[start : start + EVAL_BATCH_ROWS])
            p = torch.from_numpy(ip_prefix_ids(ips[start : start + EVAL_BATCH_ROWS]))
            out.append(net(e, p).numpy())
    return np.concatenate(out) if out else np.zeros(0)


def train(env: TrainingEnv) -> None:
    params = configure(SPEC, env, parse_hyperparameters)
    torch = setup_torch(env.num_cpus, SEED)
    from sagestack.algorithms.ip_insights.network import IPInsightsNetwork, ip_prefix_ids

    entities, ips = read_channel(env.channels["train"].path, "train")
    if not entities:
        raise AlgorithmClientError("The train channel contains no (entity, IP address) rows")
    entity_ids = _ids(entities, params)
    log(f"Read {len(entities)} pairs ({len(set(entities))} distinct entities) from the train channel")
    validation = None
    if "validation" in env.channels:
        v_entities, v_ips = read_channel(env.channels["validation"].path, "validation")
        if v_entities:
            # a fixed set of negatives, so the AUC of every epoch is measured on the same pairs
            validation = _labelled_batch(
                _ids(v_entities, params), v_ips, params, np.random.default_rng(SEED + 1)
            )

    net = IPInsightsNetwork(params.num_entity_vectors, params.vector_dim, params.num_ip_encoder_layers)
    optimizer = make_optimizer("adam", net.parameters(), params.learning_rate, params.weight_decay)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    rng = np.random.default_rng(SEED)
    host = env.current_host
    started = time.time()
    step = 0
    for epoch in range(params.epochs):
        net.train()
        order = rng.permutation(entity_ids.shape[0])
        total, count = 0.0, 0
        for start in range(0, order.shape[0], params.mini_batch_size):
            rows = order[start : start + params.mini_batch_size]
            e, ip, labels = _labelled_batch(entity_ids[rows], ips[rows], params, rng)
            logits = net(torch.from_numpy(e), torch.from_numpy(ip_prefix_ids(ip)))
            loss = loss_fn(logits, torch.from_numpy(labels))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * labels.shape[0]
            count += labels.shape[0]
            step += 1
            if step % params.batch_metrics_publish_interval == 0:
                log(f"Epoch {epoch}, batch {step}: binary_classification_cross_entropy {total / count:.6g}")
        if not np.isfinite(total):
            raise AlgorithmClientError("Training diverged (non-finite loss); lower learning_rate")
        log(
            f"#quality_metric: host={host}, epoch={epoch}, train binary_classification_cross_entropy "
            f"<loss>={total / max(count, 1)!r}"
        )
        if validation is not None:
            net.eval()
            v_e, v_ip, v_labels = validation
            value = auc(v_labels, _scores(net, v_e, v_ip, torch))
            log(
                f"#quality_metric: host={host}, epoch={epoch}, validation discriminator_auc <score>={value!r}"
            )
    log(f"Trained on {entity_ids.shape[0]} pairs for {params.epochs} epochs in {time.time() - started:.3f}s")
    net.eval()
    save_state(
        env.model_dir,
        net,
        {"algorithm": "ipinsights", "format_version": 1, "hyperparameters": asdict(params)},
    )
