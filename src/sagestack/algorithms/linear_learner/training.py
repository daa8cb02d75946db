"""``train(env)``: the job entry point (channels, configuration log lines, fit, save, test metrics)."""

from __future__ import annotations

import json
import os
import sys
import time

from sagestack.algorithms.base import AlgorithmClientError, TrainingEnv, channel_content_type
from sagestack.algorithms.linear_learner.config import resolve
from sagestack.algorithms.linear_learner.data import ChannelData, memory_budget
from sagestack.algorithms.linear_learner.parallel import single_threaded_blas
from sagestack.algorithms.linear_learner.spec import SPEC
from sagestack.algorithms.linear_learner.trainer import Trainer, check_labels


def _log(message: str) -> None:
    stamp = time.strftime("%m/%d/%Y %H:%M:%S")
    sys.stdout.write(f"[{stamp} INFO {os.getpid()}] {message}\n")
    sys.stdout.flush()


def train(env: TrainingEnv) -> None:
    defaults = {hp.name: hp.default for hp in SPEC.hyperparameters if hp.default is not None}
    _log(f"Reading default configuration: {json.dumps(defaults, default=str, sort_keys=True)}")
    _log(f"Reading provided configuration from hyperparameters.json: {json.dumps(env.hyperparameters, sort_keys=True)}")
    cfg = resolve(env.hyperparameters)
    _log(
        "Final configuration: "
        + json.dumps({k: v for k, v in vars(cfg).items() if k != "grid"}, default=str, sort_keys=True)
    )
    for name in env.channels:
        if SPEC.channel(name) is None:
            raise AlgorithmClientError(
                f"Channel {name!r} is not supported by linear-learner; supported channels: train, validation, test"
            )
    if "train" not in env.channels:
        raise AlgorithmClientError("The train channel is required by linear-learner")

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
    _log(f"Train channel: {train_data.rows if train_data.rows is not None else 'streamed'} records, {feature_dim} features")
    for name in ("validation", "test"):
        if name in channels:
            channels[name].feature_dim = feature_dim
            cached = train_data.cached.nbytes if train_data.cached is not None else 0
            channels[name].budget = max(budget - cached, 0)
            channels[name].load(1)
    trainer = Trainer(cfg, train_data, channels.get("validation"), _log)
    with single_threaded_blas():
        model = trainer.fit()
        model.save(env.model_dir)
        if "test" in channels:
            trainer.log_report("test", trainer.report(model, channels["test"]))
        else:
            _log("Test data is not provided.")
    _log(f"Training finished in {time.perf_counter() - started:.3f} s ({trainer.epochs_run} epochs)")
