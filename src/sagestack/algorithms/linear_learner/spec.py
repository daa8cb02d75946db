"""Linear Learner's declaration: hyperparameters, channels, metric regexes, inference formats.

Names, ranges and defaults follow algorithms.md §2.2 (SageMaker's documentation, the SDK's checks and the
container's ``default-input.json``). Values that may be ``auto`` are declared as strings with a check and
are resolved by :mod:`.config`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sagestack.algorithms.base import AlgorithmSpec, ChannelSpec, Hyperparameter
from sagestack.algorithms.common import (
    AUTO,
    RECORDIO_AND_CSV,
    REQUEST_TYPES,
    RESPONSE_TYPES,
    auto_number,
)

PREDICTOR_TYPES = ("binary_classifier", "multiclass_classifier", "regressor")
LOSSES = (
    "auto",
    "logistic",
    "squared_loss",
    "absolute_loss",
    "hinge_loss",
    "eps_insensitive_squared_loss",
    "eps_insensitive_absolute_loss",
    "quantile_loss",
    "huber_loss",
    "softmax_loss",
)
SELECTION_CRITERIA = (
    "accuracy",
    "f_beta",
    "precision_at_target_recall",
    "recall_at_target_precision",
    "loss_function",
    "f1",
    "cross_entropy_loss",  # accepted by the SDK; aliases of f_beta (beta=1) and loss_function
)


def _tristate_check(value: Any) -> str | None:
    if str(value).strip().lower() in ("auto", "true", "false", "1", "0"):
        return None
    return f"value {value!r} is not valid; expected 'auto', 'true' or 'false'"


def _tristate(name: str, default: str, description: str = "") -> Hyperparameter:
    return Hyperparameter(name, "str", default=default, check=_tristate_check, description=description)


def _lower_choice(choices: tuple[str, ...]) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if str(value).strip().lower() in choices:
            return None
        return f"value {value!r} is not one of the allowed values [{', '.join(choices)}]"

    return check


HYPERPARAMETERS: tuple[Hyperparameter, ...] = (
    Hyperparameter(
        "predictor_type",
        "str",
        required=True,
        check=_lower_choice(PREDICTOR_TYPES),
        description="binary_classifier, multiclass_classifier or regressor",
    ),
    Hyperparameter(
        "num_classes",
        "int",
        default=None,
        low=1,
        high=1_000_000,
        description="required (3 to 1,000,000) for multiclass_classifier; ignored otherwise",
    ),
    auto_number("feature_dim", int, low=0, low_open=True),
    Hyperparameter("mini_batch_size", "int", default=1000, low=0, low_open=True),
    Hyperparameter("epochs", "int", default=15, low=0, low_open=True),
    Hyperparameter("accuracy_top_k", "int", default=3, low=0, low_open=True, high=1_000_000),
    Hyperparameter("balance_multiclass_weights", "bool", default=False),
    auto_number("beta_1", low=0, high=1, high_open=True),
    auto_number("beta_2", low=0, high=1, high_open=True),
    auto_number("bias_lr_mult", low=0, low_open=True),
    auto_number("bias_wd_mult", low=0),
    Hyperparameter(
        "binary_classifier_model_selection_criteria",
        "str",
        default="accuracy",
        check=_lower_choice(SELECTION_CRITERIA),
    ),
    Hyperparameter("early_stopping_patience", "int", default=3, low=0, low_open=True),
    Hyperparameter("early_stopping_tolerance", "float", default=0.001, low=0, low_open=True),
    Hyperparameter("f_beta", "float", default=1.0, low=0, low_open=True),
    Hyperparameter("huber_delta", "float", default=1.0, low=0),
    Hyperparameter("init_bias", "float", default=0.0),
    Hyperparameter("init_method", "str", default="uniform", check=_lower_choice(("uniform", "normal"))),
    Hyperparameter("init_scale", "float", default=0.07, low=0, low_open=True),
    Hyperparameter("init_sigma", "float", default=0.01, low=0, low_open=True),
    auto_number("l1", low=0),
    auto_number("learning_rate", low=0, low_open=True),
    Hyperparameter("loss", "str", default="auto", check=_lower_choice(LOSSES)),
    Hyperparameter("loss_insensitivity", "float", default=0.01, low=0, low_open=True),
    auto_number("lr_scheduler_factor", low=0, high=1, low_open=True, high_open=True),
    auto_number("lr_scheduler_minimum_lr", low=0, low_open=True),
    auto_number("lr_scheduler_step", int, low=0, low_open=True),
    Hyperparameter("margin", "float", default=1.0, low=0),
    auto_number("momentum", low=0, high=1, high_open=True),
    _tristate("normalize_data", "true"),
    _tristate("normalize_label", "auto"),
    auto_number("num_calibration_samples", int, low=0, low_open=True),
    auto_number("num_models", int, low=0, low_open=True),
    Hyperparameter("num_point_for_scaler", "int", default=10000, low=0, low_open=True),
    Hyperparameter(
        "optimizer", "str", default="auto", check=_lower_choice(("auto", "sgd", "adam", "rmsprop"))
    ),
    auto_number(
        "positive_example_weight_mult", low=0, low_open=True, default="1.0", words=(AUTO, "balanced")
    ),
    Hyperparameter("quantile", "float", default=0.5, low=0, high=1, low_open=True, high_open=True),
    Hyperparameter("target_precision", "float", default=0.8, low=0, high=1, low_open=True, high_open=True),
    Hyperparameter("target_recall", "float", default=0.8, low=0, high=1, low_open=True, high_open=True),
    _tristate("unbias_data", "auto"),
    _tristate("unbias_label", "auto"),
    Hyperparameter("use_bias", "bool", default=True),
    Hyperparameter("use_lr_scheduler", "bool", default=True),
    auto_number("wd", low=0),
)

_METRIC_PATTERNS: tuple[tuple[str, str, str], ...] = (
    # (metric name without channel, log key regex, <loss> or <score>)
    ("objective_loss", r"\S+_objective", "loss"),
    ("mse", "mse", "loss"),
    ("rmse", "rmse", "loss"),
    ("absolute_loss", "absolute_loss", "loss"),
    ("binary_classification_accuracy", "binary_classification_accuracy", "score"),
    ("binary_f_beta", r"binary_f_\S+", "score"),
    ("precision", "precision", "score"),
    ("recall", "recall", "score"),
    ("roc_auc_score", "roc_auc_score", "score"),
    ("multiclass_accuracy", "multiclass_accuracy", "score"),
    ("multiclass_top_k_accuracy", r"multiclass_top_k_accuracy_\S+", "score"),
    ("macro_f_beta", r"macro_f_\S+", "score"),
    ("macro_precision", "macro_precision", "score"),
    ("macro_recall", "macro_recall", "score"),
    ("dcg", "dcg", "score"),
)


def _metric_definitions() -> tuple[dict, ...]:
    """SageMaker's Linear Learner metric regexes (as DescribeTrainingJob shows them for linear-learner:1).

    Final values are logged as ``#quality_metric: host=algo-1, <channel> <key> <loss|score>=<v>``; per-epoch
    objective values carry ``epoch=<n>`` and feed ``train:objective_loss``/``validation:objective_loss``.
    """
    definitions: list[dict] = []
    for channel in ("train", "validation", "test"):
        for name, key, kind in _METRIC_PATTERNS:
            if channel == "test" or name != "objective_loss":
                definitions.append(
                    {
                        "Name": f"{channel}:{name}",
                        "Regex": rf"#quality_metric: host=\S+, {channel} {key} <{kind}>=(\S+)",
                    }
                )
    for channel in ("train", "validation"):
        definitions.append(
            {
                "Name": f"{channel}:objective_loss",
                "Regex": rf"#quality_metric: host=\S+, epoch=\S+, {channel} \S+_objective <loss>=(\S+)",
            }
        )
        definitions.append(
            {
                "Name": f"{channel}:objective_loss:final",
                "Regex": rf"#quality_metric: host=\S+, {channel} \S+_objective <loss>=(\S+)",
            }
        )
    definitions.append({"Name": "train:progress", "Regex": r"#progress_metric: host=\S+, completed (\S+) %"})
    definitions.append(
        {
            "Name": "train:throughput",
            "Regex": r"#throughput_metric: host=\S+, train throughput=(\S+) records/second",
        }
    )
    return tuple(definitions)


SPEC = AlgorithmSpec(
    name="linear-learner",
    image_repositories=("linear-learner",),
    hyperparameters=HYPERPARAMETERS,
    channels=(
        ChannelSpec("train", required=True, content_types=RECORDIO_AND_CSV),
        ChannelSpec("validation", content_types=RECORDIO_AND_CSV),
        ChannelSpec("test", content_types=RECORDIO_AND_CSV),
    ),
    metric_definitions=_metric_definitions(),
    request_content_types=REQUEST_TYPES,
    response_accept_types=RESPONSE_TYPES,  # CSV responses are not documented (§2.2 Inference)
    supports_distributed_training=False,
    supports_incremental_training=False,
)
