"""IP Insights inference: (entity, IPv4) pairs in, ``dot_product`` per pair out; ``verbose=True`` in the
Accept header adds ``entity_embedding`` and ``ip_embedding``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sagestack.algorithms.ip_insights.spec import SPEC


@dataclass
class IPInsightsModel:
    network: Any
    num_entity_vectors: int


def load_model(model_dir: Path) -> IPInsightsModel:
    from sagestack.algorithms.ip_insights.network import IPInsightsNetwork
    from sagestack.algorithms.neural import load_state, setup_torch

    setup_torch(1)
    metadata, state = load_state(model_dir, "ipinsights")
    hps = metadata["hyperparameters"]
    net = IPInsightsNetwork(hps["num_entity_vectors"], hps["vector_dim"], hps["num_ip_encoder_layers"])
    net.load_state_dict(state)
    net.eval()
    return IPInsightsModel(net, int(hps["num_entity_vectors"]))


def _verbose(accept: str | None) -> bool:
    from sagestack.formats import content_types as ct

    return ct.parameters(accept).get("verbose", "").strip().lower() in ("true", "1")


def predict(model: IPInsightsModel, body: bytes, content_type: str, accept: str) -> tuple[bytes, str]:
    import torch

    from sagestack.algorithms.ip_insights.data import PairError, request_pairs
    from sagestack.algorithms.ip_insights.network import entity_index, ip_prefix_ids
    from sagestack.formats import content_types as ct
    from sagestack.formats.errors import InferenceError
    from sagestack.formats.inference import encode_response

    kind = ct.normalize(content_type)
    if kind not in SPEC.request_content_types:
        raise InferenceError(
            f"Content type {content_type!r} is not supported; supported: {', '.join(SPEC.request_content_types)}",
            status=415,
        )
    out_kind = ct.normalize((accept or "").split(",")[0])
    if out_kind not in ("", ct.ANY) and out_kind not in SPEC.response_accept_types:
        raise InferenceError(
            f"Accept type {accept!r} is not supported; supported: {', '.join(SPEC.response_accept_types)}",
            status=406,
        )
    try:
        entities, ips = request_pairs(body, kind)
    except (PairError, UnicodeDecodeError, json.JSONDecodeError, AttributeError, TypeError) as exc:
        raise InferenceError(f"Unable to parse the {content_type} request: {exc}", status=400) from None
    if not entities:
        raise InferenceError("The request holds no (entity, IP address) pairs", status=400)
    ids = torch.tensor([entity_index(e, model.num_entity_vectors) for e in entities], dtype=torch.int64)
    with torch.no_grad():
        entity_vectors = model.network.entity_vectors(ids).numpy()
        ip_vectors = model.network.ip_vectors(torch.from_numpy(ip_prefix_ids(ips))).numpy()
    dots = (entity_vectors * ip_vectors).sum(axis=1).astype(np.float32)
    columns: dict[str, Any] = {"dot_product": dots}
    if _verbose(accept):
        columns["entity_embedding"] = entity_vectors.astype(np.float32)
        columns["ip_embedding"] = ip_vectors.astype(np.float32)
    return encode_response(columns, accept, accept_types=SPEC.response_accept_types)
