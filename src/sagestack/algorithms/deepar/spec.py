"""DeepAR's hyperparameters, channels and metrics as SageMaker declares them (algorithms.md §2.10)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from sagestack.algorithms.base import (
    AlgorithmClientError,
    AlgorithmSpec,
    ChannelSpec,
    Hyperparameter,
    validate_hyperparameters,
)
from sagestack.algorithms.common import NUMBER_REGEX, mini_batch_size
from sagestack.formats import content_types as ct

#: Channels are read as files (Pipe mode is refused when the job starts).
FILE_MODES = ("File", "FastFile")

#: The likelihoods SageMaker documents, by their lower-cased name (the container logs ``student-t``).
LIKELIHOODS = {
    "gaussian": "gaussian",
    "beta": "beta",
    "negative-binomial": "negative-binomial",
    "student-t": "student-T",
    "deterministic-l1": "deterministic-L1",
}
TIME_FREQ = re.compile(r"^(?P<mult>[1-9][0-9]*)?(?P<unit>min|M|W|D|H)$")
DEFAULT_QUANTILES = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]


def _likelihood(value: Any) -> str | None:
    if str(value).lower() not in LIKELIHOODS:
        return f"value {value!r} is not one of {', '.join(LIKELIHOODS.values())}"
    return None


def _time_freq(value: Any) -> str | None:
    if not TIME_FREQ.match(str(value).strip()):
        return f"value {value!r} is not a frequency: an optional integer multiple and one of M, W, D, H, min"
    return None


def _cardinality(value: Any) -> str | None:
    text = str(value).strip()
    if text.lower() in ("auto", "ignore", ""):
        return None
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError:
        parsed = None
    if not isinstance(parsed, list) or not all(
        isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in parsed
    ):
        return f"value {value!r} is not 'auto', 'ignore' or a JSON array of positive integers"
    return None


def _num_dynamic_feat(value: Any) -> str | None:
    text = str(value).strip()
    if text.lower() in ("auto", "ignore", ""):
        return None
    if not text.isdigit() or int(text) < 1:
        return f"value {value!r} is not 'auto', 'ignore' or a positive integer"
    return None


def _quantiles(value: Any) -> str | None:
    try:
        numbers = [float(v) for v in value]
    except (TypeError, ValueError):
        return f"value {value!r} is not a list of numbers"
    if not numbers or not all(0.0 < q < 1.0 for q in numbers):
        return f"value {value!r} must be a non-empty list of numbers in (0, 1)"
    return None


def _patience(value: Any) -> str | None:
    text = str(value).strip()
    if text == "":
        return None
    if not text.isdigit() or int(text) < 1:
        return f"value {value!r} is not a positive integer"
    return None


HYPERPARAMETERS: tuple[Hyperparameter, ...] = (
    Hyperparameter("context_length", "int", required=True, low=1),
    Hyperparameter("epochs", "int", required=True, low=1),
    Hyperparameter("prediction_length", "int", required=True, low=1),
    Hyperparameter("time_freq", "str", required=True, check=_time_freq),
    Hyperparameter("cardinality", "str", default="auto", check=_cardinality),
    Hyperparameter("dropout_rate", "float", default=0.1, low=0, high=1, high_open=True),
    Hyperparameter("early_stopping_patience", "str", default="", check=_patience),
    Hyperparameter("embedding_dimension", "int", default=10, low=1),
    Hyperparameter("learning_rate", "float", default=0.001, low=0, low_open=True),
    Hyperparameter("likelihood", "str", default="student-T", check=_likelihood),
    mini_batch_size(128),
    Hyperparameter("num_cells", "int", default=40, low=1),
    Hyperparameter("num_dynamic_feat", "str", default="auto", check=_num_dynamic_feat),
    Hyperparameter("num_eval_samples", "int", default=100, low=1),
    Hyperparameter("num_layers", "int", default=2, low=1),
    Hyperparameter("test_quantiles", "list", default=list(DEFAULT_QUANTILES), check=_quantiles),
)

METRIC_DEFINITIONS: tuple[dict, ...] = (
    {"Name": "test:RMSE", "Regex": r"#test_score \([^,)]*, RMSE\): " + NUMBER_REGEX},
    {
        "Name": "test:mean_wQuantileLoss",
        "Regex": r"#test_score \([^,)]*, mean_wQuantileLoss\): " + NUMBER_REGEX,
    },
    {
        "Name": "test:mean_absolute_QuantileLoss",
        "Regex": r"#test_score \([^,)]*, mean_absolute_QuantileLoss\): " + NUMBER_REGEX,
    },
    {
        "Name": "train:final_loss",
        "Regex": r"#quality_metric: host=[^,]*, train final_loss <loss>=" + NUMBER_REGEX,
    },
)

#: JSON Lines (optionally gzip) or Parquet; the file extension wins over the channel's ContentType.
DATA_TYPES = (ct.JSONLINES, ct.JSON, ct.PARQUET)

SPEC = AlgorithmSpec(
    name="forecasting-deepar",
    image_repositories=("forecasting-deepar",),
    hyperparameters=HYPERPARAMETERS,
    channels=(
        ChannelSpec(
            "train",
            input_modes=FILE_MODES,
            required=True,
            content_types=DATA_TYPES,
            default_content_type=ct.JSONLINES,
        ),
        ChannelSpec(
            "test", input_modes=FILE_MODES, content_types=DATA_TYPES, default_content_type=ct.JSONLINES
        ),
    ),
    metric_definitions=METRIC_DEFINITIONS,
    request_content_types=(ct.JSON, ct.JSONLINES),
    response_accept_types=(ct.JSON, ct.JSONLINES),
    supports_distributed_training=True,
)


@dataclass(frozen=True)
class DeepARParams:
    context_length: int
    prediction_length: int
    epochs: int
    time_freq: str
    cardinality: str | list[int]  # "auto" | "ignore" | explicit list
    dropout_rate: float
    early_stopping_patience: int | None
    embedding_dimension: int
    learning_rate: float
    likelihood: str  # canonical name (LIKELIHOODS values)
    mini_batch_size: int
    num_cells: int
    num_dynamic_feat: str | int  # "auto" | "ignore" | count
    num_eval_samples: int
    num_layers: int
    test_quantiles: tuple[float, ...]


def parse_hyperparameters(raw: dict[str, Any]) -> DeepARParams:
    hps = validate_hyperparameters(HYPERPARAMETERS, raw, "DeepAR")
    cardinality = str(hps["cardinality"]).strip()
    card: str | list[int] = (
        "ignore"
        if cardinality.lower() in ("ignore", "")
        else "auto"
        if cardinality.lower() == "auto"
        else json.loads(cardinality)
    )
    dyn = str(hps["num_dynamic_feat"]).strip()
    num_dyn: str | int = (
        "ignore" if dyn.lower() in ("ignore", "") else "auto" if dyn.lower() == "auto" else int(dyn)
    )
    patience = str(hps["early_stopping_patience"]).strip()
    if hps["mini_batch_size"] < 1:
        raise AlgorithmClientError("Hyperparameter mini_batch_size must be >= 1")
    return DeepARParams(
        context_length=hps["context_length"],
        prediction_length=hps["prediction_length"],
        epochs=hps["epochs"],
        time_freq=str(hps["time_freq"]).strip(),
        cardinality=card,
        dropout_rate=hps["dropout_rate"],
        early_stopping_patience=int(patience) if patience else None,
        embedding_dimension=hps["embedding_dimension"],
        learning_rate=hps["learning_rate"],
        likelihood=LIKELIHOODS[str(hps["likelihood"]).lower()],
        mini_batch_size=hps["mini_batch_size"],
        num_cells=hps["num_cells"],
        num_dynamic_feat=num_dyn,
        num_eval_samples=hps["num_eval_samples"],
        num_layers=hps["num_layers"],
        test_quantiles=tuple(float(q) for q in hps["test_quantiles"]),
    )
