"""NTM inference: word-count rows in, one ``topic_weights`` vector (num_topics values) per document."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sagestack.algorithms.ntm.spec import SPEC


@dataclass
class NTMModel:
    network: Any
    feature_dim: int
    num_topics: int


def load_model(model_dir: Path) -> NTMModel:
    from sagestack.algorithms.neural import load_state, setup_torch
    from sagestack.algorithms.ntm.network import NTMNetwork

    setup_torch(1)
    metadata, state = load_state(model_dir, "ntm")
    hps = metadata["hyperparameters"]
    net = NTMNetwork(
        hps["feature_dim"],
        hps["num_topics"],
        tuple(hps["encoder_layers"]),
        hps["encoder_layers_activation"],
        hps["batch_norm"],
    )
    net.load_state_dict(state)
    net.eval()
    return NTMModel(net, int(hps["feature_dim"]), int(hps["num_topics"]))


def predict(model: NTMModel, body: bytes, content_type: str, accept: str) -> tuple[bytes, str]:
    """One invocation; JSON answers ``{"predictions": [{"topic_weights": [...]}, ...]}``."""
    import torch

    from sagestack.formats.errors import InferenceError
    from sagestack.formats.inference import decode_rows, encode_response

    X = decode_rows(
        body, content_type, model.feature_dim, dense=True, request_types=SPEC.request_content_types
    )
    if (X < 0).any():
        raise InferenceError("NTM documents are word counts: values must not be negative", status=400)
    with torch.no_grad():
        weights = model.network.topic_weights(torch.from_numpy(np.ascontiguousarray(X))).numpy()
    return encode_response(
        {"topic_weights": weights.astype(np.float32)}, accept, accept_types=SPEC.response_accept_types
    )
