"""``train(env)``: the job entry point (channels, configuration log lines, fit, save, test metrics)."""

from __future__ import annotations

import time

from sagestack.algorithms.base import TrainingEnv, channel_content_type
from sagestack.algorithms.common import configure, log
from sagestack.algorithms.linear_learner.config import resolve
from sagestack.algorithms.linear_learner.data import ChannelData, memory_budget
from sagestack.algorithms.linear_learner.parallel import single_threaded_blas
from sagestack.algorithms.linear_learner.spec import SPEC
from sagestack.algorithms.linear_learner.trainer import Trainer, check_labels


def _describe(cfg) -> dict:
    """The final configuration as logged (the drawn model grid left out)."""
    return {k: v for k, v in vars(cfg).items() if k != "grid"}


def train(env: TrainingEnv) -> None:
    cfg = configure(SPEC, env, resolve, describe=_describe)
    budget = memory_budget()
    channels: dict[str, ChannelData] = {}
    for name in ("train", "validation", "test"):
        channel = env.channels.get(name)
        if channel is None:
            continue
        data = ChannelData(name, channel.path, channel_content_type(SPEC, channel), cfg.feature_dim, budget)
        data.validate = check_labels(cfg, name)
        channels[name] = data

    started = time.perf_counter()
    train_data = channels["train"]
    train_data.load(max(cfg.num_point_for_scaler, 1))
    feature_dim = train_data.feature_dim
    log(
        f"Train channel: {train_data.rows if train_data.rows is not None else 'streamed'} records, {feature_dim} features"
    )
    for name in ("validation", "test"):
        if name in channels:
            channels[name].feature_dim = feature_dim
            cached = train_data.cached.nbytes if train_data.cached is not None else 0
            channels[name].budget = max(budget - cached, 0)
            channels[name].load(1)
    trainer = Trainer(cfg, train_data, channels.get("validation"), log)
    with single_threaded_blas():
        model = trainer.fit()
        model.save(env.model_dir)
        if "test" in channels:
            trainer.log_report("test", trainer.report(model, channels["test"]))
        else:
            log("Test data is not provided.")
    log(f"Training finished in {time.perf_counter() - started:.3f} s ({trainer.epochs_run} epochs)")
