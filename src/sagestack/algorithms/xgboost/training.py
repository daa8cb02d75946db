"""``train(env)`` for the XGBoost algorithm: the container's training flow on the installed xgboost.

Logs go to stdout; each boosting round prints XGBoost's evaluation line
(``[3]\\ttrain-rmse:0.41\\tvalidation-rmse:0.43``), from which the platform reads the metrics.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import sys
from pathlib import Path
from typing import Any

from sagestack.algorithms.base import AlgorithmClientError, AlgorithmError, TrainingEnv

from . import data, hyperparameters, legacy_format, metrics
from .versions import ImageVersion, current_version

MODEL_NAME = "xgboost-model"
CHECKPOINT_NAME = "xgboost-checkpoint"
CHECKPOINTS_TO_KEEP = 5

# XGBoost error texts that mean the user's data or parameters are wrong (the container's list).
CUSTOMER_ERRORS: tuple[str, ...] = (
    "label must be in [0,1] for logistic regression",
    "label must be in [0, num_class)",
    "Target is multiclass but average='binary'",
    "feature_names mismatch",
    "Check failed: preds.size() == info.labels_.size()",
    "Check failed: !auc_error AUC: the dataset only contains pos or neg samples",
    "base_score must be in (0,1) for logistic loss",
    "label must be nonnegative",
    "Parameter reg_lambda should be greater equal to 0",
    "Unknown objective function",
    "Unknown tree updater",
    "Invalid Input",
    "Invalid Parameter",
    "Invalid shape of labels",
)


def _log(message: str) -> None:
    print(message, flush=True)


def train(env: TrainingEnv) -> None:
    """Validate, load the channels, boost, and write ``model/xgboost-model``."""
    version = current_version()
    _log(f"INFO: XGBoost algorithm, image version {version}, xgboost library {_xgboost_version()}")
    _log(f"Reading provided configuration: {json.dumps(env.hyperparameters, sort_keys=True)}")
    values = hyperparameters.validate(env.hyperparameters, version)
    kind = data.validate_channels(env.channels, version)

    csv_weights = int(values.get("csv_weights") or 0)
    train_files = data.channel_files(env.channels["train"].path)
    train_dm = data.load_dmatrix(train_files, kind, csv_weights)
    if train_dm is None:
        raise AlgorithmClientError(f"No data in training channel path {env.channels['train'].path}")
    val_dm = None
    if "validation" in env.channels:
        val_files = data.channel_files(env.channels["validation"].path)
        val_dm = data.load_dmatrix(val_files, kind, csv_weights)
        if val_dm is None:
            raise AlgorithmClientError(
                f"No data in validation channel path {env.channels['validation'].path}"
            )
        if _same_files(train_files, val_files):
            _log(
                "WARNING: training and validation channels hold files of the same names and sizes; "
                "results may not be correct."
            )
    _log(f"Train matrix has {train_dm.num_row()} rows and {train_dm.num_col()} columns")
    if val_dm is not None:
        _log(f"Validation matrix has {val_dm.num_row()} rows")

    if len(env.hosts) > 1:
        _log(
            f"WARNING: distributed training over {len(env.hosts)} hosts is not supported by this "
            f"implementation; host {env.current_host} trains on its own data only."
        )

    boosters = _run(values, train_dm, val_dm, env, version)
    if len(env.hosts) > 1 and env.current_host != min(env.hosts):
        return
    env.model_dir.mkdir(parents=True, exist_ok=True)
    if len(boosters) == 1:
        save_model(boosters[0], env.model_dir / MODEL_NAME, version)
    else:
        for fold, booster in enumerate(boosters):
            save_model(booster, env.model_dir / f"{MODEL_NAME}-{fold}", version)


def _xgboost_version() -> str:
    import xgboost as xgb

    return xgb.__version__


def _same_files(a: list[Path], b: list[Path]) -> bool:
    sizes_a = {(p.name, p.stat().st_size) for p in a}
    return any((p.name, p.stat().st_size) in sizes_a for p in b)


def _run(
    values: dict[str, Any], train_dm: Any, val_dm: Any, env: TrainingEnv, version: ImageVersion
) -> list[Any]:
    import xgboost as xgb

    params = hyperparameters.booster_params(values, num_gpus=env.num_gpus)
    xgb_metrics, custom, stopping_metric = metrics.split_eval_metrics(
        values.get("eval_metric"), values.get("_tuning_objective_metric")
    )
    if xgb_metrics:
        params["eval_metric"] = xgb_metrics
    custom_metric = metrics.custom_metric_function(custom, values.get("objective")) if custom else None
    num_round = int(values["num_round"])
    early_stopping_rounds = values.get("early_stopping_rounds")
    if early_stopping_rounds and val_dm is None:
        _log(
            "WARNING: early_stopping_rounds is set but there is no validation channel; "
            "training runs all rounds."
        )
    try:
        if "_kfold" in values:
            return _cross_validate(values, params, train_dm, val_dm, custom_metric, stopping_metric, env)
        evals = [(train_dm, "train")] + ([(val_dm, "validation")] if val_dm is not None else [])
        start_model, start_round = load_checkpoint(env.checkpoint_dir)
        if start_model is not None:
            _log(f"Checkpoint loaded from {start_model}; resuming from iteration {start_round}")
        callbacks = _callbacks(
            early_stopping_rounds if val_dm is not None else None,
            stopping_metric,
            env.checkpoint_dir if env.checkpoint_dir.is_dir() else None,
        )
        booster = xgb.train(
            params,
            train_dm,
            num_boost_round=max(num_round - start_round, 0),
            evals=evals,
            custom_metric=custom_metric,
            callbacks=callbacks,
            xgb_model=start_model,
            verbose_eval=False,
        )
        return [booster]
    except xgb.core.XGBoostError as exc:
        raise _classify(exc) from None
    except ValueError as exc:
        if any(text in str(exc) for text in CUSTOMER_ERRORS):
            raise AlgorithmClientError(str(exc)) from None
        raise AlgorithmError(f"XGB train call failed with exception:\n {exc}") from None


def _classify(exc: Exception) -> Exception:
    text = str(exc)
    first = text.splitlines()[0] if text else ""
    if any(marker in text for marker in CUSTOMER_ERRORS):
        return AlgorithmClientError(_strip_location(first))
    return AlgorithmError(f"XGB train call failed with exception:\n {first}")


def _strip_location(line: str) -> str:
    """Drop XGBoost's ``[hh:mm:ss] /path/file.cc:123:`` prefix from an error line."""
    return re.sub(r"^\[[0-9:]+\]\s+\S+:\d+:\s*", "", line)


def _callbacks(
    early_stopping_rounds: int | None, stopping_metric: str | None, checkpoint_dir: Path | None
) -> list[Any]:
    import xgboost as xgb

    callbacks: list[Any] = [evaluation_printer()]
    if checkpoint_dir is not None:
        callbacks.append(checkpoint_callback(checkpoint_dir))
    if early_stopping_rounds:
        callbacks.append(
            xgb.callback.EarlyStopping(
                rounds=int(early_stopping_rounds),
                data_name="validation",
                metric_name=stopping_metric,
                maximize=metrics.is_maximized(stopping_metric) if stopping_metric else None,
                save_best=True,
            )
        )
    return callbacks


def evaluation_printer() -> Any:
    """Prints XGBoost's evaluation line each round (``[<round>]\t<data>-<metric>:<value>…``, the
    format of ``xgboost.callback.EvaluationMonitor``), numbering rounds from the first round of the
    model so that a job resumed from a checkpoint continues the sequence."""
    import xgboost as xgb

    class EvaluationPrinter(xgb.callback.TrainingCallback):
        def __init__(self) -> None:
            super().__init__()
            self.offset = 0

        def before_training(self, model: Any) -> Any:
            self.offset = model.num_boosted_rounds()
            return model

        def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
            if not evals_log:
                return False
            parts = [f"[{epoch + self.offset}]"]
            for data_name, metric_log in evals_log.items():
                for metric_name, history in metric_log.items():
                    score = history[-1][0] if isinstance(history[-1], tuple) else history[-1]
                    parts.append(f"{data_name}-{metric_name}:{score:.5f}")
            sys.stdout.write("\t".join(parts) + "\n")
            sys.stdout.flush()
            return False

    return EvaluationPrinter()


def checkpoint_callback(directory: Path) -> Any:
    """A callback writing ``xgboost-checkpoint.<round>`` after every round and keeping the 5 newest
    (the container's scheme for managed spot training). Files still being uploaded
    (``<f>.sagemaker-uploading`` without ``<f>.sagemaker-uploaded``) and files that were there
    before training started are not deleted."""
    import xgboost as xgb

    class SaveCheckpoints(xgb.callback.TrainingCallback):
        def __init__(self) -> None:
            super().__init__()
            self.previous = {p.name for p in directory.iterdir()}
            self.offset = 0

        def before_training(self, model: Any) -> Any:
            self.offset = model.num_boosted_rounds()
            return model

        def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
            epoch += self.offset
            target = directory / f"{CHECKPOINT_NAME}.{epoch}"
            partial = directory / f"{CHECKPOINT_NAME}.{epoch}.sagemaker-ignore"
            partial.write_bytes(bytes(model.save_raw("ubj")))
            os.replace(partial, target)
            stale = directory / f"{CHECKPOINT_NAME}.{epoch - CHECKPOINTS_TO_KEEP}"
            if stale.name not in self.previous and stale.exists() and not _uploading(stale):
                stale.unlink(missing_ok=True)
            return False

    return SaveCheckpoints()


def _uploading(path: Path) -> bool:
    return Path(f"{path}.sagemaker-uploading").exists() and not Path(f"{path}.sagemaker-uploaded").exists()


def load_checkpoint(checkpoint_dir: Path) -> tuple[Any, int]:
    """``(booster, next_round)`` from the newest ``xgboost-checkpoint.<n>``, or ``(None, 0)``."""
    import xgboost as xgb

    if not checkpoint_dir.is_dir():
        return None, 0
    pattern = re.compile(rf"^{CHECKPOINT_NAME}\.([0-9]+)$")
    rounds = sorted(
        (int(m.group(1)) for m in (pattern.match(p.name) for p in checkpoint_dir.iterdir()) if m),
        reverse=True,
    )
    for round_ in rounds:
        try:  # checkpoints of older images are in XGBoost's legacy binary format
            booster = legacy_format.load_booster(
                (checkpoint_dir / f"{CHECKPOINT_NAME}.{round_}").read_bytes()
            )
        except (xgb.core.XGBoostError, legacy_format.LegacyModelError, OSError):
            continue
        return booster, round_ + 1
    return None, 0


def _cross_validate(
    values: dict[str, Any],
    params: dict[str, Any],
    train_dm: Any,
    val_dm: Any,
    custom_metric: Any,
    stopping_metric: str | None,
    env: TrainingEnv,
) -> list[Any]:
    """``_kfold`` × ``_num_cv_round`` folds over train+validation; one booster per fold."""
    import numpy as np
    import xgboost as xgb
    from sklearn.model_selection import RepeatedKFold, RepeatedStratifiedKFold

    kfold = int(values["_kfold"])
    repeats = int(values.get("_num_cv_round") or 1)
    num_round = int(values["num_round"])
    combined = _concatenate(train_dm, val_dm) if val_dm is not None else train_dm
    labels = combined.get_label()
    objective = str(values.get("objective") or "")
    classification = bool(values.get("num_class")) or objective.startswith("binary:")
    splitter = (
        RepeatedStratifiedKFold(n_splits=kfold, n_repeats=repeats)
        if classification
        else RepeatedKFold(n_splits=kfold, n_repeats=repeats)
    )
    _log(f"Run {repeats}-round of {kfold}-fold cross validation with {combined.num_row()} rows")
    boosters: list[Any] = []
    results: list[dict] = []
    rows = np.arange(combined.num_row())
    for train_idx, val_idx in splitter.split(rows, labels if classification else None):
        fold_train = combined.slice(train_idx)
        fold_val = combined.slice(val_idx)
        history: dict = {}
        _log(f"Train cross validation fold {(len(boosters) % kfold) + 1}")
        booster = xgb.train(
            params,
            fold_train,
            num_boost_round=num_round,
            evals=[(fold_train, "train"), (fold_val, "validation")],
            custom_metric=custom_metric,
            evals_result=history,
            callbacks=_callbacks(values.get("early_stopping_rounds"), stopping_metric, None),
            verbose_eval=False,
        )
        boosters.append(booster)
        results.append(history)
        if len(boosters) % kfold == 0:
            _log(f"The metrics of round {len(boosters) // kfold} cross validation")
            _print_cv_metrics(num_round, results[-kfold:])
    if repeats > 1:
        _log(f"The overall metrics of {repeats}-round cross validation")
        _print_cv_metrics(num_round, results)
    return boosters


def _concatenate(a: Any, b: Any) -> Any:
    import numpy as np
    import scipy.sparse as sp
    import xgboost as xgb

    features = sp.vstack([_as_csr(a), _as_csr(b)]).tocsr()
    labels = np.concatenate([a.get_label(), b.get_label()])
    weights = [a.get_weight(), b.get_weight()]
    merged = xgb.DMatrix(features, label=labels)
    if all(len(w) for w in weights):
        merged.set_weight(np.concatenate(weights))
    return merged


def _as_csr(dmatrix: Any) -> Any:
    return dmatrix.get_data()


def _print_cv_metrics(num_round: int, results: list[dict]) -> None:
    import numpy as np

    line = f"[{num_round}]"
    for metric_name in results[0]["train"]:
        for data_name in results[0]:
            mean = np.mean([r[data_name][metric_name][-1] for r in results])
            line += f"\t{data_name}-{metric_name}:{mean:.5f}"
    _log(line)


def save_model(booster: Any, path: Path, version: ImageVersion) -> None:
    """The model file in the format the image version writes (pickle / JSON / UBJSON)."""
    fmt = version.model_format
    if fmt == "pickle":
        with open(path, "wb") as handle:
            pickle.dump(booster, handle)
    elif fmt == "json":
        path.write_bytes(bytes(booster.save_raw("json")))
    else:
        path.write_bytes(bytes(booster.save_raw("ubj")))
    _log(f"Stored trained model at {path}")
