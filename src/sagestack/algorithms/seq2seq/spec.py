"""Sequence-to-Sequence's hyperparameters, channels and metrics as SageMaker declares them (§2.14).

Every hyperparameter is optional. ``max_num_epochs`` and ``momentum`` have no default;
``rnn_attention_num_hidden`` defaults to ``rnn_num_hidden``.
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

H = Hyperparameter
HYPERPARAMETERS: tuple[Hyperparameter, ...] = (
    H("batch_size", "int", default=64, low=1),
    H("beam_size", "int", default=5, low=1),
    H("bleu_sample_size", "int", default=0, low=-1),
    H("bucket_width", "int", default=10, low=1),
    H("bucketing_enabled", "bool", default=True),
    H("checkpoint_frequency_num_batches", "int", default=1000, low=1),
    H("checkpoint_threshold", "int", default=3, low=1),
    H("clip_gradient", "float", default=1.0),
    H("cnn_activation_type", "str", default="glu", choices=("glu", "relu", "softrelu", "sigmoid", "tanh")),
    H("cnn_hidden_dropout", "float", default=0.0, low=0, high=1, high_open=True),
    H("cnn_kernel_width_decoder", "int", default=5, low=1),
    H("cnn_kernel_width_encoder", "int", default=3, low=1),
    H("cnn_num_hidden", "int", default=512, low=1),
    H("decoder_type", "str", default="rnn", choices=("rnn", "cnn")),
    H("embed_dropout_source", "float", default=0.0, low=0, high=1, high_open=True),
    H("embed_dropout_target", "float", default=0.0, low=0, high=1, high_open=True),
    H("encoder_type", "str", default="rnn", choices=("rnn", "cnn")),
    H("fixed_rate_lr_half_life", "int", default=10, low=1),
    H("learning_rate", "float", default=0.0003, low=0, low_open=True),
    H("loss_type", "str", default="cross-entropy", choices=("cross-entropy",)),
    H(
        "lr_scheduler_type",
        "str",
        default="plateau_reduce",
        choices=("plateau_reduce", "fixed_rate_inv_t", "fixed_rate_inv_sqrt_t"),
    ),
    H("max_num_batches", "int", default=-1, low=-1),
    H("max_num_epochs", "int", low=1),
    H("max_seq_len_source", "int", default=100, low=1),
    H("max_seq_len_target", "int", default=100, low=1),
    H("min_num_epochs", "int", default=0, low=0),
    H("momentum", "float", low=0),
    H("num_embed_source", "int", default=512, low=1),
    H("num_embed_target", "int", default=512, low=1),
    H("num_layers_decoder", "int", default=1, low=1),
    H("num_layers_encoder", "int", default=1, low=1),
    H("optimized_metric", "str", default="perplexity", choices=("perplexity", "accuracy", "bleu")),
    H("optimizer_type", "str", default="adam", choices=("adam", "sgd", "rmsprop")),
    H("plateau_reduce_lr_factor", "float", default=0.5, low=0, high=1, low_open=True, high_open=True),
    H("plateau_reduce_lr_threshold", "int", default=3, low=1),
    H("rnn_attention_in_upper_layers", "bool", default=True),
    H("rnn_attention_num_hidden", "int", low=1),
    H("rnn_attention_type", "str", default="mlp", choices=("dot", "fixed", "mlp", "bilinear")),
    H("rnn_cell_type", "str", default="lstm", choices=("lstm", "gru")),
    H("rnn_decoder_state_init", "str", default="last", choices=("last", "avg", "zero")),
    H("rnn_first_residual_layer", "int", default=2, low=1),
    H("rnn_num_hidden", "int", default=1024, low=2, check=lambda v: None if v % 2 == 0 else "must be even"),
    H("rnn_residual_connections", "bool", default=False),
    H("rnn_decoder_hidden_dropout", "float", default=0.0, low=0, high=1, high_open=True),
    H("training_metric", "str", default="perplexity", choices=("perplexity", "accuracy")),
    H("weight_decay", "float", default=0.0, low=0),
    H("weight_init_scale", "float", default=2.34, low=0, low_open=True),
    H("weight_init_type", "str", default="xavier", choices=("xavier", "uniform")),
    H("xavier_factor_type", "str", default="in", choices=("in", "out", "avg")),
)

METRIC_DEFINITIONS: tuple[dict, ...] = tuple(
    {
        "Name": f"validation:{name}",
        "Regex": r"#validation_score \([^)]*\) : \('" + name + r"', " + NUMBER_REGEX + r"\)",
    }
    for name in ("accuracy", "bleu", "perplexity")
)

SPEC = AlgorithmSpec(
    name="seq2seq",
    image_repositories=("seq2seq",),
    hyperparameters=HYPERPARAMETERS,
    channels=(
        ChannelSpec("train", input_modes=FILE_MODES, required=True, content_types=(ct.RECORDIO_PROTOBUF,)),
        ChannelSpec(
            "validation", input_modes=FILE_MODES, required=True, content_types=(ct.RECORDIO_PROTOBUF,)
        ),
        ChannelSpec(
            "vocab",
            input_modes=FILE_MODES,
            required=True,
            content_types=(ct.JSON, ct.TEXT),
            default_content_type=ct.JSON,
        ),
    ),
    metric_definitions=METRIC_DEFINITIONS,
    request_content_types=(ct.JSON, ct.JSONLINES, ct.RECORDIO_PROTOBUF),
    response_accept_types=(ct.JSON, ct.JSONLINES, ct.RECORDIO_PROTOBUF),
)


@dataclass(frozen=True)
class Seq2SeqParams:
    values: dict[str, Any]

    def __getattr__(self, name: str) -> Any:
        try:
            return self.values[name]
        except KeyError:
            raise AttributeError(name) from None


def parse_hyperparameters(raw: dict[str, Any]) -> Seq2SeqParams:
    hps = validate_hyperparameters(HYPERPARAMETERS, raw, "seq2seq")
    if hps["rnn_attention_num_hidden"] is None:
        hps["rnn_attention_num_hidden"] = hps["rnn_num_hidden"]
    if hps["momentum"] is not None and hps["optimizer_type"] != "sgd":
        raise AlgorithmClientError("Hyperparameter momentum applies only to optimizer_type=sgd")
    if hps["max_num_epochs"] is not None and hps["min_num_epochs"] > hps["max_num_epochs"]:
        raise AlgorithmClientError(
            f"Hyperparameter min_num_epochs ({hps['min_num_epochs']}) exceeds max_num_epochs "
            f"({hps['max_num_epochs']})"
        )
    if hps["max_num_batches"] == 0:
        raise AlgorithmClientError("Hyperparameter max_num_batches must be positive or -1 (no limit)")
    return Seq2SeqParams(
        {k: v for k, v in hps.items() if not k.startswith("_") and not k.startswith("sagemaker_")}
    )
