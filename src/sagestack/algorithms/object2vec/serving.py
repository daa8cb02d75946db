"""Object2Vec inference (§2.12): pairs ``{"in0": [...], "in1": [...]}`` → ``{"scores": [...]}`` (class
probabilities, or one value for regression); single-sided instances (only ``in0`` or only ``in1``,
``infer_max_seqlens=<enc0>,<enc1>`` in the Content-Type) → ``{"embeddings": [...]}`` from that encoder."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sagestack.algorithms.object2vec.spec import SPEC, EncoderParams, Object2VecParams


@dataclass
class Object2VecModel:
    network: Any
    params: Object2VecParams


def load_model(model_dir: Path) -> Object2VecModel:
    from sagestack.algorithms.neural import load_state, setup_torch
    from sagestack.algorithms.object2vec.network import Object2VecNetwork

    setup_torch(1)
    metadata, state = load_state(model_dir, "object2vec")
    raw = dict(metadata["params"])
    raw["enc0"] = EncoderParams(**raw["enc0"])
    raw["enc1"] = EncoderParams(**raw["enc1"])
    raw["comparators"] = tuple(raw["comparators"])
    params = Object2VecParams(**raw)
    net = Object2VecNetwork(params)
    net.load_state_dict(state)
    net.eval()
    return Object2VecModel(net, params)


def _max_seqlens(content_type: str | None, params: Object2VecParams) -> tuple[int, int]:
    from sagestack.formats import content_types as ct
    from sagestack.formats.errors import InferenceError

    value = ct.parameters(content_type).get("infer_max_seqlens")
    if value is None:
        return params.enc0.max_seq_len, params.enc1.max_seq_len
    try:
        parts = [int(p) for p in value.split(",")]
    except ValueError:
        parts = []
    if len(parts) not in (1, 2) or not all(1 <= p <= 5000 for p in parts):
        raise InferenceError(
            f"infer_max_seqlens={value!r} must be one or two integers in [1, 5000]", status=400
        )
    return parts[0], parts[-1]


def _instances(body: bytes, kind: str) -> list[Any]:
    from sagestack.formats import content_types as ct

    text = body.decode("utf-8")
    if kind == ct.JSON:
        doc = json.loads(text)
        instances = doc.get("instances") if isinstance(doc, dict) else None
        if not isinstance(instances, list):
            raise ValueError('a JSON request must be {"instances": [...]}')
        return instances
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def predict(model: Object2VecModel, body: bytes, content_type: str, accept: str) -> tuple[bytes, str]:
    import torch

    from sagestack.algorithms.object2vec.data import RecordError, pad, tokens
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
    params = model.params
    max0, max1 = _max_seqlens(content_type, params)
    try:
        instances = _instances(body, kind)
        parsed = []
        for index, inst in enumerate(instances):
            where = f"instance {index}"
            if not isinstance(inst, dict) or not ({"in0", "in1"} & set(inst)):
                raise RecordError(f"{where} must be an object with in0 and/or in1")
            side = {
                n: tokens(inst[f"in{n}"], f"in{n}", enc.vocab_size, m, where)
                for n, enc, m in ((0, params.enc0, max0), (1, params.enc1, max1))
                if f"in{n}" in inst
            }
            parsed.append(side)
    except (RecordError, ValueError, UnicodeDecodeError, AttributeError, TypeError) as exc:
        raise InferenceError(f"Unable to parse the {content_type} request: {exc}", status=400) from None
    if not parsed:
        raise InferenceError("The request holds no instances", status=400)
    pairs = [i for i, side in enumerate(parsed) if len(side) == 2]
    if pairs and len(pairs) != len(parsed):
        raise InferenceError(
            "A request holds either pairs (in0 and in1) for scoring or single inputs for embeddings, not both",
            status=400,
        )
    records: list[dict[str, Any]] = []
    with torch.no_grad():
        if pairs:
            t0, l0 = pad([side[0] for side in parsed])
            t1, l1 = pad([side[1] for side in parsed])
            out = model.network(
                (torch.from_numpy(t0), torch.from_numpy(l0)), (torch.from_numpy(t1), torch.from_numpy(l1))
            )
            scores = out if params.regression else torch.softmax(out, dim=1)
            records = [{"scores": row} for row in scores.numpy().astype(np.float32).tolist()]
        else:
            for side in parsed:
                ((which, ids),) = side.items()
                t, length = pad([ids])
                vector = model.network.encode(which, torch.from_numpy(t), torch.from_numpy(length))[0]
                records.append({"embeddings": vector.numpy().astype(np.float32).tolist()})
    return encode_response(records, accept, accept_types=SPEC.response_accept_types)
