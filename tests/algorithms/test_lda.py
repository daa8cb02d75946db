"""Built-in LDA: spectral decomposition against planted topics and scikit-learn, the MXNet artifact,
training jobs (dense, sparse, CSV), test:pwll, bad input."""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pytest
import scipy.sparse as sp

from jobdir import dense_recordio, make_job, metric_values, predict_recordio, sparse_recordio
from sagestack.algorithms import lda
from sagestack.algorithms.base import AlgorithmClientError, InferenceError
from sagestack.algorithms.lda import spectral

VOCAB, TOPICS = 30, 3


def corpus(seed: int = 0, docs: int = 1000, length: int = 40, concentration: float = 0.1):
    rng = np.random.default_rng(seed)
    beta = np.full((TOPICS, VOCAB), 0.02 / VOCAB)
    block = VOCAB // TOPICS
    for t in range(TOPICS):
        beta[t, t * block : (t + 1) * block] += 0.98 / block
    beta /= beta.sum(axis=1, keepdims=True)
    theta = rng.dirichlet(np.full(TOPICS, concentration), size=docs)
    counts = np.stack([rng.multinomial(length, t @ beta) for t in theta]).astype(np.float32)
    return counts, theta, beta


def topic_error(estimate: np.ndarray, beta: np.ndarray) -> float:
    """Mean L1 distance between planted and estimated topics under the best matching."""
    from scipy.optimize import linear_sum_assignment

    distances = np.abs(beta[:, None, :] - estimate[None]).sum(axis=-1)
    rows, cols = linear_sum_assignment(distances)
    return float(distances[rows, cols].mean())


def test_spectral_recovers_planted_topics_and_prior():
    counts, _, beta = corpus()
    moments = spectral.Moments(VOCAB)
    moments.add(sp.csr_matrix(counts[:500]))
    moments.add(sp.csr_matrix(counts[500:]))  # batches accumulate
    result = spectral.fit(moments, TOPICS, 0.3, 10, 1000, 1e-8, np.random.default_rng(0))
    assert result.beta.shape == (TOPICS, VOCAB) and np.allclose(result.beta.sum(axis=1), 1)
    assert topic_error(result.beta, beta) < 0.1
    assert result.alpha.sum() == pytest.approx(0.3, rel=0.35)  # planted alpha0 = 3 × 0.1


def test_topic_mixtures_match_sklearn_document_assignment():
    from scipy.optimize import linear_sum_assignment
    from sklearn.decomposition import LatentDirichletAllocation

    counts, theta, _ = corpus(1)
    moments = spectral.Moments(VOCAB)
    moments.add(sp.csr_matrix(counts))
    result = spectral.fit(moments, TOPICS, 0.3, 10, 1000, 1e-8, np.random.default_rng(0))

    def accuracy(estimate):
        confusion = np.zeros((TOPICS, TOPICS))
        for a, b in zip(theta.argmax(1), estimate.argmax(1)):
            confusion[a, b] += 1
        r, c = linear_sum_assignment(-confusion)
        return confusion[r, c].sum() / len(theta)

    ours = accuracy(spectral.topic_mixtures(counts, result.alpha, result.beta))
    reference = accuracy(LatentDirichletAllocation(TOPICS, random_state=0).fit_transform(counts))
    assert ours >= reference - 0.02, (ours, reference)


def test_tensor_power_method_finds_orthogonal_components():
    rng = np.random.default_rng(0)
    basis, _ = np.linalg.qr(rng.normal(size=(4, 4)))
    weights = np.array([3.0, 2.0, 1.5, 1.0])
    T = np.einsum("r,ir,jr,kr->ijk", weights, basis, basis, basis)
    lambdas, vectors = spectral.tensor_power_method(T, 4, 5, 200, 1e-10, rng)
    assert np.allclose(np.sort(lambdas), np.sort(weights), atol=1e-6)
    assert np.allclose(np.abs(vectors.T @ basis).max(axis=1), 1.0, atol=1e-6)


def _train(env) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        lda.train(env)
    return out.getvalue()


@pytest.mark.parametrize("writer", [dense_recordio, sparse_recordio])
def test_training_job_writes_the_mxnet_artifact_and_pwll(tmp_path, writer):
    from sagestack.formats import mxnet_ndarray

    counts, _, beta = corpus()
    env = make_job(
        tmp_path,
        {"num_topics": TOPICS, "feature_dim": VOCAB, "mini_batch_size": 900, "alpha0": "0.3"},
        {"train": {"a.pbr": writer(counts[:900])}, "test": {"b.pbr": writer(counts[900:])}},
    )
    metrics = metric_values(_train(env), lda.SPEC)
    uniform = np.log(1.0 / VOCAB)
    assert metrics["test:pwll"] > uniform + 0.5  # far better than a uniform word distribution
    alpha, topics = mxnet_ndarray.load((tmp_path / "model" / "model_algo-1").read_bytes())
    assert alpha.shape == (TOPICS,) and topics.shape == (TOPICS, VOCAB)
    assert topic_error(topics / topics.sum(1, keepdims=True), beta) < 0.12
    model = lda.load_model(tmp_path / "model")
    rows = predict_recordio(lda, model, counts[:5])
    assert [list(r) for r in rows] == [["topic_mixture"]] * 5
    assert all(len(r["topic_mixture"]) == TOPICS for r in rows)
    body, _ = lda.predict(
        model,
        json.dumps(
            {
                "instances": [
                    {"data": {"features": {"keys": [0, 1, 2], "shape": [VOCAB], "values": [5, 5, 5]}}}
                ]
            }
        ).encode(),
        "application/json",
        "application/json",
    )
    (mixture,) = [p["topic_mixture"] for p in json.loads(body)["predictions"]]
    assert max(mixture) > 0.8  # words of one planted topic


def test_csv_documents_train(tmp_path):
    counts, _, _ = corpus(docs=600)
    csv = "".join(",".join(str(int(v)) for v in row) + "\n" for row in counts).encode()
    env = make_job(
        tmp_path,
        {"num_topics": TOPICS, "feature_dim": VOCAB, "mini_batch_size": 600},
        {"train": {"a.csv": csv}},
        {"train": "text/csv"},
    )
    _train(env)
    assert lda.load_model(tmp_path / "model").beta.shape == (TOPICS, VOCAB)


@pytest.mark.parametrize(
    ("hps", "name"),
    [
        ({"alpha0": "0"}, "alpha0"),
        ({"tol": "-1"}, "tol"),
        ({"max_restarts": "0"}, "max_restarts"),
        ({"max_iterations": "0"}, "max_iterations"),
        ({"num_topics": "31"}, "num_topics"),
    ],
)
def test_bad_hyperparameters_are_client_errors(tmp_path, hps, name):
    counts, _, _ = corpus(docs=50)
    env = make_job(
        tmp_path,
        {"num_topics": TOPICS, "feature_dim": VOCAB, "mini_batch_size": 50, **hps},
        {"train": {"a.pbr": dense_recordio(counts)}},
    )
    with pytest.raises(AlgorithmClientError, match=name):
        _train(env)


def test_negative_counts_are_refused(tmp_path):
    counts, _, _ = corpus(docs=50)
    counts[0, 0] = -1
    env = make_job(
        tmp_path,
        {"num_topics": TOPICS, "feature_dim": VOCAB, "mini_batch_size": 50},
        {"train": {"a.pbr": dense_recordio(counts)}},
    )
    with pytest.raises(AlgorithmClientError, match="negative"):
        _train(env)
    spectral_model = lda.model.LDAModel(np.full(TOPICS, 0.1), np.full((TOPICS, VOCAB), 1 / VOCAB))
    with pytest.raises(InferenceError) as info:
        lda.predict(spectral_model, b"-1" + b",0" * (VOCAB - 1), "text/csv", "application/json")
    assert info.value.status == 400
