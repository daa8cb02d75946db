"""Built-in Object2Vec: encoders, comparators, classification and regression, embeddings, bad input."""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pytest

from jobdir import make_job, metric_values
from sagestack.algorithms import object2vec
from sagestack.algorithms.base import AlgorithmClientError, InferenceError


def records(seed: int, n: int, regression: bool = False) -> list[dict]:
    """Three groups of ten tokens; similar pairs share a group (label 1, or 1.0 for regression)."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        g0 = int(rng.integers(0, 3))
        similar = bool(rng.random() < 0.5)
        g1 = g0 if similar else (g0 + int(rng.integers(1, 3))) % 3
        rows.append(
            {
                "label": float(similar) if regression else int(similar),
                "in0": (g0 * 10 + rng.integers(0, 10, size=rng.integers(2, 6))).tolist(),
                "in1": (g1 * 10 + rng.integers(0, 10, size=rng.integers(2, 6))).tolist(),
            }
        )
    return rows


def jsonl(rows) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


BASE = {
    "enc0_max_seq_len": 8,
    "enc0_vocab_size": 30,
    "enc_dim": 16,
    "mlp_dim": 16,
    "enc0_token_embedding_dim": 8,
    "enc1_token_embedding_dim": 8,
    "epochs": 8,
    "learning_rate": 0.01,
}


def _job(tmp_path, hps=None, regression=False, train=None):
    return make_job(
        tmp_path,
        {**BASE, **(hps or {})},
        {
            "train": {"a.jsonl": train if train is not None else jsonl(records(0, 1200, regression))},
            "validation": {"b.jsonl": jsonl(records(1, 200, regression))},
            "test": {"c.jsonl": jsonl(records(2, 200, regression))},
        },
        {"train": "application/jsonlines"},
    )


def _train(env) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        object2vec.train(env)
    return out.getvalue()


@pytest.mark.parametrize(
    "hps",
    [
        {"enc0_network": "pooled_embedding"},
        {"enc0_network": "hcnn", "enc0_cnn_filter_width": "2", "comparator_list": "hadamard,abs_diff"},
        {
            "enc0_network": "bilstm",
            "enc1_network": "pooled_embedding",
            "tied_token_embedding_weight": "true",
            "epochs": "4",
        },
    ],
    ids=["pooled_embedding", "hcnn", "bilstm"],
)
def test_classification_separates_similar_pairs(tmp_path, hps):
    metrics = metric_values(_train(_job(tmp_path, hps)), object2vec.SPEC)
    assert metrics["validation:accuracy"] >= 0.9 and metrics["test:accuracy"] >= 0.9
    assert metrics["test:cross_entropy"] < 0.5
    model = object2vec.load_model(tmp_path / "model")
    held_out = records(5, 100)
    request = {"instances": [{"in0": r["in0"], "in1": r["in1"]} for r in held_out]}
    body, ctype = object2vec.predict(
        model, json.dumps(request).encode(), "application/json", "application/json"
    )
    scores = np.array([p["scores"] for p in json.loads(body)["predictions"]])
    assert (
        ctype == "application/json" and scores.shape == (100, 2) and np.allclose(scores.sum(1), 1, atol=1e-5)
    )
    assert ((scores[:, 1] > 0.5) == np.array([r["label"] for r in held_out])).mean() >= 0.85


def test_regression_and_embeddings(tmp_path):
    env = _job(
        tmp_path, {"output_layer": "mean_squared_error", "enc0_network": "pooled_embedding"}, regression=True
    )
    metrics = metric_values(_train(env), object2vec.SPEC)
    assert metrics["test:mean_squared_error"] < 0.1 and "test:accuracy" not in metrics
    model = object2vec.load_model(tmp_path / "model")
    body, _ = object2vec.predict(
        model, b'{"in0": [1], "in1": [2]}\n', "application/jsonlines", "application/jsonlines"
    )
    assert len(json.loads(body)["scores"]) == 1
    body, ctype = object2vec.predict(
        model,
        b'{"in0": [1, 2, 3]}\n{"in1": [4]}\n',
        "application/jsonlines; infer_max_seqlens=2,2",
        "application/jsonlines",
    )
    vectors = [json.loads(line)["embeddings"] for line in body.decode().splitlines()]
    assert ctype == "application/jsonlines" and [len(v) for v in vectors] == [16, 16]
    # infer_max_seqlens=2 truncates [1, 2, 3] to [1, 2]
    truncated, _ = object2vec.predict(
        model, b'{"in0": [1, 2]}\n', "application/jsonlines", "application/jsonlines"
    )
    assert np.allclose(json.loads(truncated)["embeddings"], vectors[0], atol=1e-6)


def test_negative_sampling_adds_dissimilar_pairs(tmp_path):
    positives = [r for r in records(0, 1500) if r["label"] == 1]
    env = _job(
        tmp_path, {"negative_sampling_rate": "1", "enc0_network": "pooled_embedding"}, train=jsonl(positives)
    )
    metrics = metric_values(_train(env), object2vec.SPEC)
    assert metrics["validation:accuracy"] >= 0.85  # trained on positives only


def test_bad_requests_are_4xx(tmp_path):
    _train(_job(tmp_path, {"enc0_network": "pooled_embedding", "epochs": "1"}))
    model = object2vec.load_model(tmp_path / "model")
    cases = [
        (b'{"instances": [{"in0": [1], "in1": [99]}]}', "application/json"),  # token outside the vocabulary
        (b'{"instances": [{"in0": [1], "in1": [2]}, {"in0": [1]}]}', "application/json"),  # mixed
        (b'{"instances": [{"in0": [1]}]}', "application/json; infer_max_seqlens=0"),
        (b'{"instances": [{"other": 1}]}', "application/json"),
    ]
    for body, ctype in cases:
        with pytest.raises(InferenceError) as info:
            object2vec.predict(model, body, ctype, "application/json")
        assert info.value.status == 400, body


@pytest.mark.parametrize(
    ("hps", "name"),
    [
        ({"enc0_network": "transformer"}, "enc0_network"),
        ({"comparator_list": "hadamard,cosine"}, "comparator_list"),
        ({"enc0_layers": "5"}, "enc0_layers"),
        ({"enc_dim": "3"}, "enc_dim"),
        ({"num_classes": "31"}, "num_classes"),
        ({"early_stopping_patience": "6"}, "early_stopping_patience"),
        ({"enc0_pretrained_embedding_file": "glove.txt"}, "enc0_pretrained_embedding_file"),
        ({"tied_token_embedding_weight": "true", "enc1_vocab_size": "40"}, "tied_token_embedding_weight"),
        ({"output_layer": "mean_squared_error", "negative_sampling_rate": "2"}, "negative_sampling_rate"),
    ],
)
def test_bad_hyperparameters_are_client_errors(tmp_path, hps, name):
    with pytest.raises(AlgorithmClientError, match=name):
        _train(_job(tmp_path, hps))


def test_bad_records_name_the_line(tmp_path):
    bad = jsonl(records(0, 3)) + b'{"label": 0, "in0": [1], "in1": [31]}\n'
    with pytest.raises(AlgorithmClientError, match="line 4.*in1"):
        _train(_job(tmp_path, train=bad))
    with pytest.raises(AlgorithmClientError, match="label"):
        _train(_job(tmp_path / "b", train=b'{"label": 3, "in0": [1], "in1": [2]}\n'))
