"""``train(env)`` for DeepAR: windows sampled across the train series, Adam on the likelihood's
negative log-likelihood, early stopping on the epoch loss, then the test channel's forecast metrics.

Each epoch draws ``max(MIN_BATCHES_PER_EPOCH, ceil(total windows / mini_batch_size))`` batches of
windows of ``context_length + prediction_length`` steps; series are chosen in proportion to their
length and window ends uniformly inside them. The learning rate halves when the epoch loss stops
improving for ``LR_PATIENCE`` epochs; with ``early_stopping_patience`` training stops after that many
epochs without improvement and the best epoch's weights are kept (SageMaker's documented behaviour).
"""

from __future__ import annotations

import copy
import math
import time

import numpy as np

from sagestack.algorithms.base import AlgorithmClientError, TrainingEnv, reader_content_type
from sagestack.algorithms.common import configure, log
from sagestack.algorithms.deepar import data as series_data
from sagestack.algorithms.deepar import features
from sagestack.algorithms.deepar.forecast import sample_paths
from sagestack.algorithms.deepar.model import DeepARConfig, DeepARModel, lay_out, save_model
from sagestack.algorithms.deepar.network import DeepARNetwork, distribution, prepare_target
from sagestack.algorithms.deepar.spec import SPEC, DeepARParams, parse_hyperparameters
from sagestack.algorithms.deepar.windows import make_batch
from sagestack.algorithms.file_channels import refuse_pipe_mode

SEED = 42
MIN_BATCHES_PER_EPOCH = 50  # as GluonTS's num_batches_per_epoch
LR_PATIENCE = 10
MAX_THREADS = 1  # small recurrent networks: one thread is fastest, and fair to shared hosts


def _describe(params: DeepARParams) -> dict:
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(params).items()}


def resolve_cardinality(params: DeepARParams, series: list[series_data.Series], n_cat: int) -> list[int]:
    if params.cardinality == "ignore" or n_cat == 0:
        if isinstance(params.cardinality, list) and params.cardinality and n_cat == 0:
            raise AlgorithmClientError(
                f"Hyperparameter cardinality is {params.cardinality} but the series have no 'cat' field"
            )
        return []
    if params.cardinality == "auto":
        return [max(s.cat[i] for s in series) + 1 for i in range(n_cat)]  # type: ignore[index]
    if len(params.cardinality) != n_cat:
        raise AlgorithmClientError(
            f"Hyperparameter cardinality has {len(params.cardinality)} entries but the series have "
            f"{n_cat} 'cat' values"
        )
    for i, limit in enumerate(params.cardinality):
        top = max(s.cat[i] for s in series)  # type: ignore[index]
        if top >= limit:
            raise AlgorithmClientError(
                f"A series has cat[{i}] = {top}, which is not below cardinality[{i}] = {limit}"
            )
    return list(params.cardinality)


def resolve_dynamic(params: DeepARParams, n_dyn: int) -> int:
    if params.num_dynamic_feat == "ignore":
        return 0
    if params.num_dynamic_feat == "auto":
        return n_dyn
    if params.num_dynamic_feat != n_dyn:
        raise AlgorithmClientError(
            f"Hyperparameter num_dynamic_feat is {params.num_dynamic_feat} but the series have {n_dyn} "
            f"'dynamic_feat' arrays"
        )
    return n_dyn


def check_values(likelihood: str, series: list[series_data.Series], name: str) -> None:
    values = np.concatenate([s.target for s in series])
    values = values[~np.isnan(values)]
    if not np.isfinite(values).all():
        raise AlgorithmClientError(f"Channel {name!r} has infinite target values")
    if likelihood == "negative-binomial" and (values < 0).any():
        raise AlgorithmClientError(
            f"Channel {name!r} has negative target values; the negative-binomial likelihood needs counts >= 0"
        )
    if likelihood == "beta" and ((values < 0) | (values > 1)).any():
        raise AlgorithmClientError(
            f"Channel {name!r} has target values outside [0, 1], as the beta likelihood needs"
        )


def fit(params: DeepARParams, config: DeepARConfig, series: list[series_data.Series], host: str):
    import torch

    torch.manual_seed(SEED)
    rng = np.random.default_rng(SEED)
    network = DeepARNetwork(**config.network_kwargs())
    optimizer = torch.optim.Adam(network.parameters(), lr=params.learning_rate)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=LR_PATIENCE)
    laids = [lay_out(config, s) for s in series]
    lengths = np.array([laid.length for laid in laids], dtype=np.float64)
    W = config.context_length + config.prediction_length
    windows = float(np.sum(np.ceil(lengths / W)))
    batches = max(MIN_BATCHES_PER_EPOCH, math.ceil(windows / params.mini_batch_size))
    weights = lengths / lengths.sum()
    best_loss, best_state, stale = math.inf, None, 0
    loss_value = math.nan
    for epoch in range(params.epochs):
        started = time.time()
        network.train()
        total, count = 0.0, 0
        for _ in range(batches):
            chosen = rng.choice(len(laids), size=params.mini_batch_size, p=weights)
            ends = [config.pad + int(rng.integers(1, laids[i].length + 1)) for i in chosen]
            batch = make_batch(network, config, [(laids[i], e) for i, e in zip(chosen, ends)], W)
            raw, _ = network(batch.inputs)
            dist = distribution(config.likelihood, raw, batch.scale.view(-1, 1))
            nll = -dist.log_prob(prepare_target(config.likelihood, batch.target))
            weight = batch.observed.sum()
            loss = (nll * batch.observed).sum() / weight.clamp(min=1.0)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(network.parameters(), 10.0)
            optimizer.step()
            total += loss.item() * weight.item()
            count += float(weight)
        loss_value = total / max(count, 1.0)
        if not math.isfinite(loss_value):
            raise AlgorithmClientError(
                "Training diverged (the loss is not finite); lower learning_rate or check the likelihood"
            )
        scheduler.step(loss_value)
        log(f"Epoch[{epoch}] Train-loss={loss_value!r} ({time.time() - started:.3f}s)")
        print(f"#quality_metric: host={host}, epoch={epoch}, train loss <loss>={loss_value!r}", flush=True)
        if loss_value < best_loss - 1e-6:
            best_loss, best_state, stale = loss_value, copy.deepcopy(network.state_dict()), 0
        else:
            stale += 1
            if params.early_stopping_patience is not None and stale >= params.early_stopping_patience:
                log(f"Loss has not improved in {stale} epochs; stopping early (best loss {best_loss!r})")
                break
    final = best_loss if best_state is not None else loss_value
    print(f"#quality_metric: host={host}, train final_loss <loss>={final!r}", flush=True)
    if best_state is not None:
        network.load_state_dict(best_state)
    network.eval()
    return network


def evaluate(model: DeepARModel, test: list[series_data.Series], params: DeepARParams) -> dict[str, float]:
    """RMSE of the mean forecast and the weighted quantile losses over each test series' last
    ``prediction_length`` values, forecast from the values before them."""
    P = model.config.prediction_length
    truths, means, quantile_preds = [], [], {q: [] for q in params.test_quantiles}
    for index, s in enumerate(test):
        if s.target.shape[0] <= P:
            raise AlgorithmClientError(
                f"Channel 'test', series {index}: it has {s.target.shape[0]} values; a test series needs more "
                f"than prediction_length ({P})"
            )
        history = series_data.Series(
            s.start,
            s.target[:-P],
            s.cat,
            None if s.dynamic_feat is None else s.dynamic_feat[:, : s.target.shape[0]],
        )
        samples = sample_paths(model, history, params.num_eval_samples, seed=index)
        truths.append(s.target[-P:])
        means.append(samples.mean(axis=0))
        for q in params.test_quantiles:
            quantile_preds[q].append(np.quantile(samples, q, axis=0))
    y = np.concatenate(truths).astype(np.float64)
    observed = ~np.isnan(y)
    y = y[observed]
    mean = np.concatenate(means)[observed]
    metrics = {"RMSE": float(np.sqrt(np.mean((y - mean) ** 2))) if y.size else math.nan}
    denominator = float(np.abs(y).sum())
    w_losses, abs_losses = [], []
    for q in params.test_quantiles:
        pred = np.concatenate(quantile_preds[q])[observed]
        loss = 2.0 * float(np.sum(np.abs((y - pred) * ((y <= pred) - q))))
        abs_losses.append(loss)
        w_losses.append(loss / denominator if denominator > 0 else math.nan)
        metrics[f"wQuantileLoss[{q}]"] = w_losses[-1]
    metrics["mean_absolute_QuantileLoss"] = float(np.mean(abs_losses))
    metrics["mean_wQuantileLoss"] = float(np.mean(w_losses))
    return metrics


def train(env: TrainingEnv) -> None:
    import torch

    params = configure(SPEC, env, parse_hyperparameters, _describe)
    torch.set_num_threads(max(1, min(MAX_THREADS, env.num_cpus)))
    refuse_pipe_mode(env, SPEC.name)
    host = env.current_host
    channel = env.channels["train"]
    train_series = series_data.read_channel(channel.path, reader_content_type(SPEC, channel), "train")
    n_cat, n_dyn = series_data.check_consistent(train_series, "train")
    check_values(params.likelihood, train_series, "train")
    cardinality = resolve_cardinality(params, train_series, n_cat)
    num_dyn = resolve_dynamic(params, n_dyn)
    test_series = None
    if "test" in env.channels:
        tchannel = env.channels["test"]
        test_series = series_data.read_channel(tchannel.path, reader_content_type(SPEC, tchannel), "test")
        t_cat, t_dyn = series_data.check_consistent(test_series, "test")
        if (cardinality and t_cat != n_cat) or (num_dyn and t_dyn != n_dyn):
            raise AlgorithmClientError(
                "The test series must have the same 'cat' and 'dynamic_feat' as the train series"
            )
        for index, s in enumerate(test_series):
            if cardinality and any(c >= limit for c, limit in zip(s.cat, cardinality)):  # type: ignore[arg-type]
                raise AlgorithmClientError(
                    f"Channel 'test', series {index}: a 'cat' value is not seen in training"
                )
    config = DeepARConfig(
        time_freq=params.time_freq,
        context_length=params.context_length,
        prediction_length=params.prediction_length,
        likelihood=params.likelihood,
        lags=features.lags(params.time_freq),
        cardinality=cardinality,
        num_dynamic_feat=num_dyn,
        embedding_dimension=params.embedding_dimension,
        num_cells=params.num_cells,
        num_layers=params.num_layers,
        dropout_rate=params.dropout_rate,
    )
    log(f"Training on {len(train_series)} time series ({sum(s.target.size for s in train_series)} values)")
    started = time.time()
    network = fit(params, config, train_series, host)
    log(f"Training took {time.time() - started:.3f}s")
    log(f"Serializing to {env.model_dir}/model_algo-1")
    save_model(env.model_dir, config, network.state_dict())
    if test_series is not None:
        metrics = evaluate(DeepARModel(config, network), test_series, params)
        for name, value in metrics.items():
            print(f"#test_score ({host}, {name}): {value!r}", flush=True)
        print(f"#quality_metric: host={host}, test RMSE <loss>={metrics['RMSE']!r}", flush=True)
        print(
            f"#quality_metric: host={host}, test mean_wQuantileLoss <loss>={metrics['mean_wQuantileLoss']!r}",
            flush=True,
        )
