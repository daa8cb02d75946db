"""Built-in NTM: hyperparameters, training with validation/early stopping, vocab.txt, inference."""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pytest

from jobdir import dense_recordio, make_job, metric_values, predict_recordio, sparse_recordio
from sagestack.algorithms import ntm
from sagestack.algorithms.base import AlgorithmClientError
from sagestack.algorithms.ntm.spec import parse_hyperparameters, parse_layers
from test_lda import TOPICS, VOCAB, corpus


def _train(env) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        ntm.train(env)
    return out.getvalue()


def _matched_accuracy(estimate, theta) -> float:
    from scipy.optimize import linear_sum_assignment

    confusion = np.zeros((TOPICS, TOPICS))
    for a, b in zip(theta.argmax(1), estimate.argmax(1)):
        confusion[a, b] += 1
    r, c = linear_sum_assignment(-confusion)
    return confusion[r, c].sum() / len(theta)


def test_encoder_layers_values():
    assert parse_layers("auto") is None
    assert parse_layers("[30, 20]") == [30, 20] == parse_layers("30,20")
    for bad in ("[]", "0,5", "1.5", "x"):
        with pytest.raises(ValueError):
            parse_layers(bad)
    params = parse_hyperparameters({"feature_dim": "50", "num_topics": "4"})
    assert params.encoder_layers == (12, 8)  # auto = [3 × num_topics, 2 × num_topics]
    assert params.optimizer == "adadelta" and params.epochs == 50 and params.clip_gradient == float("inf")


def test_groups_documents_by_planted_topic_and_logs_topics(tmp_path):
    counts, theta, _ = corpus(docs=800)
    vocab = "".join(f"word{i}\n" for i in range(VOCAB)).encode()
    env = make_job(
        tmp_path,
        {
            "feature_dim": VOCAB,
            "num_topics": TOPICS,
            "epochs": 30,
            "mini_batch_size": 64,
            "encoder_layers": "[24, 12]",
        },
        {
            "train": {"a.pbr": sparse_recordio(counts[:700])},
            "validation": {"b.pbr": dense_recordio(counts[700:])},
            "test": {"c.pbr": dense_recordio(counts[700:])},
            "auxiliary": {"vocab.txt": vocab},
        },
        {"auxiliary": "text/plain"},
    )
    log = _train(env)
    metrics = metric_values(log, ntm.SPEC)
    assert {"validation:total_loss", "train:total_loss", "test:total_loss"} <= set(metrics)
    assert log.count("[topic ") == TOPICS and "word" in log
    model = ntm.load_model(tmp_path / "model")
    rows = predict_recordio(ntm, model, counts)
    weights = np.array([r["topic_weights"] for r in rows])
    assert weights.shape == (len(counts), TOPICS) and np.allclose(weights.sum(1), 1, atol=1e-5)
    assert _matched_accuracy(weights, theta) >= 0.85
    body, ctype = ntm.predict(model, b"1" + b",0" * (VOCAB - 1) + b"\n", "text/csv", "application/jsonlines")
    assert ctype == "application/jsonlines" and len(json.loads(body)["topic_weights"]) == TOPICS


def test_early_stopping_and_sub_sample(tmp_path):
    counts, _, _ = corpus(docs=300)
    env = make_job(
        tmp_path,
        {
            "feature_dim": VOCAB,
            "num_topics": TOPICS,
            "epochs": 100,
            "tolerance": "0.1",
            "num_patience_epochs": "1",
            "sub_sample": "0.5",
            "optimizer": "sgd",
            "learning_rate": "0.0001",
            "batch_norm": "True",
            "clip_gradient": "1.0",
            "rescale_gradient": "0.5",
        },
        {
            "train": {"a.pbr": dense_recordio(counts[:250])},
            "validation": {"b.pbr": dense_recordio(counts[250:])},
        },
    )
    log = _train(env)
    assert "Early stopping" in log
    assert log.count("validation total_loss") < 100


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("optimizer", "lbfgs"),
        ("encoder_layers_activation", "softplus"),
        ("num_topics", "1"),
        ("tolerance", "0.5"),
        ("rescale_gradient", "2"),
        ("sub_sample", "0"),
        ("encoder_layers", "0,3"),
        ("mini_batch_size", "10001"),
    ],
)
def test_bad_hyperparameters_are_client_errors(tmp_path, name, value):
    counts, _, _ = corpus(docs=20)
    env = make_job(
        tmp_path,
        {"feature_dim": VOCAB, "num_topics": TOPICS, name: value},
        {"train": {"a.pbr": dense_recordio(counts)}},
    )
    with pytest.raises(AlgorithmClientError, match=name):
        _train(env)


def test_vocab_must_match_feature_dim(tmp_path):
    counts, _, _ = corpus(docs=20)
    env = make_job(
        tmp_path,
        {"feature_dim": VOCAB, "num_topics": TOPICS},
        {"train": {"a.pbr": dense_recordio(counts)}, "auxiliary": {"vocab.txt": b"a\nb\n"}},
        {"auxiliary": "text/plain"},
    )
    with pytest.raises(AlgorithmClientError, match="vocab.txt"):
        _train(env)
