"""Seq2seq inference (§2.14): beam search (``beam_size``) over each source sequence.

* ``application/json``: ``{"instances": [{"data": "tokens …", "configuration": {"attention_matrix":
  "true"}}, …]}`` → ``{"predictions": [{"target": "tokens …", "matrix": [[…]]}, …]}`` (``matrix``, the
  target × source attention weights, only when asked). Tokens split on spaces; unknown ones → ``<unk>``.
* ``application/jsonlines`` (batch transform): ``{"source": "…"}`` per line → ``{"target": "…"}``.
* ``application/x-recordio-protobuf``: a Record per sequence with ``features["source"]`` Int32 ids →
  Records with ``features["target"]`` Int32 ids.

Content-Type and Accept must agree, as SageMaker's seq2seq requires; a missing or ``*/*`` Accept
answers in the request's type.
"""

from __future__ import annotations

import json
from typing import Any

from sagestack.algorithms.base import InferenceError
from sagestack.algorithms.seq2seq import records
from sagestack.algorithms.seq2seq.model import Seq2SeqModel
from sagestack.algorithms.seq2seq.model import load_model as load_model  # noqa: PLC0414 (entry point)
from sagestack.algorithms.seq2seq.network import UNK
from sagestack.algorithms.seq2seq.spec import SPEC
from sagestack.formats import content_types as ct


def _truthy(value: Any) -> bool:
    return value is True or str(value).strip().lower() == "true"


def _json(model: Seq2SeqModel, body: bytes) -> list[dict]:
    doc = json.loads(body)
    if not isinstance(doc, dict) or not isinstance(doc.get("instances"), list):
        raise InferenceError("The request must be a JSON object with an 'instances' array", 400)
    out = []
    for index, inst in enumerate(doc["instances"]):
        if not isinstance(inst, dict) or not isinstance(inst.get("data"), str):
            raise InferenceError(f"instances[{index}] must be an object with a 'data' string", 400)
        ids, matrix = model.translate(model.encode_text(inst["data"]))
        item: dict[str, Any] = {"target": model.decode_ids(ids)}
        config = inst.get("configuration") or {}
        if isinstance(config, dict) and _truthy(config.get("attention_matrix", False)):
            item["matrix"] = matrix
        out.append(item)
    return out


def predict(model: Seq2SeqModel, body: bytes, content_type: str, accept: str) -> tuple[bytes, str]:
    request = ct.normalize(content_type)
    answer = ct.normalize((accept or "").split(",")[0])
    if request not in SPEC.request_content_types:
        raise InferenceError(
            f"Content type {content_type!r} is not supported; supported: {', '.join(SPEC.request_content_types)}",
            415,
        )
    if answer in ("", ct.ANY):
        answer = request
    if answer not in SPEC.response_accept_types:
        raise InferenceError(
            f"Accept type {accept!r} is not supported; supported: {', '.join(SPEC.response_accept_types)}",
            406,
        )
    if answer != request:
        raise InferenceError(
            f"Content-Type ({request}) and Accept ({answer}) must be the same for seq2seq", 406
        )
    try:
        if request == ct.JSON:
            return json.dumps({"predictions": _json(model, body)}).encode(), ct.JSON
        if request == ct.JSONLINES:
            lines = []
            for line in body.decode("utf-8").splitlines():
                if not line.strip():
                    continue
                doc = json.loads(line)
                if not isinstance(doc, dict) or not isinstance(doc.get("source"), str):
                    raise InferenceError("each JSON line must be an object with a 'source' string", 400)
                ids, _ = model.translate(model.encode_text(doc["source"]))
                lines.append(json.dumps({"target": model.decode_ids(ids)}) + "\n")
            return "".join(lines).encode(), ct.JSONLINES
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InferenceError(f"The request body is not valid {request}: {exc}", 400) from None
    try:
        items = records.read(body)
    except records.RecordError as exc:
        raise InferenceError(f"The request body is not RecordIO-protobuf: {exc}", 400) from None
    if not items and body:
        raise InferenceError("The request body holds no RecordIO-protobuf records", 400)
    size = model.network.src_embed.num_embeddings
    outputs = []
    for number, features in enumerate(items):
        if "source" not in features:
            raise InferenceError(f"record {number} has no features['source']", 400)
        source = [i if 0 <= i < size else UNK for i in features["source"]][: model.hp["max_seq_len_source"]]
        ids, _ = model.translate(source)
        outputs.append({"target": ids})
    return records.write(outputs), ct.RECORDIO_PROTOBUF
