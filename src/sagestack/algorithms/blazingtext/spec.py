"""BlazingText's hyperparameters, channels and metrics as SageMaker declares them (§2.11).

One declaration covers both modes; a hyperparameter that belongs only to the other mode is refused
naming it (``window_size`` with ``mode=supervised``, ``word_ngrams`` with ``mode=skipgram``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sagestack.algorithms.base import (
    AlgorithmClientError,
    AlgorithmSpec,
    ChannelSpec,
    Hyperparameter,
    validate_hyperparameters,
)
from sagestack.algorithms.common import NUMBER_REGEX
from sagestack.formats import content_types as ct

#: Channels are read as files (Pipe mode is refused when the job starts).
FILE_MODES = ("File", "FastFile")

WORD2VEC_MODES = ("batch_skipgram", "skipgram", "cbow")
MODES = (*WORD2VEC_MODES, "supervised")

HYPERPARAMETERS: tuple[Hyperparameter, ...] = (
    Hyperparameter("mode", "str", required=True, choices=MODES),
    Hyperparameter("batch_size", "int", default=11, low=1),
    Hyperparameter("buckets", "int", default=2000000, low=1),
    Hyperparameter("early_stopping", "bool", default=False),
    Hyperparameter("epochs", "int", default=5, low=1),
    Hyperparameter("evaluation", "bool", default=True),
    Hyperparameter("learning_rate", "float", default=0.05, low=0, low_open=True),
    Hyperparameter("min_char", "int", default=3, low=1),
    Hyperparameter("max_char", "int", default=6, low=1),
    Hyperparameter("min_count", "int", default=5, low=0),
    Hyperparameter("min_epochs", "int", default=5, low=1),
    Hyperparameter("negative_samples", "int", default=5, low=1),
    Hyperparameter("patience", "int", default=4, low=1),
    Hyperparameter("sampling_threshold", "float", default=0.0001, low=0, high=1),
    Hyperparameter("subwords", "bool", default=False),
    Hyperparameter("vector_dim", "int", default=100, low=1),
    Hyperparameter("window_size", "int", default=5, low=1),
    Hyperparameter("word_ngrams", "int", default=2, low=1),
)

#: Hyperparameters of one mode only (the rest are common: buckets, epochs, learning_rate, ...).
WORD2VEC_ONLY = frozenset(
    {
        "batch_size",
        "evaluation",
        "min_char",
        "max_char",
        "negative_samples",
        "sampling_threshold",
        "subwords",
        "window_size",
    }
)
SUPERVISED_ONLY = frozenset({"early_stopping", "min_epochs", "patience", "word_ngrams"})

METRIC_DEFINITIONS: tuple[dict, ...] = (
    {"Name": "train:mean_rho", "Regex": r"#mean_rho: " + NUMBER_REGEX},
    {"Name": "train:accuracy", "Regex": r"#train_accuracy: " + NUMBER_REGEX},
    {"Name": "validation:accuracy", "Regex": r"#validation_accuracy: " + NUMBER_REGEX},
)

TEXT = ct.TEXT
#: Plain text (one sentence per line) or, for supervised mode, JSON Lines ``{"source": …, "label": …}``.
DATA_TYPES = (TEXT, ct.JSONLINES)

SPEC = AlgorithmSpec(
    name="blazingtext",
    image_repositories=("blazingtext",),
    hyperparameters=HYPERPARAMETERS,
    channels=(
        ChannelSpec(
            "train",
            input_modes=FILE_MODES,
            required=True,
            content_types=DATA_TYPES,
            default_content_type=TEXT,
        ),
        ChannelSpec(
            "validation", input_modes=FILE_MODES, content_types=DATA_TYPES, default_content_type=TEXT
        ),
    ),
    metric_definitions=METRIC_DEFINITIONS,
    request_content_types=(ct.JSON, ct.JSONLINES),
    response_accept_types=(ct.JSON, ct.JSONLINES),
    supports_distributed_training=True,
)


@dataclass(frozen=True)
class BlazingTextParams:
    mode: str
    batch_size: int
    buckets: int
    early_stopping: bool
    epochs: int
    evaluation: bool
    learning_rate: float
    min_char: int
    max_char: int
    min_count: int
    min_epochs: int
    negative_samples: int
    patience: int
    sampling_threshold: float
    subwords: bool
    vector_dim: int
    window_size: int
    word_ngrams: int

    @property
    def supervised(self) -> bool:
        return self.mode == "supervised"


def parse_hyperparameters(raw: dict[str, Any]) -> BlazingTextParams:
    hps = validate_hyperparameters(HYPERPARAMETERS, raw, "BlazingText")
    supervised = hps["mode"] == "supervised"
    foreign = sorted(set(raw) & (WORD2VEC_ONLY if supervised else SUPERVISED_ONLY))
    if foreign:
        other = "Word2Vec (batch_skipgram, skipgram, cbow)" if supervised else "supervised"
        raise AlgorithmClientError(
            f"Hyperparameter(s) {', '.join(foreign)} apply only to {other} mode, not mode={hps['mode']}"
        )
    if hps["min_char"] > hps["max_char"]:
        raise AlgorithmClientError(
            f"Hyperparameter min_char ({hps['min_char']}) must not exceed max_char ({hps['max_char']})"
        )
    return BlazingTextParams(
        **{k: v for k, v in hps.items() if not k.startswith("_") and not k.startswith("sagemaker_")}
    )
