"""Built-in K-Means: training jobs in a temp /opt/ml layout, quality against scikit-learn, serving."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from jobdir import dense_recordio, make_job, metric_values, predict_recordio
from sagestack.algorithms import kmeans
from sagestack.algorithms.base import AlgorithmClientError, InferenceError
from sagestack.algorithms.kmeans.clustering import nearest_centers
from sagestack.algorithms.kmeans.fitting import array_batches, fit
from sagestack.algorithms.kmeans.spec import parse_hyperparameters


def inertia(X: np.ndarray, centers: np.ndarray) -> float:
    return float(nearest_centers(X.astype(np.float64), np.asarray(centers, dtype=np.float64))[1].sum())


def sdk_hyperparameters(**values) -> dict[str, str]:
    """What the SDK's KMeans estimator sends (force_dense, str() values, JSON lists)."""
    hps = {"force_dense": "True"}
    for key, value in values.items():
        hps[key] = json.dumps(value) if isinstance(value, list) else str(value)
    return hps


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits

    return load_digits().data.astype(np.float32)


@pytest.fixture(scope="module")
def iris():
    from sklearn.datasets import load_iris

    return load_iris().data.astype(np.float32)


# --- training jobs --------------------------------------------------------------------------------


@pytest.mark.parametrize("dataset,k", [("iris", 3), ("digits", 10)])
def test_train_matches_sklearn_inertia_and_logs_test_metrics(tmp_path, sdk, capsys, request, dataset, k):
    from sklearn.cluster import KMeans

    X = request.getfixturevalue(dataset)
    hps = sdk_hyperparameters(k=k, feature_dim=X.shape[1], mini_batch_size=5000, eval_metrics=["msd", "ssd"])
    env = make_job(
        tmp_path,
        hps,
        {"train": {"matrix_0.pbr": dense_recordio(X)}, "test": {"t.pbr": dense_recordio(X)}},
    )
    kmeans.train(env)
    output = capsys.readouterr().out

    model = kmeans.load_model(env.model_dir)
    assert model.centroids.shape == (k, X.shape[1])
    ours = inertia(X, model.centroids)
    reference = KMeans(n_clusters=k, random_state=0).fit(X.astype(np.float64)).inertia_
    assert ours <= 1.02 * reference

    metrics = metric_values(output, kmeans.SPEC)
    assert set(metrics) == {"test:msd", "test:ssd"}
    assert metrics["test:ssd"] == pytest.approx(ours, rel=1e-4)
    assert metrics["test:msd"] == pytest.approx(ours / X.shape[0], rel=1e-4)


def test_train_csv_channel_and_default_eval_metric(tmp_path, capsys, iris):
    from sklearn.cluster import KMeans

    csv = "\n".join(",".join(repr(float(v)) for v in row) for row in iris).encode()
    labelled = "\n".join("7," + ",".join(repr(float(v)) for v in row) for row in iris).encode()
    env = make_job(
        tmp_path,
        sdk_hyperparameters(k=3, feature_dim=4),
        {"train": {"iris.csv": csv}, "test": {"iris.csv": labelled}},
        {"train": "text/csv;label_size=0", "test": "text/csv"},  # test: first column is a label
    )
    kmeans.train(env)
    metrics = metric_values(capsys.readouterr().out, kmeans.SPEC)
    assert set(metrics) == {"test:msd"}  # eval_metrics defaults to ["msd"]
    reference = KMeans(n_clusters=3, random_state=0).fit(iris.astype(np.float64)).inertia_
    assert metrics["test:msd"] * len(iris) <= 1.02 * reference


def test_streaming_path_matches_sklearn_on_shuffled_blobs(tmp_path, sdk):
    """A training set too large for the direct path goes through the mini-batch stream."""
    from sklearn.cluster import KMeans
    from sklearn.datasets import make_blobs

    from sagestack.algorithms.kmeans import fitting

    X, _ = make_blobs(n_samples=60_000, n_features=8, centers=6, cluster_std=2.5, random_state=3)
    X = X.astype(np.float32)
    assert not fitting.is_small(X.shape[0], 6, 8)
    env = make_job(
        tmp_path,
        sdk_hyperparameters(k=6, feature_dim=8, mini_batch_size=2000, init_method="kmeans++", epochs=2),
        {
            "train": {
                "matrix_0.pbr": dense_recordio(X[:30_000]),
                "matrix_1.pbr": dense_recordio(X[30_000:]),
            }
        },
    )
    kmeans.train(env)
    ours = inertia(X, kmeans.load_model(env.model_dir).centroids)
    reference = KMeans(n_clusters=6, random_state=0, n_init=1).fit(X).inertia_
    assert ours <= 1.02 * reference


@pytest.mark.parametrize(
    "options",
    [
        {"init_method": "random", "extra_center_factor": 4},
        {"init_method": "kmeans++", "half_life_time_size": 500, "local_lloyd_init_method": "random"},
        {"extra_center_factor": 1, "local_lloyd_num_trials": 2, "local_lloyd_max_iter": 5},
    ],
)
def test_stream_options_on_class_sorted_rows(iris, options):
    """Rows sorted by class and tiny batches: the stream alone would be poor, refinement fixes it."""
    from sklearn.cluster import KMeans

    hps = {"k": "3", "feature_dim": "4", "mini_batch_size": "25", **{k: str(v) for k, v in options.items()}}
    params = parse_hyperparameters(hps)
    result = fit(array_batches(iris, 25), params, np.random.default_rng(1), log=lambda _: None)
    assert result.centers.shape == (3, 4)
    reference = KMeans(n_clusters=3, random_state=0).fit(iris.astype(np.float64)).inertia_
    assert inertia(iris, result.centers) <= 1.02 * reference
    assert result.rows == len(iris)


def test_sparse_recordio_is_densified(tmp_path, sdk, iris):
    import scipy.sparse as sp

    buf = io.BytesIO()
    sdk.write_spmatrix_to_sparse_tensor(buf, sp.csr_matrix(iris))
    env = make_job(
        tmp_path, sdk_hyperparameters(k=3, feature_dim=4), {"train": {"sparse.pbr": buf.getvalue()}}
    )
    kmeans.train(env)
    assert kmeans.load_model(env.model_dir).centroids.shape == (3, 4)


# --- validation -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name,value",
    [
        ("k", "0"),
        ("k", "two"),
        ("init_method", "farthest"),
        ("local_lloyd_init_method", "kmeans"),
        ("extra_center_factor", "0"),
        ("extra_center_factor", "lots"),
        ("local_lloyd_num_trials", "-3"),
        ("local_lloyd_tol", "1.5"),
        ("local_lloyd_max_iter", "0"),
        ("half_life_time_size", "-1"),
        ("epochs", "0"),
        ("mini_batch_size", "0"),
        ("eval_metrics", '["msd", "rmse"]'),
        ("force_dense", "maybe"),
    ],
)
def test_bad_hyperparameter_names_the_value(name, value):
    hps = {"k": "3", "feature_dim": "4", name: value}
    with pytest.raises(AlgorithmClientError) as err:
        parse_hyperparameters(hps)
    assert name in str(err.value)
    assert value in str(err.value) or ("rmse" in str(err.value))


def test_hyperparameter_parsing_accepts_sdk_and_container_spellings():
    params = parse_hyperparameters(
        {
            "k": "3",
            "feature_dim": "4",
            "force_dense": "True",
            "eval_metrics": '["msd", "ssd"]',
            "extra_center_factor": "auto",
            "local_lloyd_num_trials": "4",
            "local_lloyd_tol": "1e-05",
            "_tuning_objective_metric": "test:msd",
        }
    )
    assert params.eval_metrics == ("msd", "ssd")
    assert params.extra_center_factor is None and params.local_lloyd_num_trials == 4
    assert params.local_lloyd_tol == 1e-5 and params.force_dense is True
    assert parse_hyperparameters({"k": "3", "feature_dim": "4", "eval_metrics": "ssd"}).eval_metrics == (
        "ssd",
    )
    with pytest.raises(AlgorithmClientError, match="feature_dim"):
        parse_hyperparameters({"k": "3"})
    with pytest.raises(AlgorithmClientError, match="centers"):
        parse_hyperparameters({"k": "3", "feature_dim": "4", "centers": "3"})


def test_feature_dim_mismatch_and_too_few_rows_are_client_errors(tmp_path, sdk, iris):
    env = make_job(
        tmp_path / "a",
        sdk_hyperparameters(k=3, feature_dim=5),
        {"train": {"d.pbr": dense_recordio(iris)}},
    )
    with pytest.raises(AlgorithmClientError, match="feature_dim"):
        kmeans.train(env)
    env = make_job(
        tmp_path / "b",
        sdk_hyperparameters(k=10, feature_dim=4),
        {"train": {"d.pbr": dense_recordio(iris[:5])}},
    )
    with pytest.raises(AlgorithmClientError, match="k=10"):
        kmeans.train(env)


# --- serving --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def trained(tmp_path_factory, iris):
    root = tmp_path_factory.mktemp("kmeans-model")
    csv = "\n".join(",".join(str(float(v)) for v in row) for row in iris).encode()
    env = make_job(
        root,
        sdk_hyperparameters(k=3, feature_dim=4),
        {"train": {"x.csv": csv}},
        {"train": "text/csv;label_size=0"},
    )
    kmeans.train(env)
    return kmeans.load_model(env.model_dir)


def expected(model, X):
    d2 = ((X[:, None, :].astype(np.float64) - model.centroids[None].astype(np.float64)) ** 2).sum(-1)
    return d2.argmin(1), np.sqrt(d2.min(1))


def test_predict_json(trained, iris):
    rows = iris[[0, 60, 120]]
    body = json.dumps({"instances": [{"features": r.tolist()} for r in rows]}).encode()
    payload, ctype = kmeans.predict(trained, body, "application/json", "application/json")
    assert ctype.startswith("application/json")
    predictions = json.loads(payload)["predictions"]
    labels, dists = expected(trained, rows)
    assert [p["closest_cluster"] for p in predictions] == [float(x) for x in labels]
    assert [p["distance_to_cluster"] for p in predictions] == pytest.approx(dists, rel=1e-5)
    assert len(set(labels)) == 3


def test_predict_csv_to_jsonlines(trained, iris):
    rows = iris[:4]
    body = "\n".join(",".join(str(float(v)) for v in r) for r in rows).encode()
    payload, ctype = kmeans.predict(trained, body, "text/csv", "application/jsonlines")
    assert ctype.startswith("application/jsonlines")
    lines = [json.loads(line) for line in payload.decode().splitlines() if line.strip()]
    labels, dists = expected(trained, rows)
    assert [line["closest_cluster"] for line in lines] == [float(x) for x in labels]
    assert [line["distance_to_cluster"] for line in lines] == pytest.approx(dists, rel=1e-5)


def test_predict_recordio_round_trip_with_sdk(trained, iris):
    rows = iris[::30]
    records = predict_recordio(kmeans, trained, rows)
    labels, dists = expected(trained, rows)
    assert len(records) == len(rows)
    got_labels = [r["closest_cluster"][0] for r in records]
    got_dists = [r["distance_to_cluster"][0] for r in records]
    assert got_labels == [float(x) for x in labels]
    assert got_dists == pytest.approx(dists, rel=1e-5)


def test_predict_rejects_wrong_width_and_unknown_accept(trained):
    with pytest.raises(InferenceError) as err:
        kmeans.predict(trained, b"1,2,3", "text/csv", "application/json")
    assert err.value.status == 400
    with pytest.raises(InferenceError):
        kmeans.predict(trained, b"1,2,3,4", "text/csv", "image/png")
