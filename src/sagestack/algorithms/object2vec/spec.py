"""Object2Vec's hyperparameters, channels and metrics as SageMaker declares them (algorithms.md §2.12)."""

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
from sagestack.algorithms.common import NUMBER_REGEX, auto_number, auto_value
from sagestack.algorithms.neural import OPTIMIZERS
from sagestack.formats import content_types as ct

NETWORKS: tuple[str, ...] = ("hcnn", "bilstm", "pooled_embedding")
COMPARATORS: tuple[str, ...] = ("hadamard", "concat", "abs_diff")


def _comparators_check(value: str) -> str | None:
    items = [part.strip() for part in str(value).split(",") if part.strip()]
    if not items or any(item not in COMPARATORS for item in items):
        return f"value {value!r} must be a comma-separated combination of {', '.join(COMPARATORS)}"
    return None


def _file_name_check(value: str) -> str | None:
    import re

    if value and not re.fullmatch(r"[A-Za-z0-9._]+", value):
        return f"value {value!r} must be a file name of letters, digits, '.' and '_'"
    return None


def _encoder(n: int, required: bool) -> tuple[Hyperparameter, ...]:
    prefix = f"enc{n}_"
    return (
        Hyperparameter(prefix + "max_seq_len", "int", required=required, low=1, high=5000),
        Hyperparameter(prefix + "vocab_size", "int", required=required, low=2, high=3_000_000),
        Hyperparameter(prefix + "cnn_filter_width", "int", default=3, low=1, high=9),
        Hyperparameter(prefix + "freeze_pretrained_embedding", "bool", default=True),
        auto_number(prefix + "layers", int, low=1, high=4),
        Hyperparameter(prefix + "pretrained_embedding_file", "str", default="", check=_file_name_check),
        Hyperparameter(prefix + "token_embedding_dim", "int", default=300, low=2, high=1000),
        Hyperparameter(prefix + "vocab_file", "str", default="", check=_file_name_check),
    )


HYPERPARAMETERS: tuple[Hyperparameter, ...] = (
    *_encoder(0, required=True),
    *_encoder(1, required=False),
    Hyperparameter("enc0_network", "str", default="hcnn", choices=NETWORKS),
    Hyperparameter("enc1_network", "str", default="enc0", choices=("enc0", *NETWORKS)),
    Hyperparameter("bucket_width", "int", default=0, low=0, high=100),
    Hyperparameter("comparator_list", "str", default="hadamard, concat, abs_diff", check=_comparators_check),
    Hyperparameter("dropout", "float", default=0.0, low=0.0, high=1.0),
    Hyperparameter("early_stopping_patience", "int", default=3, low=1, high=5),
    Hyperparameter("early_stopping_tolerance", "float", default=0.01, low=1e-6, high=0.1),
    Hyperparameter("enc_dim", "int", default=4096, low=4, high=10000),
    Hyperparameter("epochs", "int", default=30, low=1, high=100),
    Hyperparameter("learning_rate", "float", default=0.0004, low=1e-6, high=1.0),
    Hyperparameter("mini_batch_size", "int", default=32, low=1, high=10000),
    Hyperparameter("mlp_activation", "str", default="linear", choices=("tanh", "relu", "linear")),
    Hyperparameter("mlp_dim", "int", default=512, low=2, high=10000),
    Hyperparameter("mlp_layers", "int", default=2, low=0, high=10),
    Hyperparameter("negative_sampling_rate", "int", default=0, low=0, high=100),
    Hyperparameter("num_classes", "int", default=2, low=2, high=30),
    Hyperparameter("optimizer", "str", default="adam", choices=OPTIMIZERS),
    Hyperparameter("output_layer", "str", default="softmax", choices=("softmax", "mean_squared_error")),
    Hyperparameter("tied_token_embedding_weight", "bool", default=False),
    Hyperparameter("token_embedding_storage_type", "str", default="dense", choices=("dense", "row_sparse")),
    Hyperparameter("weight_decay", "float", default=0.0, low=0.0, high=10000.0),
    # The SDK's AmazonAlgorithmEstimatorBase sends the RecordSet's feature_dim; Object2Vec ignores it.
    Hyperparameter("feature_dim", "int", default=None, low=1),
)


def _metric(channel: str, name: str, kind: str) -> dict[str, str]:
    return {
        "Name": f"{channel}:{name}",
        "Regex": rf"#quality_metric: host=\S+, (?:epoch=\d+, )?{channel} {name} <{kind}>=" + NUMBER_REGEX,
    }


METRIC_DEFINITIONS: tuple[dict, ...] = tuple(
    _metric(channel, name, kind)
    for channel in ("validation", "test")
    for name, kind in (("accuracy", "score"), ("cross_entropy", "loss"), ("mean_squared_error", "loss"))
)

_JSONL = (ct.JSONLINES,)

SPEC = AlgorithmSpec(
    name="object2vec",
    image_repositories=("object2vec",),
    hyperparameters=HYPERPARAMETERS,
    channels=(
        ChannelSpec("train", required=True, content_types=_JSONL, default_content_type=ct.JSONLINES),
        ChannelSpec("validation", content_types=_JSONL, default_content_type=ct.JSONLINES),
        ChannelSpec("test", content_types=_JSONL, default_content_type=ct.JSONLINES),
        ChannelSpec(
            "auxiliary",
            content_types=(ct.JSON, ct.TEXT),
            default_content_type=ct.JSON,
            distributions=("FullyReplicated",),
        ),
    ),
    metric_definitions=METRIC_DEFINITIONS,
    request_content_types=(ct.JSON, ct.JSONLINES),
    response_accept_types=(ct.JSON, ct.JSONLINES),
    supports_distributed_training=False,
)


@dataclass(frozen=True)
class EncoderParams:
    network: str
    max_seq_len: int
    vocab_size: int
    token_embedding_dim: int
    layers: int
    cnn_filter_width: int


@dataclass(frozen=True)
class Object2VecParams:
    enc0: EncoderParams
    enc1: EncoderParams
    comparators: tuple[str, ...]
    dropout: float
    early_stopping_patience: int
    early_stopping_tolerance: float
    enc_dim: int
    epochs: int
    learning_rate: float
    mini_batch_size: int
    mlp_activation: str
    mlp_dim: int
    mlp_layers: int
    negative_sampling_rate: int
    num_classes: int
    optimizer: str
    output_layer: str
    tied_token_embedding_weight: bool
    weight_decay: float

    @property
    def regression(self) -> bool:
        return self.output_layer == "mean_squared_error"


DEFAULT_LAYERS = {"hcnn": 2, "bilstm": 1, "pooled_embedding": 1}


def parse_hyperparameters(raw: dict[str, Any]) -> Object2VecParams:
    hps = validate_hyperparameters(HYPERPARAMETERS, raw, "object2vec")
    for n in (0, 1):
        if hps[f"enc{n}_pretrained_embedding_file"]:
            raise AlgorithmClientError(
                f"Hyperparameter enc{n}_pretrained_embedding_file: pre-trained token embeddings are not "
                "supported by this implementation; leave it unset to learn the token embeddings"
            )
    enc0_network = hps["enc0_network"]
    enc1_network = enc0_network if hps["enc1_network"] == "enc0" else hps["enc1_network"]

    def encoder(n: int, network: str) -> EncoderParams:
        def pick(name: str) -> Any:
            value = hps[f"enc{n}_{name}"]
            return hps[f"enc0_{name}"] if value is None else value

        layers = auto_value(hps[f"enc{n}_layers"], int, DEFAULT_LAYERS[network])
        return EncoderParams(
            network=network,
            max_seq_len=pick("max_seq_len"),
            vocab_size=pick("vocab_size"),
            token_embedding_dim=hps[f"enc{n}_token_embedding_dim"],
            layers=layers,
            cnn_filter_width=hps[f"enc{n}_cnn_filter_width"],
        )

    enc0, enc1 = encoder(0, enc0_network), encoder(1, enc1_network)
    if hps["tied_token_embedding_weight"] and (
        enc0.vocab_size != enc1.vocab_size or enc0.token_embedding_dim != enc1.token_embedding_dim
    ):
        raise AlgorithmClientError(
            "Hyperparameter tied_token_embedding_weight: the two encoders must have the same vocab_size and "
            "token_embedding_dim to share token embeddings"
        )
    if hps["output_layer"] == "mean_squared_error" and hps["negative_sampling_rate"]:
        raise AlgorithmClientError(
            "Hyperparameter negative_sampling_rate: negative sampling applies to classification "
            "(output_layer softmax), not to regression"
        )
    comparators = tuple(dict.fromkeys(p.strip() for p in hps["comparator_list"].split(",") if p.strip()))
    names = [f for f in Object2VecParams.__dataclass_fields__ if f not in ("enc0", "enc1", "comparators")]
    return Object2VecParams(enc0=enc0, enc1=enc1, comparators=comparators, **{n: hps[n] for n in names})
