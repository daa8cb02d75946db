"""Built-in k-NN: training jobs in a temp /opt/ml layout, quality against scikit-learn, serving formats."""

from __future__ import annotations

import io
import json
import re

import numpy as np
import pytest
import scipy.sparse as sp

from jobdir import dense_recordio, make_job, metric_values, sparse_recordio
from sagestack.algorithms import knn
from sagestack.algorithms.base import AlgorithmClientError, InferenceError

faiss = pytest.importorskip("faiss")


@pytest.fixture(scope="module")
def blobs():
    from sklearn.datasets import make_classification

    X, y = make_classification(
        n_samples=1400, n_features=12, n_informative=6, n_redundant=2, n_classes=3, random_state=7
    )
    X = X.astype(np.float32)
    y = y.astype(np.float32)
    return X[:1000], y[:1000], X[1000:], y[1000:]


HP = {"feature_dim": 12, "k": 5, "predictor_type": "classifier", "sample_size": 5000}


@pytest.mark.parametrize("metric,sk_metric", [("L2", "euclidean"), ("COSINE", "cosine")])
def test_flat_classifier_matches_sklearn(tmp_path, sdk, blobs, capsys, metric, sk_metric):
    from sklearn.neighbors import KNeighborsClassifier

    Xtr, ytr, Xte, yte = blobs
    env = make_job(
        tmp_path,
        {**HP, "index_metric": metric, "mini_batch_size": 300},
        {"train": {"train.pbr": dense_recordio(Xtr, ytr)}, "test": {"test.pbr": dense_recordio(Xte, yte)}},
    )
    knn.train(env)
    out = capsys.readouterr().out
    reference = KNeighborsClassifier(5, metric=sk_metric, algorithm="brute").fit(Xtr, ytr)
    expected = reference.score(Xte, yte)
    assert metric_values(out, knn.SPEC)["test:accuracy"] == pytest.approx(expected, abs=1e-9)
    assert "#test_score (algo-1) : ('accuracy'," in out

    model = knn.load_model(env.model_dir)
    body, ctype = knn.predict(
        model, dense_recordio(Xte), "application/x-recordio-protobuf", "application/json"
    )
    assert ctype == "application/json"
    predicted = np.array([p["predicted_label"] for p in json.loads(body)["predictions"]])
    np.testing.assert_array_equal(predicted, reference.predict(Xte))


def test_artifact_layout(tmp_path, sdk, blobs):
    Xtr, ytr, _, _ = blobs
    env = make_job(tmp_path, {**HP, "k": 3}, {"train": {"a.pbr": dense_recordio(Xtr, ytr)}})
    knn.train(env)
    files = sorted(p.name for p in env.model_dir.iterdir())
    assert files == ["model_algo-1", "model_algo-1.json", "model_algo-1.labels"]
    meta = json.loads((env.model_dir / "model_algo-1.json").read_text())
    assert meta["k"] == 3 and meta["predictor_type"] == "classifier" and meta["dimension_reduction"] is None
    labels = np.fromfile(env.model_dir / "model_algo-1.labels", dtype=np.float32)
    assert labels.shape == (1000,) and set(np.unique(labels)) == set(np.unique(ytr))
    assert faiss.read_index(str(env.model_dir / "model_algo-1")).ntotal == 1000

    # Editing k in the metadata changes inference, as SageMaker documents.
    meta["k"] = 1
    (env.model_dir / "model_algo-1.json").write_text(json.dumps(meta))
    model = knn.load_model(env.model_dir)
    body, _ = knn.predict(
        model,
        json.dumps({"instances": [{"features": Xtr[0].tolist()}]}).encode(),
        "application/json",
        "application/json; verbose=true",
    )
    record = json.loads(body)["predictions"][0]
    assert record["labels"] == [float(ytr[0])] and record["predicted_label"] == float(ytr[0])


def test_sample_size_and_multiple_files(tmp_path, sdk, blobs, capsys):
    Xtr, ytr, _, _ = blobs
    env = make_job(
        tmp_path,
        {**HP, "sample_size": 250, "mini_batch_size": 64},
        {
            "train": {
                "part0.pbr": dense_recordio(Xtr[:500], ytr[:500]),
                "part1.pbr": dense_recordio(Xtr[500:], ytr[500:]),
            }
        },
    )
    knn.train(env)
    assert "Sampled 250 of 1000 training records" in capsys.readouterr().out
    index = faiss.read_index(str(env.model_dir / "model_algo-1"))
    assert index.ntotal == 250
    # The sample is spread over the whole stream, not its head.
    stored = faiss.rev_swig_ptr(index.get_xb(), index.ntotal * 12).reshape(-1, 12)
    positions = {row.tobytes(): i for i, row in enumerate(Xtr)}
    picked = np.array([positions[row.tobytes()] for row in stored])
    assert (picked >= 500).sum() > 60 and (picked < 500).sum() > 60


def test_regressor_from_csv(tmp_path, capsys):
    from sklearn.neighbors import KNeighborsRegressor

    rng = np.random.default_rng(3)
    X = rng.normal(size=(700, 4)).astype(np.float32)
    y = (X[:, 0] * 2 + np.sin(X[:, 1])).astype(np.float32)

    def csv(Xp, yp) -> bytes:
        return "\n".join(",".join(repr(float(v)) for v in [t, *row]) for row, t in zip(Xp, yp)).encode()

    env = make_job(
        tmp_path,
        {"feature_dim": 4, "k": 4, "predictor_type": "regressor", "sample_size": 1000},
        {"train": {"train.csv": csv(X[:500], y[:500])}, "test": {"test.csv": csv(X[500:], y[500:])}},
        {"train": "text/csv; label_size=1", "test": "text/csv;label_size=1"},
    )
    knn.train(env)
    reference = KNeighborsRegressor(4).fit(X[:500], y[:500]).predict(X[500:])
    mse = float(np.mean((reference - y[500:]) ** 2))
    assert metric_values(capsys.readouterr().out, knn.SPEC)["test:mse"] == pytest.approx(mse, rel=1e-4)

    model = knn.load_model(env.model_dir)
    request = "\n".join(",".join(str(float(v)) for v in row) for row in X[500:510]).encode()
    body, ctype = knn.predict(model, request, "text/csv", "application/jsonlines")
    assert ctype == "application/jsonlines"
    lines = [json.loads(line) for line in body.decode().splitlines() if line.strip()]
    np.testing.assert_allclose([r["predicted_label"] for r in lines], reference[:10], rtol=1e-5)


def test_sparse_recordio_and_sign_reduction(tmp_path, sdk, blobs, capsys):
    Xtr, ytr, Xte, yte = blobs
    env = make_job(
        tmp_path,
        {**HP, "dimension_reduction_type": "sign", "dimension_reduction_target": 8},
        {"train": {"train.pbr": sparse_recordio(Xtr, ytr)}, "test": {"test.pbr": sparse_recordio(Xte, yte)}},
    )
    knn.train(env)
    accuracy = metric_values(capsys.readouterr().out, knn.SPEC)["test:accuracy"]
    assert accuracy > 0.6  # a random 12 → 8 projection keeps most of the neighbourhood structure
    meta = json.loads((env.model_dir / "model_algo-1.json").read_text())
    assert meta["dimension_reduction"] == {"type": "sign", "seed": 3, "target_dim": 8, "input_dim": 12}
    assert (env.model_dir / "model_algo-1.projection.npz").exists()
    model = knn.load_model(env.model_dir)
    assert model.index.d == 8
    body, _ = knn.predict(
        model, sparse_recordio(Xte[:20]), "application/x-recordio-protobuf", "application/json"
    )
    assert len(json.loads(body)["predictions"]) == 20


@pytest.mark.parametrize(
    "extra",
    [
        {"index_type": "faiss.IVFFlat"},
        {"index_type": "faiss.IVFFlat", "faiss_index_ivf_nlists": "10", "index_metric": "INNER_PRODUCT"},
        {"index_type": "faiss.IVFPQ", "faiss_index_pq_m": "4"},
        {"dimension_reduction_type": "fjlt", "dimension_reduction_target": "8"},
    ],
)
def test_index_types_and_fjlt(tmp_path, sdk, blobs, capsys, extra):
    Xtr, ytr, Xte, yte = blobs
    env = make_job(
        tmp_path,
        {**HP, **extra},
        {"train": {"train.pbr": dense_recordio(Xtr, ytr)}, "test": {"test.pbr": dense_recordio(Xte, yte)}},
    )
    knn.train(env)
    accuracy = metric_values(capsys.readouterr().out, knn.SPEC)["test:accuracy"]
    assert accuracy > (0.45 if extra.get("index_metric") == "INNER_PRODUCT" else 0.65)
    model = knn.load_model(env.model_dir)
    if extra.get("index_type") == "faiss.IVFPQ":
        assert isinstance(faiss.downcast_index(model.index), faiss.IndexIVFPQ)
    body, _ = knn.predict(
        model, dense_recordio(Xte[:7]), "application/x-recordio-protobuf", "application/json; verbose=true"
    )
    predictions = json.loads(body)["predictions"]
    assert len(predictions) == 7 and all(len(p["labels"]) == 5 for p in predictions)


@pytest.mark.parametrize("kind", ["sign", "fjlt"])
def test_projections_preserve_distances(kind):
    from sagestack.algorithms.knn.projection import apply_projection, make_projection

    rng = np.random.default_rng(5)
    X = rng.normal(size=(40, 256)).astype(np.float32)
    Z = apply_projection(make_projection(kind, 256, 96, seed=3), sp.csr_matrix(X) if kind == "sign" else X)
    assert Z.shape == (40, 96) and Z.dtype == np.float32
    i, j = np.triu_indices(40, 1)
    ratio = np.linalg.norm(Z[i] - Z[j], axis=1) / np.linalg.norm(X[i] - X[j], axis=1)
    assert abs(ratio.mean() - 1.0) < 0.05 and ratio.min() > 0.6 and ratio.max() < 1.4


@pytest.mark.parametrize(
    "override,needle",
    [
        ({"k": "0"}, "'0'"),
        ({"predictor_type": "ranker"}, "'ranker'"),
        ({"index_type": "faiss.HNSW"}, "'faiss.HNSW'"),
        ({"index_metric": "manhattan"}, "'manhattan'"),
        ({"sample_size": "many"}, "'many'"),
        ({"faiss_index_ivf_nlists": "-3"}, "'-3'"),
        ({"faiss_index_pq_m": "5"}, "'5'"),
        ({"dimension_reduction_type": "pca", "dimension_reduction_target": "3"}, "'pca'"),
        ({"dimension_reduction_type": "sign"}, "dimension_reduction_target"),
        ({"dimension_reduction_type": "sign", "dimension_reduction_target": "12"}, "'12'"),
        ({"index_type": "faiss.IVFPQ", "index_metric": "COSINE"}, "'COSINE'"),
        ({"index_type": "faiss.IVFPQ", "faiss_index_pq_m": "8"}, "'8'"),
        ({"mini_batch_size": "0"}, "'0'"),
        ({"bogus": "1"}, "'bogus'"),
    ],
)
def test_bad_hyperparameters(tmp_path, override, needle):
    env = make_job(tmp_path, {**HP, **override}, {"train": {"x.pbr": b""}})
    with pytest.raises(AlgorithmClientError, match=re.escape(needle)):
        knn.train(env)


def test_missing_required_and_tuning_keys(tmp_path, sdk, blobs):
    env = make_job(tmp_path, {"feature_dim": 12, "k": 3, "predictor_type": "classifier"}, {"train": {}})
    with pytest.raises(AlgorithmClientError, match="sample_size"):
        knn.train(env)
    Xtr, ytr, _, _ = blobs
    env = make_job(
        tmp_path / "ok",
        {**HP, "_tuning_objective_metric": "test:accuracy", "_kvstore": "dist"},
        {"train": {"a.pbr": dense_recordio(Xtr[:50], ytr[:50])}},
    )
    knn.train(env)
    assert (env.model_dir / "model_algo-1").exists()


def test_bad_data(tmp_path, sdk, blobs):
    Xtr, ytr, _, _ = blobs
    env = make_job(tmp_path / "a", {**HP, "feature_dim": 13}, {"train": {"a.pbr": dense_recordio(Xtr, ytr)}})
    with pytest.raises(AlgorithmClientError, match="feature_dim"):
        knn.train(env)
    env = make_job(tmp_path / "b", HP, {"train": {"a.pbr": dense_recordio(Xtr)}})
    with pytest.raises(AlgorithmClientError, match="labels"):
        knn.train(env)
    env = make_job(
        tmp_path / "c", HP, {"train": {"a.pbr": dense_recordio(Xtr, ytr)}, "validation": {"v.pbr": b""}}
    )
    with pytest.raises(AlgorithmClientError, match="validation"):
        knn.train(env)


@pytest.fixture(scope="module")
def served(tmp_path_factory, sdk, blobs):
    Xtr, ytr, _, _ = blobs
    root = tmp_path_factory.mktemp("served")
    env = make_job(root, HP, {"train": {"a.pbr": dense_recordio(Xtr, ytr)}})
    knn.train(env)
    return knn.load_model(env.model_dir)


def test_predict_formats_agree(served, sdk, blobs):
    _, _, Xte, _ = blobs
    rows = Xte[:6]
    expected = [
        json.loads(
            knn.predict(served, dense_recordio(rows), "application/x-recordio-protobuf", "application/json")[
                0
            ]
        )["predictions"][i]["predicted_label"]
        for i in range(6)
    ]
    requests = {
        "text/csv": "\n".join(",".join(repr(float(v)) for v in row) for row in rows).encode(),
        "application/json": json.dumps({"instances": [{"features": row.tolist()} for row in rows]}).encode(),
        "application/jsonlines": "\n".join(json.dumps({"features": row.tolist()}) for row in rows).encode(),
    }
    for ctype, body in requests.items():
        out, _ = knn.predict(served, body, ctype, "application/json")
        assert [p["predicted_label"] for p in json.loads(out)["predictions"]] == expected, ctype

    out, ctype = knn.predict(served, requests["text/csv"], "text/csv", "application/x-recordio-protobuf")
    assert ctype == "application/x-recordio-protobuf"
    records = sdk.read_records(io.BytesIO(out))
    assert [r.label["predicted_label"].float32_tensor.values[0] for r in records] == expected


def test_verbose_neighbours(served, sdk, blobs):
    Xtr, ytr, Xte, _ = blobs
    rows = Xte[:4]
    out, _ = knn.predict(
        served, dense_recordio(rows), "application/x-recordio-protobuf", "application/json; verbose=true"
    )
    predictions = json.loads(out)["predictions"]
    distances = np.sqrt(((rows[:, None, :] - Xtr[None, :, :]) ** 2).sum(-1))
    nearest = np.argsort(distances, axis=1)[:, :5]
    for i, p in enumerate(predictions):
        np.testing.assert_allclose(p["distances"], distances[i, nearest[i]], rtol=1e-4, atol=1e-4)
        assert p["distances"] == sorted(p["distances"])
        assert p["labels"] == ytr[nearest[i]].tolist()

    out, _ = knn.predict(
        served,
        dense_recordio(rows),
        "application/x-recordio-protobuf",
        "application/x-recordio-protobuf; verbose=true",
    )
    records = sdk.read_records(io.BytesIO(out))
    assert len(records) == 4
    for record, p in zip(records, predictions):
        assert list(record.label["labels"].float32_tensor.values) == p["labels"]
        np.testing.assert_allclose(record.label["distances"].float32_tensor.values, p["distances"], rtol=1e-6)
        assert record.label["predicted_label"].float32_tensor.values[0] == p["predicted_label"]

    plain, _ = knn.predict(
        served, dense_recordio(rows), "application/x-recordio-protobuf", "application/jsonlines"
    )
    first = json.loads(plain.decode().splitlines()[0])
    assert set(first) == {"predicted_label"}


def test_predict_rejects_wrong_width(served):
    with pytest.raises(InferenceError):
        knn.predict(served, b"1,2,3", "text/csv", "application/json")
