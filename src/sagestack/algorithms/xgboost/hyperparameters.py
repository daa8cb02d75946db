"""XGBoost hyperparameters as SageMaker's container declares and validates them (algorithms.md §2.1).

Unset hyperparameters stay unset (XGBoost's own defaults apply), as in the container. Declarations
carry no defaults; the documented defaults live in each ``description``.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

from sagestack.algorithms.base import AlgorithmClientError, Hyperparameter

from .metrics import ALL_METRICS, THRESHOLD_METRICS, TUNING_METRIC_NAMES
from .versions import ImageVersion

OBJECTIVES: tuple[str, ...] = (
    "aft_loss_distribution",
    "binary:logistic",
    "binary:logitraw",
    "binary:hinge",
    "count:poisson",
    "multi:softmax",
    "multi:softprob",
    "rank:pairwise",
    "rank:ndcg",
    "rank:map",
    "reg:linear",
    "reg:squarederror",
    "reg:logistic",
    "reg:gamma",
    "reg:pseudohubererror",
    "reg:squaredlogerror",
    "reg:absoluteerror",
    "reg:tweedie",
    "survival:aft",
    "survival:cox",
)
UPDATERS: tuple[str, ...] = (
    "grow_colmaker",
    "distcol",
    "grow_histmaker",
    "grow_skmaker",
    "sync",
    "refresh",
    "prune",
    "grow_quantile_histmaker",
    "shotgun",
    "coord_descent",
)
_TREE_PLUGINS = (
    "grow_colmaker",
    "distcol",
    "grow_histmaker",
    "grow_skmaker",
    "sync",
    "refresh",
    "prune",
    "grow_quantile_histmaker",
)
_TREE_BUILD_PLUGINS = ("grow_colmaker", "distcol", "grow_histmaker", "grow_quantile_histmaker")
_LINEAR_PLUGINS = ("shotgun", "coord_descent")
_UPDATE_PLUGINS = ("refresh", "prune")

ALIASES: dict[str, str] = {
    "learning_rate": "eta",
    "min_split_loss": "gamma",
    "reg_lambda": "lambda",
    "reg_alpha": "alpha",
}


def _check_eval_metric(values: list[str]) -> str | None:
    for metric in values:
        if "<function" in metric:
            return f"User defined evaluation metric {metric} is not supported yet."
        if "@" in metric:
            name, threshold = (part.strip() for part in metric.split("@", 1))
            if name not in THRESHOLD_METRICS:
                return (
                    f"Metric '{metric}' is not supported. Parameter 'eval_metric' with customized "
                    "threshold should be one of these options: 'error', 'ndcg', 'map'."
                )
            try:
                float(threshold.rstrip("-"))
            except ValueError:
                return f"Threshold value 't' in '{name}@t' expects float input."
        elif metric not in ALL_METRICS:
            return f"value {metric!r} is not one of the supported metrics [{', '.join(ALL_METRICS)}]"
    return None


def _parse_monotone(value: str) -> tuple:
    parsed = ast.literal_eval(value.strip())
    if isinstance(parsed, (int, float)):
        parsed = (parsed,)
    return tuple(parsed)


def _check_monotone(value: str) -> str | None:
    try:
        items = _parse_monotone(value)
    except (ValueError, SyntaxError, TypeError):
        return f"could not parse value {value!r}; expected a tuple such as (0,1,-1)"
    if any(item not in (-1, 0, 1) for item in items):
        return f"value {value!r} not in range [-1, 0, 1]"
    return None


def _check_interaction(value: str) -> str | None:
    try:
        parsed = ast.literal_eval(value.strip())
        if not isinstance(parsed, (list, tuple)) or not all(isinstance(g, (list, tuple)) for g in parsed):
            raise ValueError
    except (ValueError, SyntaxError, TypeError):
        return f"could not parse value {value!r}; expected a nested list such as [[1,2],[3,4,5]]"
    # The container declares the range [1, +inf) for the feature indices.
    if any(not isinstance(i, int) or i < 1 for group in parsed for i in group):
        return f"value {value!r} not in range [1, +inf)"
    return None


def _hp(name: str, kind: str, description: str = "", **kwargs: Any) -> Hyperparameter:
    return Hyperparameter(name=name, kind=kind, description=description, **kwargs)


HYPERPARAMETERS: tuple[Hyperparameter, ...] = (
    _hp("num_round", "int", "Number of boosting rounds.", required=True, low=1),
    _hp("num_class", "int", "Number of classes (multi:softmax / multi:softprob).", low=2),
    _hp("objective", "str", "Default reg:squarederror.", choices=OBJECTIVES),
    _hp("eval_metric", "list", "Default: per objective.", check=_check_eval_metric),
    _hp("early_stopping_rounds", "int", low=1),
    _hp("csv_weights", "int", "Default 0.", low=0, high=1),
    _hp("booster", "str", "Default gbtree.", choices=("gbtree", "gblinear", "dart")),
    _hp("verbosity", "int", "Default 1.", low=0, high=3),
    _hp("silent", "int", "Legacy (0.72 … 1.0) verbosity switch.", low=0, high=1),
    _hp("nthread", "int", "Default: all threads.", low=1),
    _hp("eta", "float", "Default 0.3.", low=0, high=1),
    _hp("gamma", "float", "Default 0.", low=0),
    _hp("max_depth", "int", "Default 6.", low=0),
    _hp("min_child_weight", "float", "Default 1.", low=0),
    _hp("max_delta_step", "float", "Default 0.", low=0),
    _hp("subsample", "float", "Default 1.", low=0, low_open=True, high=1),
    _hp("colsample_bytree", "float", "Default 1.", low=0, low_open=True, high=1),
    _hp("colsample_bylevel", "float", "Default 1.", low=0, low_open=True, high=1),
    _hp("colsample_bynode", "float", "Default 1.", low=0, low_open=True, high=1),
    _hp("lambda", "float", "Default 1.", low=0),
    _hp("alpha", "float", "Default 0.", low=0),
    _hp("tree_method", "str", "Default auto.", choices=("auto", "exact", "approx", "hist", "gpu_hist")),
    _hp("sketch_eps", "float", "Default 0.03.", low=0, low_open=True, high=1, high_open=True),
    _hp("scale_pos_weight", "float", "Default 1.", low=0, low_open=True),
    _hp("updater", "list", "Default grow_colmaker,prune.", choices=UPDATERS),
    _hp("dsplit", "str", choices=("row", "col")),
    _hp("refresh_leaf", "int", "Default 1.", low=0, high=1),
    _hp("process_type", "str", "Default default.", choices=("default", "update")),
    _hp("grow_policy", "str", "Default depthwise.", choices=("depthwise", "lossguide")),
    _hp("max_leaves", "int", "Default 0.", low=0),
    _hp("max_bin", "int", "Default 256.", low=0),
    _hp("predictor", "str", choices=("auto", "cpu_predictor", "gpu_predictor")),
    _hp("monotone_constraints", "str", "Tuple of -1/0/1, e.g. (0,1).", check=_check_monotone),
    _hp("interaction_constraints", "str", "Nested list, e.g. [[1,2],[3,4,5]].", check=_check_interaction),
    _hp("sample_type", "str", "Default uniform.", choices=("uniform", "weighted")),
    _hp("normalize_type", "str", "Default tree.", choices=("tree", "forest")),
    _hp("rate_drop", "float", "Default 0.", low=0, high=1),
    _hp("one_drop", "int", "Default 0.", low=0, high=1),
    _hp("skip_drop", "float", "Default 0.", low=0, high=1),
    _hp("lambda_bias", "float", "Default 0.", low=0, high=1),
    _hp("tweedie_variance_power", "float", "Default 1.5.", low=1, low_open=True, high=2, high_open=True),
    _hp("base_score", "float", "Default 0.5.", low=0),
    _hp("seed", "int", "Default 0.", low=-(2**31), low_open=True, high=2**31 - 1, high_open=True),
    _hp("num_parallel_tree", "int", low=1),
    _hp("save_model_on_termination", "bool", "Default false."),
    _hp("aft_loss_distribution", "str", choices=("normal", "logistic", "extreme")),
    _hp("aft_loss_distribution_scale", "float", low=0),
    _hp("single_precision_histogram", "bool", "Images 1.2-1 … 1.5-1 only."),
    _hp("deterministic_histogram", "bool", "Default true."),
    _hp("sampling_method", "str", choices=("uniform", "gradient_based")),
    _hp("prob_buffer_row", "float", low=1, low_open=True),
    _hp("use_dask_gpu_training", "bool", "Default false."),
    _hp("_kfold", "int", "k-fold cross validation over train+validation.", low=2),
    _hp("_num_cv_round", "int", "Default 1.", low=1),
    _hp("_tuning_objective_metric", "str", "Set by hyperparameter tuning.", choices=TUNING_METRIC_NAMES),
)

_BY_NAME: dict[str, Hyperparameter] = {hp.name: hp for hp in HYPERPARAMETERS}

# Hyperparameters that only some images accept: name → (first version, first version without it).
_AVAILABILITY: dict[str, tuple[tuple[int, int], tuple[int, int]]] = {
    "silent": ((0, 0), (1, 2)),
    "verbosity": ((0, 90), (99, 0)),
    "colsample_bynode": ((0, 90), (99, 0)),
    "monotone_constraints": ((0, 90), (99, 0)),
    "interaction_constraints": ((0, 90), (99, 0)),
    "save_model_on_termination": ((0, 90), (99, 0)),
    "aft_loss_distribution": ((1, 2), (99, 0)),
    "aft_loss_distribution_scale": ((1, 2), (99, 0)),
    "single_precision_histogram": ((1, 2), (1, 7)),
    "deterministic_histogram": ((1, 2), (99, 0)),
    "_kfold": ((1, 3), (99, 0)),
    "_num_cv_round": ((1, 3), (99, 0)),
    "sampling_method": ((1, 3), (99, 0)),
    "prob_buffer_row": ((1, 3), (99, 0)),
    "use_dask_gpu_training": ((1, 7), (99, 0)),
}
_OBJECTIVE_AVAILABILITY: dict[str, tuple[int, int]] = {
    "reg:absoluteerror": (1, 7),
    "survival:aft": (1, 2),
    "aft_loss_distribution": (1, 2),
    "reg:pseudohubererror": (1, 0),
}


def _available(name: str, version: ImageVersion) -> bool:
    window = _AVAILABILITY.get(name)
    return window is None or window[0] <= version.key < window[1]


def declared_for(version: ImageVersion) -> tuple[Hyperparameter, ...]:
    """The hyperparameters the image of ``version`` accepts."""
    return tuple(hp for hp in HYPERPARAMETERS if _available(hp.name, version))


def validate(raw: Mapping[str, Any], version: ImageVersion) -> dict[str, Any]:
    """Typed, validated hyperparameters (only those given); raises :class:`AlgorithmClientError`.

    SageMaker-internal keys other than the declared ``_`` ones and the SDK's ``sagemaker_*`` keys are
    ignored; any other unknown name fails with the container's ``Extraneous hyperparameter found``.
    """
    given: dict[str, Any] = {}
    for name, value in raw.items():
        name = ALIASES.get(name, name)
        hp = _BY_NAME.get(name)
        if hp is None or not _available(name, version):
            if name.startswith("sagemaker_") or (name.startswith("_") and hp is None):
                continue
            raise AlgorithmClientError(f"Extraneous hyperparameter found: {name}")
        given[name] = value

    for hp in HYPERPARAMETERS:
        if hp.required and hp.name not in given:
            raise AlgorithmClientError(f"Missing required hyperparameter: {hp.name}")

    values: dict[str, Any] = {name: _BY_NAME[name].parse(value) for name, value in given.items()}
    _validate_dependencies(values, version)
    return values


def _validate_dependencies(values: dict[str, Any], version: ImageVersion) -> None:
    objective = values.get("objective")
    num_class = values.get("num_class")
    if objective is not None:
        first = _OBJECTIVE_AVAILABILITY.get(objective)
        if first is not None and version.key < first:
            raise AlgorithmClientError(
                f"Hyperparameter objective: value {objective!r} is not supported by XGBoost {version}"
            )
    if objective in ("multi:softmax", "multi:softprob") and num_class is None:
        raise AlgorithmClientError("Require input for parameter 'num_class' for multi-classification")
    if objective is None and num_class is not None:
        raise AlgorithmClientError(
            "Do not need to setup parameter 'num_class' for learning task other than multi-classification."
        )

    eval_metric = values.get("eval_metric") or []
    if "auc" in eval_metric and not (objective or "").startswith(("binary:", "rank:")):
        raise AlgorithmClientError(
            "Metric 'auc' can only be applied for classification and ranking problems."
        )
    if "aft-nloglik" in eval_metric and objective != "survival:aft":
        raise AlgorithmClientError("Metric 'aft-nloglik' can only be applied for 'survival:aft' objective.")

    tree_method = values.get("tree_method")
    if "monotone_constraints" in values and tree_method not in ("exact", "hist"):
        raise AlgorithmClientError(
            "monotone_constraints can be used only when the tree_method parameter is set to either "
            "'exact' or 'hist'."
        )
    if "interaction_constraints" in values and tree_method not in ("exact", "hist", "approx"):
        raise AlgorithmClientError(
            "interaction_constraints can be used only when the tree_method parameter is set to either "
            "'exact', 'hist' or 'approx'."
        )

    updater = values.get("updater")
    if updater:
        _validate_updater(updater, values.get("booster"), values.get("process_type"))


def _validate_updater(updater: list[str], booster: str | None, process_type: str | None) -> None:
    if booster == "gblinear":
        if not (len(updater) == 1 and updater[0] in _LINEAR_PLUGINS):
            raise AlgorithmClientError(
                "Linear updater should be one of these options: 'shotgun', 'coord_descent'."
            )
    elif process_type == "update":
        if not all(u in _UPDATE_PLUGINS for u in updater):
            raise AlgorithmClientError(
                "process_type 'update' can only be used with updater 'refresh' and 'prune'"
            )
    else:
        if not all(u in _TREE_PLUGINS for u in updater):
            raise AlgorithmClientError(
                "Tree updater should be selected from these options: 'grow_colmaker', 'distcol', "
                "'grow_histmaker', 'grow_skmaker', 'grow_quantile_histmaker', 'sync', 'refresh', 'prune', "
                "'shotgun', 'coord_descent'."
            )
        if sum(u in _TREE_BUILD_PLUGINS for u in updater) > 1:
            raise AlgorithmClientError(
                "Only one tree grow plugin can be selected. Choose one from the following: "
                "'grow_colmaker', 'distcol', 'grow_histmaker', 'grow_skmaker'"
            )


# Keys the container consumes itself (never passed to xgboost.train's params).
CONTAINER_KEYS: frozenset[str] = frozenset(
    {
        "num_round",
        "csv_weights",
        "early_stopping_rounds",
        "eval_metric",
        "save_model_on_termination",
        "use_dask_gpu_training",
        "_kfold",
        "_num_cv_round",
        "_tuning_objective_metric",
    }
)
# Parameters older XGBoost releases read and the installed one no longer has.
_RETIRED_KEYS: frozenset[str] = frozenset(
    {
        "dsplit",
        "lambda_bias",
        "single_precision_histogram",
        "deterministic_histogram",
        "prob_buffer_row",
        "predictor",
        "silent",
    }
)
# Updaters removed from XGBoost; the histogram maker is their closest equivalent.
_RETIRED_UPDATERS = {"distcol": "grow_histmaker", "grow_skmaker": "grow_histmaker"}


def booster_params(values: Mapping[str, Any], num_gpus: int = 0) -> dict[str, Any]:
    """``xgboost.train`` params for validated hyperparameters, translated for the installed XGBoost."""
    params: dict[str, Any] = {}
    for name, value in values.items():
        if name in CONTAINER_KEYS or name in _RETIRED_KEYS or name.startswith("sagemaker_"):
            continue
        if name.startswith("_"):
            continue
        params[name] = value
    if "silent" in values and "verbosity" not in values:
        params["verbosity"] = 0 if values["silent"] else 1
    if params.get("objective") == "reg:linear":
        params["objective"] = "reg:squarederror"
    if "updater" in params:
        params["updater"] = ",".join(_RETIRED_UPDATERS.get(u, u) for u in params["updater"])
    if params.get("tree_method") == "gpu_hist":
        params["tree_method"] = "hist"
        if num_gpus > 0:
            params["device"] = "cuda"
    if values.get("predictor") == "gpu_predictor" and num_gpus > 0:
        params["device"] = "cuda"
    return params
