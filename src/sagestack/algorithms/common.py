"""What several built-in algorithms declare or do the same way.

* Declarations: the ``train``/``test`` channel pair, the common inference formats (algorithms.md §1.3),
  the shared hyperparameters (``feature_dim``, ``mini_batch_size``, ``epochs``) and ``auto``-or-number
  values, and the number pattern of metric regexes.
* The start of a job as SageMaker's 1P containers log it (default, provided and final configuration),
  with the channels checked against ``SPEC`` once.
* Checks on labelled batches, and the ``model_algo-1`` metadata file of the k-NN and FM artifacts.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from sagestack.algorithms.base import (
    AlgorithmClientError,
    AlgorithmSpec,
    ChannelSpec,
    Hyperparameter,
    TrainingEnv,
    validate_channels,
)
from sagestack.formats import content_types as ct

P = TypeVar("P")
Log = Callable[[str], None]

AUTO = "auto"
#: A number in a log line, as the metric regexes capture it.
NUMBER_REGEX = r"([-+]?(?:[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?|nan|inf))"
#: The input modes of the algorithms that read their channels as files (Pipe is refused when the job starts).
FILE_MODES: tuple[str, ...] = ("File", "FastFile")
#: Training data of the 1P algorithms that read CSV as well as RecordIO-protobuf.
RECORDIO_AND_CSV: tuple[str, ...] = (ct.RECORDIO_PROTOBUF, ct.CSV)
#: The common request formats (§1.3.1) and the JSON/JSON Lines/RecordIO responses (§1.3.2-3).
REQUEST_TYPES: tuple[str, ...] = (ct.CSV, ct.JSON, ct.JSONLINES, ct.RECORDIO_PROTOBUF)
RESPONSE_TYPES: tuple[str, ...] = (ct.JSON, ct.JSONLINES, ct.RECORDIO_PROTOBUF)
#: The artifact's base name in SageMaker's 1P model archives.
MODEL_NAME = "model_algo-1"


# ------------------------------------------------------------------------------------------------
# Declarations


def logged_test_metric(name: str) -> dict[str, str]:
    """The ``test:<name>`` metric of a ``#test_score (algo-1) : ('<name>', <value>)`` log line."""
    regex = r"#test_score \([^)]*\) : \('" + name + r"', " + NUMBER_REGEX + r"\)"
    return {"Name": f"test:{name}", "Regex": regex}


def train_and_test(content_types: tuple[str, ...]) -> tuple[ChannelSpec, ChannelSpec]:
    """A required ``train`` channel and an optional ``test`` channel reading ``content_types``."""
    return (
        ChannelSpec("train", required=True, content_types=content_types),
        ChannelSpec("test", content_types=content_types),
    )


FEATURE_DIM = Hyperparameter("feature_dim", "int", required=True, low=1)


def mini_batch_size(default: int | None) -> Hyperparameter:
    """``mini_batch_size``: a positive integer; required when ``default`` is None."""
    return Hyperparameter("mini_batch_size", "int", default=default, required=default is None, low=1)


def epochs(default: int) -> Hyperparameter:
    return Hyperparameter("epochs", "int", default=default, low=1)


def params_of(cls: type[P], hps: Mapping[str, Any], **given: Any) -> P:
    """The frozen params dataclass ``cls`` from validated hyperparameters: each field its hyperparameter's
    value, except the fields in ``given`` (values the algorithm derived)."""
    fields = cls.__dataclass_fields__
    return cls(**{name: hps[name] for name in fields if name not in given}, **given)


def check_topics_within_vocabulary(hps: Mapping[str, Any]) -> None:
    """Topic models (LDA, NTM): ``num_topics`` may not exceed ``feature_dim``, the vocabulary size."""
    if hps["num_topics"] > hps["feature_dim"]:
        raise AlgorithmClientError(
            f"Hyperparameter num_topics: value {hps['num_topics']} must not exceed feature_dim "
            f"({hps['feature_dim']}), the vocabulary size"
        )


def is_auto(value: Any) -> bool:
    return isinstance(value, str) and value.strip().lower() == AUTO


def auto_value(value: Any, cast: Callable[[float], Any] = float, default: Any = None) -> Any:
    """``default`` for ``auto``, else the value as a number (``cast(float(value))``)."""
    return default if is_auto(value) else cast(float(value))


def auto_number(
    name: str,
    kind: type = float,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    default: str = AUTO,
    words: tuple[str, ...] = (AUTO,),
    description: str = "",
) -> Hyperparameter:
    """A hyperparameter that is one of ``words`` (``auto``) or a number (``kind``) in a range.

    It stays a string after validation; :func:`auto_value` resolves it."""
    expected = _expected(kind, low, high, low_open, high_open, words)

    def check(value: Any) -> str | None:
        text = str(value).strip()
        if text.lower() in words:
            return None
        try:
            number = float(text)
            if kind is int and not number.is_integer():
                raise ValueError
        except ValueError:
            return f"value {value!r} is not valid; expected {expected}"
        if math.isnan(number):
            return f"value {value!r} is not valid; expected {expected}"
        if low is not None and (number < low or (low_open and number == low)):
            return f"value {value!r} is out of range; expected {expected}"
        if high is not None and (number > high or (high_open and number == high)):
            return f"value {value!r} is out of range; expected {expected}"
        return None

    return Hyperparameter(name, "str", default=default, check=check, description=description or expected)


def _expected(
    kind: type, low: float | None, high: float | None, low_open: bool, high_open: bool, words: tuple[str, ...]
) -> str:
    bounds = []
    if low is not None:
        bounds.append(f"{'>' if low_open else '>='} {low:g}")
    if high is not None:
        bounds.append(f"{'<' if high_open else '<='} {high:g}")
    allowed = " or ".join(repr(w) for w in words)
    return f"{allowed} or {'an integer' if kind is int else 'a number'}" + (
        f" {' and '.join(bounds)}" if bounds else ""
    )


# ------------------------------------------------------------------------------------------------
# The start of a training job


def log(message: str) -> None:
    """One log line as the 1P containers write them: ``[MM/DD/YYYY HH:MM:SS INFO <pid>] message``."""
    stamp = time.strftime("%m/%d/%Y %H:%M:%S")
    print(f"[{stamp} INFO {os.getpid()}] {message}", flush=True)


def configure(
    spec: AlgorithmSpec,
    env: TrainingEnv,
    parse: Callable[[dict[str, str]], P],
    describe: Callable[[P], Mapping[str, Any]] | None = None,
    write: Log = log,
) -> P:
    """Log the default and provided configuration, parse it, log the final one, check the channels.

    ``describe`` turns the parsed configuration into what the final line shows (default: the mapping
    itself, or the object's attributes)."""
    defaults = {hp.name: hp.default for hp in spec.hyperparameters if hp.default is not None}
    write(f"Reading default configuration: {json.dumps(defaults, default=str, sort_keys=True)}")
    write(
        f"Reading provided configuration from hyperparameters.json: "
        f"{json.dumps(env.hyperparameters, sort_keys=True)}"
    )
    params = parse(env.hyperparameters)
    final = describe(params) if describe else params if isinstance(params, Mapping) else vars(params)
    write(f"Final configuration: {json.dumps(final, default=str, sort_keys=True)}")
    validate_channels(spec, env.channels)
    return params


# ------------------------------------------------------------------------------------------------
# Labelled data and the model_algo-1 metadata


def check_labelled_batch(X: Any, y: Any, feature_dim: int, channel: str, label_hint: str) -> None:
    """A batch of a supervised algorithm's channel: ``feature_dim`` columns and a label per record."""
    if X.shape[1] != feature_dim:
        raise AlgorithmClientError(
            f"Channel {channel!r} has records with {X.shape[1]} features but feature_dim is {feature_dim}"
        )
    if y is None:
        raise AlgorithmClientError(f"Channel {channel!r} has no labels; {label_hint}")


def save_metadata(model_dir: Path, meta: Mapping[str, Any]) -> None:
    """``model_algo-1.json`` (the model directory is created)."""
    model_dir.mkdir(parents=True, exist_ok=True)
    (model_dir / f"{MODEL_NAME}.json").write_text(json.dumps(meta))


def load_metadata(model_dir: Path) -> dict[str, Any]:
    return json.loads((Path(model_dir) / f"{MODEL_NAME}.json").read_text())
