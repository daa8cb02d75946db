"""Factorization Machines training: mini-batch lazy Adam over the train stream, then test scoring."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.sparse as sp

from sagestack.algorithms.base import AlgorithmClientError, TrainingEnv, reader_content_type
from sagestack.algorithms.common import MODEL_NAME, check_labelled_batch, configure, save_metadata
from sagestack.algorithms.factorization_machines import model as fm
from sagestack.algorithms.factorization_machines.spec import SPEC, parse_hyperparameters

LABEL_HINT = "Factorization Machines needs label['values'] on every record"
FORMAT_VERSION = "1.0"
SEED = 11
# Decoded train batches are kept in memory across epochs up to this many bytes, then re-read each epoch.
CACHE_BYTES = 1 << 30


def _batch_bytes(X) -> int:
    if sp.issparse(X):
        return int(X.data.nbytes + X.indices.nbytes + X.indptr.nbytes)
    return int(np.asarray(X).nbytes)


def _targets(y, predictor_type: str) -> np.ndarray:
    y = np.asarray(y, dtype=np.float32).ravel()
    if predictor_type == "binary_classifier":
        return (y > 0).astype(np.float32)  # 0/1 labels (and -1/+1)
    return y


def _channel_batches(channel, batch_rows: int, feature_dim: int, name: str):
    from sagestack.formats.dataset import iter_channel

    for batch in iter_channel(channel.path, reader_content_type(SPEC, channel), batch_rows):
        check_labelled_batch(batch.X, batch.y, feature_dim, name, LABEL_HINT)
        X = batch.X.tocsr() if sp.issparse(batch.X) else np.asarray(batch.X)
        yield X, batch.y


def init_params(hps: dict, rng: np.random.Generator) -> fm.FMParams:
    def make(group: str, shape):
        return fm.init_array(
            shape,
            hps[f"{group}_init_method"],
            hps[f"{group}_init_sigma"],
            hps[f"{group}_init_scale"],
            hps[f"{group}_init_value"],
            rng,
        )

    d, f = hps["feature_dim"], hps["num_factors"]
    return fm.FMParams(w0=make("bias", (1,)), w=make("linear", (d,)), V=make("factors", (d, f)))


def make_optimizer(params: fm.FMParams, hps: dict) -> fm.LazyAdam:
    groups = ("bias", "linear", "factors")
    return fm.LazyAdam.for_params(
        params,
        lrs={g: hps[f"{g}_lr"] for g in groups},
        wds={g: hps[f"{g}_wd"] for g in groups},
        eps=1e-8 if hps["eps"] is None else hps["eps"],
        rescale_grad=1.0 if hps["rescale_grad"] is None else hps["rescale_grad"],
        clip_gradient=hps["clip_gradient"],
    )


def fit(hps: dict, batches_for_epoch, host: str = "algo-1") -> fm.FMParams:
    """Run ``epochs`` passes; ``batches_for_epoch(epoch)`` yields ``(X, y)`` mini-batches."""
    rng = np.random.default_rng(SEED)
    params = init_params(hps, rng)
    optimizer = make_optimizer(params, hps)
    predictor_type = hps["predictor_type"]
    objective = (
        "binary_classification_cross_entropy_objective"
        if predictor_type == "binary_classifier"
        else "mse_objective"
    )
    for epoch in range(hps["epochs"]):
        total_loss = 0.0
        rows = 0
        for X, y in batches_for_epoch(epoch):
            target = _targets(y, predictor_type)
            scores, XV, X2 = fm.forward(params, X)
            loss, dscore = fm.loss_and_dscore(scores, target, predictor_type)
            touched = fm.touched_rows(X)
            optimizer.step(params, fm.gradients(params, X, XV, X2, dscore, touched), touched)
            total_loss += loss * X.shape[0]
            rows += X.shape[0]
        if rows == 0:
            raise AlgorithmClientError("Channel 'train' holds no records")
        if not np.all(np.isfinite(params.V)) or not np.isfinite(params.w0[0]):
            raise AlgorithmClientError(
                "Training diverged (non-finite model parameters); lower the learning rates "
                "(bias_lr, linear_lr, factors_lr) or set clip_gradient"
            )
        print(f"#quality_metric: host={host}, epoch={epoch}, train {objective} <loss>={total_loss / rows!r}")
    return params


def train(env: TrainingEnv) -> None:
    hps = configure(SPEC, env, parse_hyperparameters)
    host = env.current_host
    train_channel = env.channels["train"]
    batch_rows = hps["mini_batch_size"]
    feature_dim = hps["feature_dim"]
    cache: list = []
    state = {"mode": "unknown", "bytes": 0}  # unknown → cached (fits CACHE_BYTES) | stream
    order_rng = np.random.default_rng(SEED + 1)

    def batches_for_epoch(epoch: int):
        if state["mode"] == "cached":
            for i in order_rng.permutation(len(cache)):
                yield cache[i]
            return
        caching = state["mode"] == "unknown"
        for X, y in _channel_batches(train_channel, batch_rows, feature_dim, "train"):
            if caching:
                state["bytes"] += _batch_bytes(X)
                if state["bytes"] <= CACHE_BYTES:
                    cache.append((X, y))
                else:
                    cache.clear()
                    caching = False
                    state["mode"] = "stream"
            yield X, y
        if caching:
            state["mode"] = "cached"

    params = fit(hps, batches_for_epoch, host)
    meta = {
        "predictor_type": hps["predictor_type"],
        "feature_dim": feature_dim,
        "num_factors": hps["num_factors"],
        "version": FORMAT_VERSION,
    }
    save(env.model_dir, params, meta)
    if "test" in env.channels:
        score_test(env.channels["test"], params, hps, host)


def save(model_dir: Path, params: fm.FMParams, meta: dict) -> None:
    save_metadata(model_dir, meta)
    np.savez(model_dir / f"{MODEL_NAME}.npz", w0=params.w0, w=params.w, V=params.V)


def compute_test_metrics(scores: np.ndarray, y: np.ndarray, predictor_type: str) -> dict[str, float]:
    """The documented test metrics from predictions (probabilities or regression scores)."""
    if predictor_type == "regressor":
        return {"rmse": float(np.sqrt(np.mean((scores.astype(np.float64) - y) ** 2)))}
    truth = y > 0
    p = np.clip(scores.astype(np.float64), 1e-12, 1 - 1e-12)
    predicted = scores >= 0.5
    tp = float(np.sum(predicted & truth))
    fp = float(np.sum(predicted & ~truth))
    fn = float(np.sum(~predicted & truth))
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0
    return {
        "binary_classification_accuracy": float(np.mean(predicted == truth)),
        "binary_classification_cross_entropy": float(-np.mean(np.where(truth, np.log(p), np.log(1 - p)))),
        "binary_f_beta": f1,
    }


def score_test(channel, params: fm.FMParams, hps: dict, host: str = "algo-1") -> None:
    predictor_type = hps["predictor_type"]
    scores, truths = [], []
    for X, y in _channel_batches(channel, hps["mini_batch_size"], hps["feature_dim"], "test"):
        scores.append(fm.predict_scores(params, X, predictor_type))
        truths.append(np.asarray(y, dtype=np.float32).ravel())
    if not scores:
        print("Channel 'test' holds no records; no test score")
        return
    metrics = compute_test_metrics(np.concatenate(scores), np.concatenate(truths), predictor_type)
    for name, value in metrics.items():
        print(f"#test_score ({host}) : ('{name}', {value!r})")
        print(f"#quality_metric: host={host}, test {name} <score>={value!r}")
