"""The training procedure: scaler, epochs of parallel mini-batch updates, early stopping, model selection,
threshold calibration, final metrics.

* Scaler and label statistics come from the first ``num_point_for_scaler`` training records (a random
  sample when the channel fits in memory).
* Every epoch each model's *selection metric* is measured: on the validation channel when there is one
  (binary classifiers: the ``binary_classifier_model_selection_criteria`` value at each model's best
  threshold on up to 100,000 validation records, SageMaker's "sampled" criterion; otherwise the objective
  loss), else the epoch's training loss. Each model keeps its best epoch's parameters.
* Early stopping: training ends when the best metric over all models has not improved by more than
  ``early_stopping_tolerance`` (relative) for ``early_stopping_patience`` epochs.
* The model with the best metric wins (without validation, binary classifiers are compared with the
  criterion on a training sample). Its decision threshold is then tuned for the criterion on up to
  ``num_calibration_samples`` validation (or training) records; ``loss_function`` keeps 0.5 (logistic) or
  0 (hinge).
* Reported objective losses are in the original label units (regression losses are computed on
  normalised labels, with ``huber_delta``/``loss_insensitivity`` in those units, and scaled back).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

import numpy as np

from sagestack.algorithms.base import AlgorithmClientError, AlgorithmError
from sagestack.algorithms.linear_learner.config import TrainConfig
from sagestack.algorithms.linear_learner.data import ChannelData, Chunk
from sagestack.algorithms.linear_learner.metrics import (
    MulticlassAccumulator,
    RegressionAccumulator,
    binary_metrics,
    threshold_search,
)
from sagestack.algorithms.linear_learner.model import LinearModel
from sagestack.algorithms.linear_learner.objectives import LABEL_SCALE_POWER, OBJECTIVE_NAMES, loss_and_grad
from sagestack.algorithms.linear_learner.parallel import ParallelModels, Scaler

CRITERION_SAMPLE_ROWS = 100_000
EVAL_ELEMENTS = 1 << 22  # rows * outputs per evaluation block

Log = Callable[[str], None]


@dataclass(frozen=True)
class LabelStats:
    mean: float = 0.0
    scale: float = 1.0
    positive_weights: np.ndarray | None = None  # binary: (models,)
    class_weights: np.ndarray | None = None  # multiclass: (classes,)


def check_labels(cfg: TrainConfig, channel: str) -> Callable[[Chunk], None]:
    """A per-chunk label validator for the predictor type."""

    def check(chunk: Chunk) -> None:
        y = chunk.y
        if not np.isfinite(y).all():
            raise AlgorithmClientError(f"The {channel} channel contains NaN or infinite labels")
        if cfg.is_binary:
            if np.any((y != 0) & (y != 1)):
                bad = y[(y != 0) & (y != 1)][0]
                raise AlgorithmClientError(
                    f"The {channel} channel has label {bad:g}; binary_classifier labels must be 0 or 1"
                )
        elif cfg.is_multiclass:
            bad_mask = (y < 0) | (y >= cfg.num_classes) | (y != np.floor(y))
            if np.any(bad_mask):
                raise AlgorithmClientError(
                    f"The {channel} channel has label {y[bad_mask][0]:g}; multiclass_classifier labels must "
                    f"be integers 0 to num_classes - 1 = {cfg.num_classes - 1}"
                )

    return check


def label_stats(cfg: TrainConfig, y: np.ndarray) -> LabelStats:
    if cfg.is_regressor:
        mean = float(y.mean()) if cfg.unbias_label else 0.0
        scale = float(y.std()) if cfg.normalize_label else 1.0
        return LabelStats(mean=mean, scale=scale if scale > 1e-12 else 1.0)
    if cfg.is_binary:
        positives = float((y == 1).sum())
        ratio = (y.shape[0] - positives) / positives if positives else 1.0
        if cfg.positive_weight is not None:
            weights = np.full(cfg.num_models, cfg.positive_weight)
        else:
            weights = ratio**cfg.grid.positive_weight_exponent
        return LabelStats(positive_weights=weights.astype(np.float32))
    if cfg.balance_multiclass_weights:
        counts = np.bincount(y.astype(np.int64), minlength=cfg.num_classes).astype(np.float64)
        weights = np.where(counts > 0, y.shape[0] / (cfg.num_classes * np.maximum(counts, 1)), 1.0)
        return LabelStats(class_weights=weights.astype(np.float32))
    return LabelStats()


def batch_weights(cfg: TrainConfig, stats: LabelStats, chunk: Chunk) -> np.ndarray | None:
    w = chunk.w
    if stats.positive_weights is not None:
        pw = stats.positive_weights
        if np.all(pw == 1.0):
            return w
        if np.all(pw == pw[0]):
            out = np.where(chunk.y == 1, pw[0], np.float32(1.0)).astype(np.float32)
            return out if w is None else out * w
        out = 1.0 + chunk.y[:, None] * (pw[None, :] - 1.0)
        return (out if w is None else out * w[:, None]).astype(np.float32)
    if stats.class_weights is not None:
        out = stats.class_weights[chunk.y.astype(np.int64)]
        return out if w is None else out * w
    return w


def _target(cfg: TrainConfig, stats: LabelStats, y: np.ndarray) -> np.ndarray:
    if cfg.is_regressor and (stats.mean != 0.0 or stats.scale != 1.0):
        return ((y - stats.mean) / stats.scale).astype(np.float32)
    return y


def loss_units(cfg: TrainConfig, stats: LabelStats) -> float:
    """Factor turning a loss on normalised labels into original label units."""
    return stats.scale ** LABEL_SCALE_POWER.get(cfg.loss, 0)


def _fmt(value: float) -> str:
    return repr(float(value))


class Trainer:
    def __init__(self, cfg: TrainConfig, train: ChannelData, validation: ChannelData | None, log: Log):
        self.cfg = cfg
        self.train = train
        self.validation = validation
        self.log = log
        self.objective = OBJECTIVE_NAMES[cfg.loss]
        self.uses_criterion = cfg.is_binary and cfg.criterion != "loss_function"

    # ------------------------------------------------------------------ set-up
    def setup(self) -> None:
        cfg = self.cfg
        sample = self.train.sample(cfg.num_point_for_scaler)
        self.feature_dim = int(sample.X.shape[1])
        self.scaler = Scaler.fit(sample.X, cfg.normalize_data, cfg.unbias_data)
        self.stats = label_stats(cfg, sample.y)
        self.units = loss_units(cfg, self.stats)
        if cfg.grid.step_is_auto:
            rows = self.train.rows
            updates = -(-rows // cfg.mini_batch_size) * cfg.epochs if rows else None
            self.cfg = cfg = replace(cfg, grid=cfg.grid.with_updates(updates))
        self.models = ParallelModels(cfg, self.feature_dim, self.scaler)
        self.eval_rows = max(256, EVAL_ELEMENTS // max(self.models.P.shape[1], 1))
        self.train_sample = self.train.sample(CRITERION_SAMPLE_ROWS)
        self.log(
            f"Scaler computed on {sample.rows} records (normalize_data={cfg.normalize_data}, "
            f"unbias_data={cfg.unbias_data}); training {cfg.num_models} models in parallel"
        )

    # ------------------------------------------------------------------ epochs
    def run_epochs(self) -> None:
        cfg, models = self.cfg, self.models
        k = cfg.num_models
        self.best_metric = np.full(k, np.inf)
        self.best_P = models.P.copy()
        self.train_loss = np.full(k, np.inf)
        self.best_train_loss = np.full(k, np.inf)
        overall_best = math.inf
        stale = 0
        for epoch in range(cfg.epochs):
            started = time.perf_counter()
            rows = 0
            for chunk in self.train.batches(cfg.mini_batch_size):
                weights = batch_weights(cfg, self.stats, chunk)
                models.train_batch(chunk.X, _target(cfg, self.stats, chunk.y), weights)
                rows += chunk.rows
            elapsed = time.perf_counter() - started
            alive = models.retire_diverged()
            train_loss, _, _ = self.evaluate_all([self.train_sample], with_scores=False)
            train_loss = np.where(alive, train_loss, np.inf)
            self.train_loss = train_loss
            self.log(
                f"#quality_metric: host=algo-1, epoch={epoch}, train {self.objective}_objective "
                f"<loss>={_fmt(np.min(train_loss))}"
            )
            if self.validation is not None:
                val_loss, scores, labels = self.evaluate_all(self.validation.chunks(self.eval_rows))
                val_loss = np.where(alive, val_loss, np.inf)
                self.log(
                    f"#quality_metric: host=algo-1, epoch={epoch}, validation {self.objective}_objective "
                    f"<loss>={_fmt(np.min(val_loss))}"
                )
                if self.uses_criterion:
                    value, _ = self.criterion(scores, labels)
                    metric = np.where(alive, -value, np.inf)
                    self.log(
                        f"#early_stopping_criteria_metric: host=algo-1, epoch={epoch}, "
                        f"criteria=sampled_{cfg.criterion}, value={_fmt(-np.min(metric))}"
                    )
                else:
                    metric = val_loss
            else:
                metric = train_loss
            improved = metric < self.best_metric
            if improved.any():
                self.best_metric = np.where(improved, metric, self.best_metric)
                self.best_train_loss = np.where(improved, train_loss, self.best_train_loss)
                cols = np.repeat(improved, cfg.num_classes)
                self.best_P[:, cols] = models.P[:, cols]
            current = float(np.min(metric))
            if not math.isfinite(current) and not math.isfinite(overall_best):
                raise AlgorithmError("Every model diverged (non-finite loss); lower the learning_rate")
            if math.isinf(overall_best) or (overall_best - current) > cfg.early_stopping_tolerance * abs(
                overall_best
            ):
                if current < overall_best:
                    self.log(f"Epoch {epoch}: Loss improved. Updating best model")
                overall_best = min(overall_best, current)
                stale = 0
            else:
                stale += 1
                self.log(f"Epoch {epoch}: Loss has not improved for {stale} epochs.")
            self.log(
                f"#progress_metric: host=algo-1, completed {100.0 * (epoch + 1) / cfg.epochs:g} % of epochs"
            )
            self.log(
                f"#throughput_metric: host=algo-1, train throughput={rows / max(elapsed, 1e-9):.1f} records/second"
            )
            if stale >= cfg.early_stopping_patience:
                self.log("Early stop condition met. Stopping training.")
                break
        self.epochs_run = epoch + 1

    def evaluate_all(
        self, chunks: Iterable[Chunk], with_scores: bool = True
    ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """Per-model mean objective (label units, unweighted) over the chunks, plus the decision values
        of the first records for the selection criterion (binary, ``with_scores``)."""
        cfg = self.cfg
        total = np.zeros(cfg.num_models)
        rows = 0
        scores, labels = [], []
        kept = 0
        want_scores = with_scores and self.uses_criterion
        for big in chunks:
            for start in range(0, big.rows, self.eval_rows):
                chunk = big.take(slice(start, start + self.eval_rows))
                with np.errstate(over="ignore", invalid="ignore", under="ignore"):
                    z = self.models.decision(chunk.X)
                    loss, _ = loss_and_grad(cfg, z, _target(cfg, self.stats, chunk.y), None, grad=False)
                total += loss
                rows += chunk.rows
                if want_scores and kept < CRITERION_SAMPLE_ROWS:
                    take = min(chunk.rows, CRITERION_SAMPLE_ROWS - kept)
                    scores.append(z[:take])
                    labels.append(chunk.y[:take])
                    kept += take
        mean = np.where(np.isfinite(total), total / max(rows, 1) * self.units, np.inf)
        if not want_scores:
            return mean, None, None
        return mean, np.concatenate(scores), np.concatenate(labels)

    def criterion(self, scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        cfg = self.cfg
        safe = np.nan_to_num(scores.astype(np.float64), nan=0.0, posinf=1e30, neginf=-1e30)
        return threshold_search(
            safe, labels, cfg.criterion, cfg.f_beta, cfg.target_precision, cfg.target_recall
        )

    # ------------------------------------------------------------------ selection
    def select(self) -> int:
        metric = self.best_metric
        if self.validation is None and self.uses_criterion:
            sample = self.train.sample(CRITERION_SAMPLE_ROWS)
            with np.errstate(over="ignore", invalid="ignore"):
                z = self.models.decision(sample.X, self.best_P)
            value, _ = self.criterion(z, sample.y)
            metric = np.where(np.isfinite(self.best_metric), -value, np.inf)
        return int(np.argmin(metric))

    def final_model(self, k: int) -> LinearModel:
        cfg = self.cfg
        P = self.best_P[:, self.models.columns(k)].astype(np.float64)
        W, b = P[:-1], P[-1]
        inv_sigma = self.scaler.inv_sigma.astype(np.float64)
        weights = W * inv_sigma[:, None]
        bias = b - (self.scaler.mu.astype(np.float64) * inv_sigma) @ W
        if cfg.is_regressor:
            weights = weights * self.stats.scale
            bias = bias * self.stats.scale + self.stats.mean
        described = cfg.grid.describe(k, cfg.optimizer)
        if cfg.is_binary:
            described["positive_example_weight_mult"] = float(self.stats.positive_weights[k])
        model = LinearModel(cfg.predictor_type, cfg.loss, weights, bias, None, described)
        if cfg.is_binary:
            model.threshold = self.calibrate(model)
        return model

    def calibrate(self, model: LinearModel) -> float:
        cfg = self.cfg
        if cfg.criterion == "loss_function":
            return 0.5 if cfg.loss == "logistic" else 0.0
        channel = self.validation if self.validation is not None else self.train
        scores, labels = [], []
        kept = 0
        for chunk in channel.chunks():
            take = min(chunk.rows, cfg.num_calibration_samples - kept)
            part = chunk.take(slice(0, take))
            scores.append(model.scores(part.X))
            labels.append(part.y)
            kept += take
            if kept >= cfg.num_calibration_samples:
                break
        _, threshold = self.criterion(np.concatenate(scores), np.concatenate(labels))
        return float(threshold[0])

    # ------------------------------------------------------------------ reports
    def report(self, model: LinearModel, channel: ChannelData) -> dict[str, float]:
        """Final metrics of ``model`` on a channel, objective first."""
        cfg = self.cfg
        total = 0.0
        rows = 0
        binary_scores, binary_labels = [], []
        multiclass = MulticlassAccumulator(cfg.num_classes, cfg.accuracy_top_k, cfg.f_beta)
        regression = RegressionAccumulator()
        for chunk in channel.chunks():
            z = model.decision(chunk.X)
            target = _target(cfg, self.stats, chunk.y)
            z_train = (z - self.stats.mean) / self.stats.scale if cfg.is_regressor else z
            with np.errstate(over="ignore", invalid="ignore", under="ignore"):
                loss, _ = loss_and_grad(
                    cfg, z_train.astype(np.float64), target.astype(np.float64), None, grad=False
                )
            total += float(loss[0])
            rows += chunk.rows
            scores = model.scores(chunk.X)
            if cfg.is_binary:
                binary_scores.append(scores)
                binary_labels.append(chunk.y)
            elif cfg.is_multiclass:
                multiclass.update(scores, chunk.y)
            else:
                regression.update(scores, chunk.y)
        result = {f"{self.objective}_objective": total / max(rows, 1) * self.units}
        if cfg.is_binary:
            result.update(
                binary_metrics(
                    np.concatenate(binary_scores), np.concatenate(binary_labels), model.threshold, cfg.f_beta
                )
            )
        elif cfg.is_multiclass:
            result.update(multiclass.result())
        else:
            result.update(regression.result())
        return result

    def log_report(self, channel: str, result: dict[str, float]) -> None:
        for key, value in result.items():
            self.log(f"#{channel}_score (algo-1) : ({key!r}, {_fmt(value)})")
        for key, value in result.items():
            kind = (
                "loss" if key.endswith("_objective") or key in ("mse", "rmse", "absolute_loss") else "score"
            )
            self.log(f"#quality_metric: host=algo-1, {channel} {key} <{kind}>={_fmt(value)}")

    def fit(self) -> LinearModel:
        self.setup()
        self.run_epochs()
        k = self.select()
        model = self.final_model(k)
        self.log(
            f"#quality_metric: host=algo-1, train {self.objective}_objective "
            f"<loss>={_fmt(self.best_train_loss[k])}"
        )
        if self.validation is not None:
            self.log_report("validation", self.report(model, self.validation))
        if model.threshold is not None:
            self.log(f"Decision threshold for {self.cfg.criterion}: {model.threshold!r}")
        self.log(f"Best model found for hyperparameters: {json.dumps(model.hyperparameters)}")
        return model
