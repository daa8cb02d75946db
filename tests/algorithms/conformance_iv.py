"""Conformance cases of the algorithms whose data are not feature rows: DeepAR (time series),
BlazingText (text) and seq2seq (token ids). ``test_conformance.CASES`` takes these as Case arguments:
tiny training data, and the N_QUERY queries as each request type carries them, with the response
rows reduced to key → floats for the format-consistency checks.

Seq2seq's RecordIO-protobuf records are written and read with the SageMaker SDK's own ``record_pb2``
and RecordIO helpers, as the AWS example's ``create_vocab_proto.py`` does.
"""

from __future__ import annotations

import io
import json
import os
from typing import Any

import numpy as np

N_QUERY = 7  # as test_conformance


def _sdk():
    os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
    from sagemaker.amazon import common, record_pb2

    return common, record_pb2


def _json_lines(rows: list[Any]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


def _predictions(body: bytes, accept: str, wrapped: bool) -> list[dict]:
    if accept == "application/json":
        doc = json.loads(body)
        return doc["predictions"] if wrapped else doc
    return [json.loads(line) for line in body.decode().splitlines() if line.strip()]


# ------------------------------------------------------------------------------------------------
# DeepAR


def _series(count: int, length: int, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    t = np.arange(length)
    return [
        {
            "start": "2021-03-01 00:00:00",
            "target": (10 + 3 * np.sin(2 * np.pi * t / 24 + i) + rng.normal(0, 0.3, length))
            .round(3)
            .tolist(),
        }
        for i in range(count)
    ]


def _deepar_rows(body: bytes, accept: str) -> list[dict[str, list[float]]]:
    rows = []
    for p in _predictions(body, accept, wrapped=True):
        row = {"mean": p["mean"]}
        row.update({f"q{k}": v for k, v in sorted(p["quantiles"].items())})
        rows.append(row)
    return rows


def _deepar_request(content_type: str) -> bytes:
    queries = _series(N_QUERY, 40, seed=5)
    if content_type == "application/json":
        return json.dumps({"instances": queries}).encode()
    return _json_lines(queries)


DEEPAR = {
    "hyperparameters": {
        "time_freq": "H",
        "context_length": "12",
        "prediction_length": "6",
        "epochs": "2",
        "num_cells": "8",
        "num_layers": "1",
        "mini_batch_size": "16",
        "likelihood": "gaussian",
        "num_eval_samples": "20",
    },
    "channels": lambda X, y: {
        "train": {"train.json": _json_lines(_series(6, 60, seed=1))},
        "test": {"test.json": _json_lines(_series(3, 66, seed=2))},
    },
    "tuning_metric": "test:RMSE",
    "expected_metrics": ("test:RMSE", "test:mean_wQuantileLoss", "train:final_loss"),
    "request": _deepar_request,
    "rows": _deepar_rows,
}

# ------------------------------------------------------------------------------------------------
# BlazingText (supervised)


def _sentences(count: int, seed: int) -> list[tuple[int, str]]:
    rng = np.random.default_rng(seed)
    vocab = [["good", "great", "fine", "nice"], ["bad", "awful", "poor", "sad"]]
    out = []
    for _ in range(count):
        label = int(rng.integers(0, 2))
        words = [str(rng.choice(vocab[label])) for _ in range(4)] + ["the", "movie"]
        out.append((label, " ".join(words)))
    return out


def _labelled(lines: list[tuple[int, str]]) -> bytes:
    return "".join(f"__label__{label} {text}\n" for label, text in lines).encode()


def _blazingtext_request(content_type: str) -> bytes:
    texts = [text for _, text in _sentences(N_QUERY, seed=9)]
    if content_type == "application/json":
        return json.dumps({"instances": texts}).encode()
    return _json_lines([{"source": text} for text in texts])


BLAZINGTEXT = {
    "hyperparameters": {
        "mode": "supervised",
        "epochs": "3",
        "min_count": "1",
        "vector_dim": "8",
        "buckets": "1000",
        "learning_rate": "0.3",
        "early_stopping": "True",
        "min_epochs": "1",
        "patience": "2",
    },
    "channels": lambda X, y: {
        "train": {"train.txt": _labelled(_sentences(80, seed=1))},
        "validation": {"validation.txt": _labelled(_sentences(20, seed=2))},
    },
    "content_types": {"train": "text/plain", "validation": "text/plain"},
    "tuning_metric": "validation:accuracy",
    "expected_metrics": ("validation:accuracy",),
    "request": _blazingtext_request,
    "rows": lambda body, accept: [{"prob": p["prob"]} for p in _predictions(body, accept, wrapped=False)],
}

# ------------------------------------------------------------------------------------------------
# Seq2seq

_SPECIAL = {"<pad>": 0, "<unk>": 1, "<s>": 2, "</s>": 3}
SRC_VOCAB = {**_SPECIAL, **{f"a{i}": i + 4 for i in range(8)}}
TRG_VOCAB = {**_SPECIAL, **{f"b{i}": i + 4 for i in range(8)}}


def _pairs(count: int, seed: int) -> list[tuple[list[int], list[int]]]:
    rng = np.random.default_rng(seed)
    pairs = []
    for _ in range(count):
        source = [int(v) + 4 for v in rng.integers(0, 8, int(rng.integers(2, 6)))]
        pairs.append((source, source[::-1]))
    return pairs


def _records(features: list[dict[str, list[int]]]) -> bytes:
    common, record_pb2 = _sdk()
    buf = io.BytesIO()
    for item in features:
        record = record_pb2.Record()
        for key, ids in item.items():
            record.features[key].int32_tensor.values.extend(ids)
        common._write_recordio(buf, record.SerializeToString())
    return buf.getvalue()


def _seq2seq_request(content_type: str) -> bytes:
    sources = [s for s, _ in _pairs(N_QUERY, seed=3)]
    words = {i: w for w, i in SRC_VOCAB.items()}
    if content_type == "application/json":
        return json.dumps({"instances": [{"data": " ".join(words[i] for i in s)} for s in sources]}).encode()
    if content_type == "application/jsonlines":
        return _json_lines([{"source": " ".join(words[i] for i in s)} for s in sources])
    return _records([{"source": s} for s in sources])


def _seq2seq_rows(body: bytes, accept: str) -> list[dict[str, list[float]]]:
    if accept == "application/x-recordio-protobuf":
        common, _ = _sdk()
        return [
            {"target": [float(v) for v in r.features["target"].int32_tensor.values]}
            for r in common.read_records(io.BytesIO(body))
        ]
    return [
        {"target": [float(TRG_VOCAB.get(w, 1)) for w in p["target"].split()]}
        for p in _predictions(body, accept, wrapped=accept == "application/json")
    ]


SEQ2SEQ = {
    "hyperparameters": {
        "max_num_epochs": "2",
        "rnn_num_hidden": "16",
        "num_embed_source": "8",
        "num_embed_target": "8",
        "batch_size": "16",
        "beam_size": "2",
        "learning_rate": "0.01",
        "max_seq_len_source": "10",
        "max_seq_len_target": "10",
    },
    "channels": lambda X, y: {
        "train": {"train.rec": _records([{"source": s, "target": t} for s, t in _pairs(64, seed=1)])},
        "validation": {"val.rec": _records([{"source": s, "target": t} for s, t in _pairs(16, seed=2)])},
        "vocab": {
            "vocab.src.json": json.dumps(SRC_VOCAB).encode(),
            "vocab.trg.json": json.dumps(TRG_VOCAB).encode(),
        },
    },
    "tuning_metric": "validation:bleu",
    "expected_metrics": ("validation:perplexity", "validation:accuracy", "validation:bleu"),
    "request": _seq2seq_request,
    "rows": _seq2seq_rows,
}

CASE_ARGUMENTS = {"deepar": DEEPAR, "blazingtext": BLAZINGTEXT, "seq2seq": SEQ2SEQ}
