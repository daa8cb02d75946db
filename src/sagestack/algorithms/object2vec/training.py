"""``train(env)`` for Object2Vec: minibatch training with negative sampling and early stopping.

``negative_sampling_rate`` (classification): for every record, that many extra pairs of its ``in0``
with the ``in1`` of another random record, labelled 0. Early stopping: when the validation loss
(cross-entropy, or mean squared error for regression) has not improved by more than
``early_stopping_tolerance`` (relative) for ``early_stopping_patience`` epochs; the best epoch's weights
are kept. Metrics: ``validation:``/``test:`` ``accuracy`` and ``cross_entropy`` (classification) or
``mean_squared_error`` (regression).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict

import numpy as np

from sagestack.algorithms.base import AlgorithmClientError, TrainingEnv
from sagestack.algorithms.common import configure, log
from sagestack.algorithms.neural import make_optimizer, save_state, setup_torch
from sagestack.algorithms.object2vec.data import Pairs, pad, read_channel
from sagestack.algorithms.object2vec.spec import SPEC, Object2VecParams, parse_hyperparameters

SEED = 0
EVAL_BATCH_ROWS = 1024


def _batch(pairs: Pairs, rows: np.ndarray, torch):
    t0, l0 = pad([pairs.in0[i] for i in rows])
    t1, l1 = pad([pairs.in1[i] for i in rows])
    return (
        (torch.from_numpy(t0), torch.from_numpy(l0)),
        (torch.from_numpy(t1), torch.from_numpy(l1)),
        torch.from_numpy(pairs.labels[rows]),
    )


def with_negatives(pairs: Pairs, rate: int, rng: np.random.Generator) -> Pairs:
    if rate == 0 or len(pairs) < 2:
        return pairs
    n = len(pairs)
    in0, in1, labels = list(pairs.in0), list(pairs.in1), [pairs.labels]
    for _ in range(rate):
        partner = (np.arange(n) + rng.integers(1, n, size=n)) % n
        in0 += pairs.in0
        in1 += [pairs.in1[j] for j in partner]
        labels.append(np.zeros(n, dtype=np.float32))
    return Pairs(in0, in1, np.concatenate(labels))


def evaluate(net, pairs: Pairs, params: Object2VecParams, torch) -> dict[str, float]:
    net.eval()
    loss_sum, correct = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(pairs), EVAL_BATCH_ROWS):
            rows = np.arange(start, min(start + EVAL_BATCH_ROWS, len(pairs)))
            in0, in1, labels = _batch(pairs, rows, torch)
            out = net(in0, in1)
            if params.regression:
                loss_sum += float(((out[:, 0] - labels) ** 2).sum())
            else:
                loss_sum += float(torch.nn.functional.cross_entropy(out, labels.long(), reduction="sum"))
                correct += int((out.argmax(dim=1) == labels.long()).sum())
    n = max(len(pairs), 1)
    if params.regression:
        return {"mean_squared_error": loss_sum / n}
    return {"cross_entropy": loss_sum / n, "accuracy": correct / n}


def _log_metrics(host: str, channel: str, metrics: dict[str, float], epoch: int | None = None) -> None:
    where = f"epoch={epoch}, " if epoch is not None else ""
    for name, value in metrics.items():
        kind = "score" if name == "accuracy" else "loss"
        log(f"#quality_metric: host={host}, {where}{channel} {name} <{kind}>={value!r}")


def train(env: TrainingEnv) -> None:
    params = configure(SPEC, env, parse_hyperparameters)
    torch = setup_torch(env.num_cpus, SEED)
    from sagestack.algorithms.object2vec.network import Object2VecNetwork

    def read(name: str) -> Pairs | None:
        channel = env.channels.get(name)
        if channel is None:
            return None
        return read_channel(channel.path, name, params, params.regression, params.num_classes)

    train_pairs = read("train")
    if train_pairs is None or len(train_pairs) == 0:
        raise AlgorithmClientError("The train channel contains no records")
    validation, test = read("validation"), read("test")
    rng = np.random.default_rng(SEED)
    net = Object2VecNetwork(params)
    optimizer = make_optimizer(params.optimizer, net.parameters(), params.learning_rate, params.weight_decay)
    host = env.current_host
    best, best_state, waited = math.inf, None, 0
    started = time.time()
    log(f"Training on {len(train_pairs)} records ({params.enc0.network} / {params.enc1.network} encoders)")
    for epoch in range(params.epochs):
        net.train()
        data = with_negatives(train_pairs, params.negative_sampling_rate, rng)
        order = rng.permutation(len(data))
        total = 0.0
        for start in range(0, order.shape[0], params.mini_batch_size):
            rows = order[start : start + params.mini_batch_size]
            in0, in1, labels = _batch(data, rows, torch)
            out = net(in0, in1)
            if params.regression:
                loss = torch.nn.functional.mse_loss(out[:, 0], labels)
            else:
                loss = torch.nn.functional.cross_entropy(out, labels.long())
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * rows.shape[0]
        train_loss = total / len(data)
        if not math.isfinite(train_loss):
            raise AlgorithmClientError("Training diverged (non-finite loss); lower learning_rate")
        name = "mean_squared_error" if params.regression else "cross_entropy"
        log(f"#quality_metric: host={host}, epoch={epoch}, train {name} <loss>={train_loss!r}")
        monitored = train_loss
        if validation is not None and len(validation):
            metrics = evaluate(net, validation, params, torch)
            _log_metrics(host, "validation", metrics, epoch)
            monitored = metrics[name]
        if not math.isfinite(best) or monitored < best - params.early_stopping_tolerance * abs(best):
            best, waited = monitored, 0
            best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
        else:
            waited += 1
            if waited >= params.early_stopping_patience:
                log(f"Early stopping after epoch {epoch}: no improvement above tolerance in {waited} epochs")
                break
    if best_state is not None:
        net.load_state_dict(best_state)
    net.eval()
    log(f"Trained in {time.time() - started:.3f}s")
    metadata = {"algorithm": "object2vec", "format_version": 1, "params": asdict(params)}
    save_state(env.model_dir, net, metadata)
    if validation is not None and len(validation):
        _log_metrics(host, "validation", evaluate(net, validation, params, torch))
    if test is not None and len(test):
        _log_metrics(host, "test", evaluate(net, test, params, torch))
