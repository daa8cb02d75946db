"""Typed, resolved training configuration: ``auto`` values decided, cross-checks done, model grid drawn.

``num_models`` models are trained at once. Model 0 uses exactly the configured (or default) learning rate,
regularisation and scheduler; the others use values close to those the user fixed, and values drawn from
wide log-uniform ranges for those left ``auto`` (SageMaker: "one model is trained according to the given
training parameter, and the rest by close parameters"). The draw is seeded, so training is reproducible.

Defaults chosen for ``auto`` (SageMaker documents only that they are "computed by the algorithm"):

* ``optimizer`` adam; ``learning_rate`` 0.1 (adam), 0.01 (rmsprop, sgd); ``beta_1`` 0.9, ``beta_2`` 0.999
  (adam) and 0.9 (rmsprop's decay of the squared-gradient average); ``momentum`` 0.9 (sgd), 0 (rmsprop);
* ``wd`` 1e-4, ``l1`` 0, ``bias_lr_mult`` 1, ``bias_wd_mult`` 0;
* ``lr_scheduler_factor`` 0.98, ``lr_scheduler_minimum_lr`` 1e-5; ``lr_scheduler_step`` such that the rate
  decays 200 times over all epochs when the number of records is known before training (data held in
  memory), else 100 updates — so small and large data sets both end with a rate about 50 times smaller;
* ``num_models`` 32 (1 when SageMaker HPO launched the job: ``_tuning_objective_metric`` is set);
* ``num_calibration_samples`` 10,000,000; ``normalize_label`` true for regression only; ``unbias_data``
  and ``unbias_label`` follow ``use_bias``;
* ``positive_example_weight_mult``: ``balanced`` = negatives/positives in the scaler sample; ``auto`` gives
  the models weights between 1 and that ratio and lets model selection choose.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from sagestack.algorithms.base import AlgorithmClientError, validate_hyperparameters
from sagestack.algorithms.common import auto_value, is_auto
from sagestack.algorithms.linear_learner.spec import HYPERPARAMETERS

LOSSES_BY_PREDICTOR = {
    "binary_classifier": ("logistic", "hinge_loss"),
    "multiclass_classifier": ("softmax_loss",),
    "regressor": (
        "squared_loss",
        "absolute_loss",
        "eps_insensitive_squared_loss",
        "eps_insensitive_absolute_loss",
        "quantile_loss",
        "huber_loss",
    ),
}

DEFAULT_NUM_MODELS = 32
DEFAULT_NUM_CALIBRATION_SAMPLES = 10_000_000
DEFAULT_LR = {"adam": 0.1, "rmsprop": 0.01, "sgd": 0.01}
GRID_SEED = 20171129
AUTO_DECAYS = 200  # an auto scheduler step decays the learning rate this many times over all epochs  # fixed: the same job trains the same models


@dataclass(frozen=True)
class ModelGrid:
    """Per-model hyperparameters (arrays of length ``num_models``)."""

    learning_rate: np.ndarray
    wd: np.ndarray
    l1: np.ndarray
    lr_scheduler_step: np.ndarray  # int
    lr_scheduler_factor: np.ndarray
    lr_scheduler_minimum_lr: np.ndarray
    positive_weight_exponent: np.ndarray  # weight = ratio ** exponent when the weight is auto/balanced
    step_is_auto: bool = False  # lr_scheduler_step holds multipliers of the default step until resolved

    def with_updates(self, total_updates: int | None) -> ModelGrid:
        """Resolve an ``auto`` scheduler step: model 0 decays every ``total_updates / 200`` updates (100
        when the number of updates is not known in advance), the others at 1/4 to 4 times that pace."""
        if not self.step_is_auto:
            return self
        base = total_updates / AUTO_DECAYS if total_updates else 100.0
        steps = np.maximum(1, np.rint(self.lr_scheduler_step * base)).astype(np.int64)
        return replace(self, lr_scheduler_step=steps, step_is_auto=False)

    @property
    def size(self) -> int:
        return int(self.learning_rate.shape[0])

    def describe(self, k: int, optimizer: str) -> dict[str, Any]:
        return {
            "optimizer": optimizer,
            "learning_rate": float(self.learning_rate[k]),
            "l1": float(self.l1[k]),
            "wd": float(self.wd[k]),
            "lr_scheduler_step": int(self.lr_scheduler_step[k]),
            "lr_scheduler_factor": float(self.lr_scheduler_factor[k]),
            "lr_scheduler_minimum_lr": float(self.lr_scheduler_minimum_lr[k]),
        }


@dataclass(frozen=True)
class TrainConfig:
    predictor_type: str
    loss: str
    num_classes: int  # output columns per model: num_classes for multiclass, 1 otherwise
    feature_dim: int | None
    mini_batch_size: int
    epochs: int
    optimizer: str
    beta_1: float
    beta_2: float
    momentum: float
    bias_lr_mult: float
    bias_wd_mult: float
    use_lr_scheduler: bool
    init_method: str
    init_scale: float
    init_sigma: float
    init_bias: float
    use_bias: bool
    normalize_data: bool
    unbias_data: bool
    normalize_label: bool
    unbias_label: bool
    num_point_for_scaler: int
    num_calibration_samples: int
    criterion: str
    f_beta: float
    target_precision: float
    target_recall: float
    accuracy_top_k: int
    early_stopping_patience: int
    early_stopping_tolerance: float
    margin: float
    quantile: float
    loss_insensitivity: float
    huber_delta: float
    balance_multiclass_weights: bool
    positive_weight: float | None  # fixed multiplier, or None when it depends on the data (auto/balanced)
    grid: ModelGrid

    @property
    def num_models(self) -> int:
        return self.grid.size

    @property
    def is_binary(self) -> bool:
        return self.predictor_type == "binary_classifier"

    @property
    def is_multiclass(self) -> bool:
        return self.predictor_type == "multiclass_classifier"

    @property
    def is_regressor(self) -> bool:
        return self.predictor_type == "regressor"


def _tristate(value: Any, when_auto: bool) -> bool:
    text = str(value).strip().lower()
    if text == "auto":
        return when_auto
    return text in ("true", "1")


def resolve(raw: dict[str, str]) -> TrainConfig:
    """Validate the job's hyperparameters and resolve them to a :class:`TrainConfig`."""
    hp = validate_hyperparameters(HYPERPARAMETERS, raw, "linear-learner")
    predictor = hp["predictor_type"].strip().lower()

    loss = hp["loss"].strip().lower()
    allowed = LOSSES_BY_PREDICTOR[predictor]
    if loss == "auto":
        loss = allowed[0]
    elif loss not in allowed:
        raise AlgorithmClientError(
            f"Hyperparameter loss: value {hp['loss']!r} is not valid for predictor_type {predictor!r}; "
            f"allowed: auto, {', '.join(allowed)}"
        )

    num_classes = 1
    if predictor == "multiclass_classifier":
        if hp["num_classes"] is None:
            raise AlgorithmClientError(
                "Hyperparameter num_classes is required when predictor_type is 'multiclass_classifier'"
            )
        if hp["num_classes"] < 3:
            raise AlgorithmClientError(
                f"Hyperparameter num_classes: value {raw['num_classes']!r} must be >= 3 for "
                "predictor_type 'multiclass_classifier' (use binary_classifier for 2 classes)"
            )
        num_classes = int(hp["num_classes"])

    optimizer = hp["optimizer"].strip().lower()
    if optimizer == "auto":
        optimizer = "adam"
    criterion = hp["binary_classifier_model_selection_criteria"].strip().lower()
    f_beta = float(hp["f_beta"])
    if criterion == "f1":
        criterion, f_beta = "f_beta", 1.0
    elif criterion == "cross_entropy_loss":
        criterion = "loss_function"

    use_bias = bool(hp["use_bias"])
    is_regressor = predictor == "regressor"
    weight_text = str(hp["positive_example_weight_mult"]).strip().lower()
    positive_weight = None if weight_text in ("auto", "balanced") else float(weight_text)

    tuning = any(name == "_tuning_objective_metric" and str(v).strip() for name, v in raw.items())
    num_models = 1 if tuning else auto_value(hp["num_models"], int, DEFAULT_NUM_MODELS)

    grid = _draw_grid(hp, optimizer, num_models, weight_text)
    return TrainConfig(
        predictor_type=predictor,
        loss=loss,
        num_classes=num_classes,
        feature_dim=auto_value(hp["feature_dim"], int),
        mini_batch_size=int(hp["mini_batch_size"]),
        epochs=int(hp["epochs"]),
        optimizer=optimizer,
        beta_1=auto_value(hp["beta_1"], float, 0.9),
        beta_2=auto_value(hp["beta_2"], float, 0.999 if optimizer == "adam" else 0.9),
        momentum=auto_value(hp["momentum"], float, 0.9 if optimizer == "sgd" else 0.0),
        bias_lr_mult=auto_value(hp["bias_lr_mult"], float, 1.0),
        bias_wd_mult=auto_value(hp["bias_wd_mult"], float, 0.0),
        use_lr_scheduler=bool(hp["use_lr_scheduler"]),
        init_method=hp["init_method"].strip().lower(),
        init_scale=float(hp["init_scale"]),
        init_sigma=float(hp["init_sigma"]),
        init_bias=float(hp["init_bias"]),
        use_bias=use_bias,
        normalize_data=_tristate(hp["normalize_data"], True),
        unbias_data=_tristate(hp["unbias_data"], use_bias),
        normalize_label=is_regressor and _tristate(hp["normalize_label"], True),
        unbias_label=is_regressor and _tristate(hp["unbias_label"], use_bias),
        num_point_for_scaler=int(hp["num_point_for_scaler"]),
        num_calibration_samples=auto_value(
            hp["num_calibration_samples"], int, DEFAULT_NUM_CALIBRATION_SAMPLES
        ),
        criterion=criterion,
        f_beta=f_beta,
        target_precision=float(hp["target_precision"]),
        target_recall=float(hp["target_recall"]),
        accuracy_top_k=int(hp["accuracy_top_k"]),
        early_stopping_patience=int(hp["early_stopping_patience"]),
        early_stopping_tolerance=float(hp["early_stopping_tolerance"]),
        margin=float(hp["margin"]),
        quantile=float(hp["quantile"]),
        loss_insensitivity=float(hp["loss_insensitivity"]),
        huber_delta=float(hp["huber_delta"]),
        balance_multiclass_weights=bool(hp["balance_multiclass_weights"]),
        positive_weight=positive_weight,
        grid=grid,
    )


def _draw_grid(hp: dict[str, Any], optimizer: str, k: int, weight_mode: str) -> ModelGrid:
    rng = np.random.default_rng(GRID_SEED)

    def log_uniform(low: float, high: float) -> np.ndarray:
        return np.exp(rng.uniform(math.log(low), math.log(high), size=k))

    def close(value: float) -> np.ndarray:
        return value * log_uniform(0.5, 2.0)

    def column(name: str, default: float, low: float, high: float, zero_share: float = 0.0) -> np.ndarray:
        if is_auto(hp[name]):
            values = log_uniform(low, high)
            if zero_share:
                values[rng.uniform(size=k) < zero_share] = 0.0
            values[0] = default
        else:
            values = close(float(hp[name]))
            values[0] = float(hp[name])
        return values

    lr_default = DEFAULT_LR[optimizer]
    learning_rate = column("learning_rate", lr_default, lr_default / 100, lr_default * 3)
    wd = column("wd", 1e-4, 1e-7, 1e-2, zero_share=0.25)
    l1 = column("l1", 0.0, 1e-7, 1e-2, zero_share=0.5)
    step_auto = is_auto(hp["lr_scheduler_step"])
    if step_auto:  # multipliers of the data-dependent default step (see ModelGrid.with_updates)
        step = log_uniform(0.25, 4.0)
        step[0] = 1.0
    else:
        step = np.maximum(1, np.rint(column("lr_scheduler_step", 100, 10, 1000))).astype(np.int64)
    if is_auto(hp["lr_scheduler_factor"]):
        factor = rng.uniform(0.97, 0.995, size=k)
        factor[0] = 0.98
    else:
        factor = np.clip(close(float(hp["lr_scheduler_factor"])), 1e-6, 1 - 1e-6)
        factor[0] = float(hp["lr_scheduler_factor"])
    minimum_lr = column("lr_scheduler_minimum_lr", 1e-5, 1e-6, 1e-4)
    if weight_mode == "auto":
        exponent = np.linspace(0.0, 1.0, 5)[np.arange(k) % 5]
    elif weight_mode == "balanced":
        exponent = np.ones(k)
    else:
        exponent = np.zeros(k)
    return ModelGrid(
        learning_rate=learning_rate,
        wd=wd,
        l1=l1,
        lr_scheduler_step=step,
        lr_scheduler_factor=factor,
        lr_scheduler_minimum_lr=minimum_lr,
        positive_weight_exponent=exponent,
        step_is_auto=step_auto,
    )
