"""Built-in IP Insights: CSV pairs, negative sampling, validation AUC, dot-product and verbose inference."""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pytest

from jobdir import make_job, metric_values
from sagestack.algorithms import ip_insights
from sagestack.algorithms.base import AlgorithmClientError, InferenceError
from sagestack.algorithms.ip_insights.network import entity_index, ip_prefix_ids, negatives, parse_ip
from sagestack.algorithms.ip_insights.training import auc

USERS = 60


def pairs(seed: int, n: int) -> list[tuple[str, str]]:
    rng = np.random.default_rng(seed)
    home = np.random.default_rng(99)
    subnets = {
        u: [f"172.{home.integers(16, 32)}.{home.integers(0, 256)}" for _ in range(2)] for u in range(USERS)
    }
    users = rng.integers(0, USERS, size=n)
    return [(f"u{u}", f"{subnets[u][rng.integers(0, 2)]}.{rng.integers(1, 255)}") for u in users]


def csv(rows) -> bytes:
    return "".join(f"{e},{ip}\n" for e, ip in rows).encode()


def _train(env) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        ip_insights.train(env)
    return out.getvalue()


def test_hashing_and_ip_encoding_are_stable():
    assert entity_index("user_1", 1000) == entity_index("user_1", 1000)
    assert parse_ip("10.0.0.1") == (10 << 24) + 1
    ids = ip_prefix_ids(
        np.array([parse_ip("10.1.2.3"), parse_ip("10.1.2.4"), parse_ip("11.1.2.3")], dtype=np.uint64)
    )
    assert ids.shape == (3, 4)
    assert (ids[0, :3] == ids[1, :3]).all() and ids[0, 3] != ids[1, 3]  # same /24, different address
    assert ids[0, 0] != ids[2, 0]
    with pytest.raises(ValueError):
        parse_ip("300.1.1.1")


def test_negative_sampling_rates():
    rng = np.random.default_rng(0)
    ent, ip = negatives(np.arange(10), np.arange(10, dtype=np.uint64), 2, 3, rng)
    assert ent.shape == ip.shape == (50,)


def test_auc_matches_sklearn():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, size=200)
    scores = rng.normal(size=200) + labels
    scores[:20] = 0.5  # ties
    assert auc(labels, scores) == pytest.approx(roc_auc_score(labels, scores))


def test_training_separates_seen_pairs_and_serves_every_format(tmp_path):
    env = make_job(
        tmp_path,
        {
            "num_entity_vectors": 2 * USERS,
            "vector_dim": 8,
            "epochs": 6,
            "mini_batch_size": 100,
            "learning_rate": 0.01,
        },
        {"train": {"a.csv": csv(pairs(0, 3000))}, "validation": {"b.csv": csv(pairs(1, 300))}},
        {"train": "text/csv", "validation": "text/csv"},
    )
    metrics = metric_values(_train(env), ip_insights.SPEC)
    assert metrics["validation:discriminator_auc"] >= 0.9
    model = ip_insights.load_model(tmp_path / "model")
    seen = pairs(2, 50)
    rng = np.random.default_rng(3)
    randoms = [(e, ".".join(str(x) for x in rng.integers(1, 224, size=4))) for e, _ in seen]
    body, ctype = ip_insights.predict(model, csv(seen + randoms), "text/csv", "application/json")
    scores = np.array([p["dot_product"] for p in json.loads(body)["predictions"]])
    assert ctype == "application/json" and auc(np.r_[np.ones(50), np.zeros(50)], scores) >= 0.95
    request = json.dumps(
        {"instances": [{"data": {"features": {"values": list(seen[0])}}}, {"features": list(seen[1])}]}
    ).encode()
    body, _ = ip_insights.predict(model, request, "application/json", "application/jsonlines; verbose=True")
    rows = [json.loads(line) for line in body.decode().splitlines()]
    assert [sorted(r) for r in rows] == [["dot_product", "entity_embedding", "ip_embedding"]] * 2
    assert np.dot(rows[0]["entity_embedding"], rows[0]["ip_embedding"]) == pytest.approx(
        rows[0]["dot_product"], rel=1e-4
    )
    assert np.isclose(rows[0]["dot_product"], scores[0], rtol=1e-5)


def test_bad_rows_and_requests(tmp_path):
    env = make_job(
        tmp_path,
        {"num_entity_vectors": 10, "vector_dim": 4},
        {"train": {"a.csv": b"u1,10.0.0.1\nu2,not-an-ip\n"}},
        {"train": "text/csv"},
    )
    with pytest.raises(AlgorithmClientError, match="row 2.*not an IPv4"):
        _train(env)
    env = make_job(
        tmp_path / "b",
        {"num_entity_vectors": 10, "vector_dim": 4, "epochs": 1},
        {"train": {"a.csv": b"u1,10.0.0.1\nu2,10.0.0.2\n"}},
        {"train": "text/csv"},
    )
    _train(env)
    model = ip_insights.load_model(tmp_path / "b" / "model")
    for body in (b"u1,10.0.0.1,extra\n", b"u1,999.0.0.1\n", b'{"instances": 5}'):
        with pytest.raises(InferenceError) as info:
            ip_insights.predict(
                model, body, "application/json" if body.startswith(b"{") else "text/csv", "application/json"
            )
        assert info.value.status == 400
    with pytest.raises(InferenceError) as info:
        ip_insights.predict(model, b"u1,10.0.0.1", "application/x-recordio-protobuf", "application/json")
    assert info.value.status == 415


@pytest.mark.parametrize(
    ("hps", "name"),
    [
        ({"vector_dim": "3"}, "vector_dim"),
        ({"num_ip_encoder_layers": "101"}, "num_ip_encoder_layers"),
        (
            {"random_negative_sampling_rate": "0", "shuffled_negative_sampling_rate": "0"},
            "negative_sampling_rate",
        ),
        ({"mini_batch_size": "500001"}, "mini_batch_size"),
        ({"learning_rate": "11"}, "learning_rate"),
    ],
)
def test_bad_hyperparameters_are_client_errors(tmp_path, hps, name):
    env = make_job(
        tmp_path,
        {"num_entity_vectors": 10, "vector_dim": 4, **hps},
        {"train": {"a.csv": b"u1,10.0.0.1\n"}},
        {"train": "text/csv"},
    )
    with pytest.raises(AlgorithmClientError, match=name):
        _train(env)
