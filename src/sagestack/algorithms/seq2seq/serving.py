"""Seq2seq inference (§2.14): beam search (``beam_size``) over each source sequence.

* ``application/json``: ``{"instances": [{"data": "tokens …", "configuration": {"attention_matrix":
  "true"}}, …]}`` → ``{"predictions": [{"target": "tokens …", "matrix": [[…]]}, …]}`` (``matrix``, the
  target × source attention weights, only when asked). Tokens split on spaces; unknown ones → ``<unk>``.
* ``application/jsonlines`` (batch transform): ``{"source": "…"}`` per line → ``{"target": "…"}``.
* ``application/x-recordio-protobuf``: a Record per sequence with ``features["source"]`` Int32 ids →
  Records with ``features["target"]`` Int32 ids.

SageMaker documents the same type for Content-Type and Accept; any declared pair is answered here (a
missing or ``*/*`` Accept answers in the request's type).
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


def _sources(model: Seq2SeqModel, body: bytes, request: str) -> list[tuple[list[int], bool]]:
    """The request's source sequences as ids, each with whether its attention matrix is asked for."""
    if request == ct.RECORDIO_PROTOBUF:
        try:
            items = records.read(body)
        except records.RecordError as exc:
            raise InferenceError(f"The request body is not RecordIO-protobuf: {exc}", 400) from None
        if not items and body:
            raise InferenceError("The request body holds no RecordIO-protobuf records", 400)
        size = model.network.src_embed.num_embeddings
        out = []
        for number, features in enumerate(items):
            if "source" not in features:
                raise InferenceError(f"record {number} has no features['source']", 400)
            ids = [i if 0 <= i < size else UNK for i in features["source"]]
            out.append((ids[: model.hp["max_seq_len_source"]], False))
        return out
    try:
        text = body.decode("utf-8")
        if request == ct.JSON:
            doc = json.loads(text)
            if not isinstance(doc, dict) or not isinstance(doc.get("instances"), list):
                raise InferenceError("The request must be a JSON object with an 'instances' array", 400)
            out = []
            for index, inst in enumerate(doc["instances"]):
                if not isinstance(inst, dict) or not isinstance(inst.get("data"), str):
                    raise InferenceError(f"instances[{index}] must be an object with a 'data' string", 400)
                config = inst.get("configuration") or {}
                matrix = isinstance(config, dict) and _truthy(config.get("attention_matrix", False))
                out.append((model.encode_text(inst["data"]), matrix))
            return out
        out = []
        for line in text.splitlines():
            if not line.strip():
                continue
            doc = json.loads(line)
            if not isinstance(doc, dict) or not isinstance(doc.get("source"), str):
                raise InferenceError("each JSON line must be an object with a 'source' string", 400)
            out.append((model.encode_text(doc["source"]), False))
        return out
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InferenceError(f"The request body is not valid {request}: {exc}", 400) from None


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
    results = []
    for ids, want_matrix in _sources(model, body, request):
        target, matrix = model.translate(ids)
        results.append((target, matrix if want_matrix else None))
    if answer == ct.RECORDIO_PROTOBUF:
        return records.write({"target": target} for target, _ in results), ct.RECORDIO_PROTOBUF
    items = []
    for target, matrix in results:
        item: dict[str, Any] = {"target": model.decode_ids(target)}
        if matrix is not None:
            item["matrix"] = matrix
        items.append(item)
    if answer == ct.JSON:
        return json.dumps({"predictions": items}).encode(), ct.JSON
    return "".join(json.dumps(item) + "\n" for item in items).encode(), ct.JSONLINES
