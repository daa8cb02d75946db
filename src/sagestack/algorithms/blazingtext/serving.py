"""BlazingText inference (§2.11): ``application/json`` or ``application/jsonlines`` in and out.

* Supervised: ``{"instances": ["sentence", …], "configuration": {"k": 2}}`` → a JSON array (no
  wrapper) ``[{"label": ["__label__1", …], "prob": [0.93, …]}, …]``, k labels by decreasing
  probability (k defaults to 1); JSON Lines ``{"source": "…", "k": 2}`` → one such object per line.
* Word2Vec: ``{"instances": ["word", …]}`` → ``[{"vector": [...], "word": "word"}, …]``; words not in
  the vocabulary get zeros, or their subword vector when trained with ``subwords=True``; JSON Lines
  ``{"source": "word"}`` per line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sagestack.algorithms.base import InferenceError
from sagestack.algorithms.blazingtext.fasttext_format import FastTextModel
from sagestack.algorithms.blazingtext.spec import SPEC
from sagestack.algorithms.blazingtext.training import MODEL_FILE
from sagestack.algorithms.blazingtext.word2vec import SUBWORDS_FILE
from sagestack.formats import content_types as ct


@dataclass
class BlazingTextModel:
    classifier: FastTextModel | None = None
    vectors: Any = None  # gensim KeyedVectors (FastTextKeyedVectors with subwords)


def load_model(model_dir: Path) -> BlazingTextModel:
    model_dir = Path(model_dir)
    if (model_dir / "vectors.bin").exists() or (model_dir / "vectors.txt").exists():
        from gensim.models import KeyedVectors

        if (model_dir / SUBWORDS_FILE).exists():
            from gensim.models.fasttext import load_facebook_vectors

            return BlazingTextModel(vectors=load_facebook_vectors(str(model_dir / SUBWORDS_FILE)))
        if (model_dir / "vectors.bin").exists():
            return BlazingTextModel(
                vectors=KeyedVectors.load_word2vec_format(str(model_dir / "vectors.bin"), binary=True)
            )
        return BlazingTextModel(
            vectors=KeyedVectors.load_word2vec_format(str(model_dir / "vectors.txt"), binary=False)
        )
    path = model_dir / MODEL_FILE
    if not path.exists():
        raise FileNotFoundError(
            f"No BlazingText model (vectors.bin, vectors.txt or model.bin) in {model_dir}"
        )
    return BlazingTextModel(classifier=FastTextModel.from_bytes(path.read_bytes()))


def _vector(model: BlazingTextModel, word: str) -> list[float]:
    kv = model.vectors
    if word in kv.key_to_index or hasattr(kv, "buckets_word"):
        try:
            return [float(v) for v in kv[word]]
        except KeyError:
            pass
    return [0.0] * int(kv.vector_size)


def _k(value: Any) -> int:
    try:
        k = int(value)
    except (TypeError, ValueError):
        raise InferenceError(f"k {value!r} is not an integer", 400) from None
    if k < 1:
        raise InferenceError("k must be a positive integer", 400)
    return k


def _answer(model: BlazingTextModel, text: Any, k: int) -> dict:
    if not isinstance(text, str):
        raise InferenceError("each instance must be a string", 400)
    if model.classifier is not None:
        labels, probs = model.classifier.predict(text, k)
        return {"label": labels, "prob": probs}
    return {"vector": _vector(model, text.strip()), "word": text}


def predict(model: BlazingTextModel, body: bytes, content_type: str, accept: str) -> tuple[bytes, str]:
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
    try:
        text = body.decode("utf-8")
        if request == ct.JSON:
            doc = json.loads(text)
            if not isinstance(doc, dict) or not isinstance(doc.get("instances"), list):
                raise InferenceError("The request must be a JSON object with an 'instances' array", 400)
            configuration = doc.get("configuration") or {}
            if not isinstance(configuration, dict):
                raise InferenceError("'configuration' must be a JSON object", 400)
            k = _k(configuration.get("k", 1))
            results = [_answer(model, item, k) for item in doc["instances"]]
        else:
            results = []
            for line in text.splitlines():
                if not line.strip():
                    continue
                doc = json.loads(line)
                if not isinstance(doc, dict) or "source" not in doc:
                    raise InferenceError("each JSON line must be an object with 'source'", 400)
                results.append(_answer(model, doc["source"], _k(doc.get("k", 1))))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InferenceError(f"The request body is not valid {request}: {exc}", 400) from None
    if answer == ct.JSON:
        return json.dumps(results).encode(), ct.JSON
    return "".join(json.dumps(r) + "\n" for r in results).encode(), ct.JSONLINES
