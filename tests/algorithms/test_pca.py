"""Built-in PCA: training jobs in a temp /opt/ml layout, quality against scikit-learn, serving."""

from __future__ import annotations

import json

import numpy as np
import pytest

from jobdir import dense_recordio, make_job, predict_recordio
from sagestack.algorithms import pca
from sagestack.algorithms.base import AlgorithmClientError, InferenceError
from sagestack.algorithms.pca.spec import parse_hyperparameters


def reconstruction_error(X: np.ndarray, mean: np.ndarray, components: np.ndarray) -> float:
    """Squared error of projecting ``X`` on the span of ``components`` (columns) around ``mean``."""
    Xc = X.astype(np.float64) - mean
    residual = Xc - (Xc @ components) @ components.T
    return float((residual**2).sum())


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits

    return load_digits().data.astype(np.float32)


def sdk_hyperparameters(**values) -> dict[str, str]:
    return {key: str(value) for key, value in values.items()}


@pytest.mark.parametrize("mode", ["regular", "randomized"])
@pytest.mark.parametrize("num_components", [2, 10])
def test_reconstruction_matches_sklearn(tmp_path, sdk, digits, mode, num_components):
    from sklearn.decomposition import PCA

    hps = sdk_hyperparameters(
        feature_dim=64, num_components=num_components, mini_batch_size=500, algorithm_mode=mode
    )
    env = make_job(
        tmp_path,
        hps,
        {
            "train": {
                "matrix_0.pbr": dense_recordio(digits[:900]),
                "matrix_1.pbr": dense_recordio(digits[900:]),
            }
        },
    )
    pca.train(env)
    model = pca.load_model(env.model_dir)
    assert model.v.shape == (64, num_components)
    reference = PCA(n_components=num_components).fit(digits.astype(np.float64))
    ours = reconstruction_error(digits, model.mean, model.v)
    theirs = reconstruction_error(digits, reference.mean_, reference.components_.T)
    assert ours <= 1.01 * theirs
    # Ascending order, as SageMaker's PCA stores s and v: the top component is the last column.
    assert np.all(np.diff(model.s) >= 0)
    np.testing.assert_allclose(model.s[::-1], reference.singular_values_, rtol=1e-3)
    np.testing.assert_allclose(np.abs(model.v[:, -1] @ reference.components_[0]), 1.0, atol=1e-3)


def test_no_subtract_mean_csv(tmp_path):
    rng = np.random.default_rng(0)
    X = (rng.standard_normal((300, 6)) @ rng.standard_normal((6, 6)) + 5.0).astype(np.float32)
    csv = "\n".join(",".join(repr(float(v)) for v in row) for row in X).encode()
    env = make_job(
        tmp_path,
        sdk_hyperparameters(feature_dim=6, num_components=3, mini_batch_size=50, subtract_mean=False),
        {"train": {"x.csv": csv}},
        {"train": "text/csv;label_size=0"},
    )
    pca.train(env)
    model = pca.load_model(env.model_dir)
    np.testing.assert_array_equal(model.mean, np.zeros(6))
    # Uncentred PCA = top right singular vectors of X itself.
    _, s, vt = np.linalg.svd(X.astype(np.float64), full_matrices=False)
    np.testing.assert_allclose(model.s[::-1], s[:3], rtol=1e-4)
    np.testing.assert_allclose(np.abs(vt[:3] @ model.v[:, ::-1]), np.eye(3), atol=1e-3)


@pytest.mark.parametrize(
    "name,value",
    [
        ("num_components", "0"),
        ("num_components", "65"),
        ("algorithm_mode", "exact"),
        ("extra_components", "-2"),
        ("subtract_mean", "yes please"),
        ("mini_batch_size", "0"),
        ("feature_dim", "x"),
    ],
)
def test_bad_hyperparameter_names_the_value(name, value):
    hps = {"feature_dim": "64", "num_components": "3", "mini_batch_size": "100", name: value}
    with pytest.raises(AlgorithmClientError) as err:
        parse_hyperparameters(hps)
    assert name in str(err.value) and value in str(err.value)


def test_hyperparameter_defaults_and_required():
    params = parse_hyperparameters({"feature_dim": "64", "num_components": "3", "mini_batch_size": "100"})
    assert (params.algorithm_mode, params.subtract_mean, params.extra_components) == ("regular", True, 10)
    params = parse_hyperparameters(
        {
            "feature_dim": "64",
            "num_components": "20",
            "mini_batch_size": "1",
            "subtract_mean": "False",
            "extra_components": "-1",
            "_tuning_objective_metric": "",
        }
    )
    assert params.extra_components == 20 and params.subtract_mean is False
    with pytest.raises(AlgorithmClientError, match="num_components"):
        parse_hyperparameters({"feature_dim": "64", "mini_batch_size": "100"})


def test_feature_dim_mismatch_is_client_error(tmp_path, sdk, digits):
    env = make_job(
        tmp_path,
        sdk_hyperparameters(feature_dim=10, num_components=2, mini_batch_size=100),
        {"train": {"d.pbr": dense_recordio(digits[:50])}},
    )
    with pytest.raises(AlgorithmClientError, match="feature_dim"):
        pca.train(env)


# --- serving --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def trained(tmp_path_factory, digits, sdk):
    root = tmp_path_factory.mktemp("pca-model")
    env = make_job(
        root,
        sdk_hyperparameters(feature_dim=64, num_components=5, mini_batch_size=500),
        {"train": {"d.pbr": dense_recordio(digits)}},
    )
    pca.train(env)
    return pca.load_model(env.model_dir)


def expected(model, X):
    return (X.astype(np.float64) - model.mean) @ model.v


def test_predict_json_shape(trained, digits):
    rows = digits[:3]
    body = json.dumps({"instances": [{"features": r.tolist()} for r in rows]}).encode()
    payload, ctype = pca.predict(trained, body, "application/json", "application/json")
    assert ctype.startswith("application/json")
    document = json.loads(payload)
    assert list(document) == ["projections"]
    got = np.array([item["projection"] for item in document["projections"]])
    np.testing.assert_allclose(got, expected(trained, rows), rtol=1e-4, atol=1e-3)


def test_predict_csv_to_jsonlines(trained, digits):
    rows = digits[10:14]
    body = "\n".join(",".join(str(float(v)) for v in r) for r in rows).encode()
    payload, ctype = pca.predict(trained, body, "text/csv", "application/jsonlines")
    assert ctype.startswith("application/jsonlines")
    lines = [json.loads(line) for line in payload.decode().splitlines() if line.strip()]
    got = np.array([line["projection"] for line in lines])
    np.testing.assert_allclose(got, expected(trained, rows), rtol=1e-4, atol=1e-3)


def test_predict_recordio_round_trip_with_sdk(trained, digits):
    rows = digits[::200]
    records = predict_recordio(pca, trained, rows)
    got = np.array([r["projection"] for r in records])
    np.testing.assert_allclose(got, expected(trained, rows), rtol=1e-4, atol=1e-3)


def test_predict_rejects_wrong_width(trained):
    with pytest.raises(InferenceError) as err:
        pca.predict(trained, b"1,2,3", "text/csv", "application/json")
    assert err.value.status == 400


@pytest.mark.parametrize("offset,shifted", [(1e4, True), (0.3, False)])
def test_scatter_accumulator_float32_matches_float64_over_uneven_batches(offset, shifted):
    """The float32 product keeps the covariance to float32 accuracy, whatever the batch sizes: shifted by
    the first batch's mean (column sums riding along as a column of ones) for data far from the origin,
    straight from the (strided) batch with a GEMV for the sums when every mean is within a standard
    deviation of zero."""
    from sagestack.algorithms.pca.decomposition import ScatterAccumulator

    rng = np.random.default_rng(7)
    X = (rng.normal(size=(5000, 12)) * rng.uniform(0.5, 4, size=12) + offset).astype(np.float32)
    records = np.zeros((5000, 15), dtype=np.float32)  # as a reader's view: rows 60 bytes apart
    records[:, 2:14] = X
    acc = ScatterAccumulator(12)
    for start, stop in ((0, 1000), (1000, 1037), (1037, 4999), (4999, 5000)):
        assert acc.add(records[start:stop, 2:14])
    assert bool(acc.shift.any()) is shifted
    X64 = X.astype(np.float64)
    centred = X64 - X64.mean(axis=0)
    expected = centred.T @ centred
    assert acc.rows == 5000
    np.testing.assert_allclose(acc.mean(), X64.mean(axis=0), rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(
        acc.centred_scatter(True), expected, rtol=1e-4, atol=1e-3 * np.abs(expected).max()
    )


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_features_are_a_client_error(tmp_path, bad):
    X = np.ones((50, 4), dtype=np.float32)
    X[17, 2] = bad
    env = make_job(
        tmp_path,
        {"num_components": 2, "feature_dim": 4, "mini_batch_size": 10},
        {"train": {"train.pbr": dense_recordio(X)}},
    )
    with pytest.raises(AlgorithmClientError, match="NaN or infinite"):
        pca.train(env)


def test_non_finite_feature_in_a_later_chunk_is_a_client_error(tmp_path):
    """Centred data (products taken straight from the reader's buffer) with one NaN far into the file:
    the batch's non-finite scatter triggers the check."""
    X = np.random.default_rng(5).normal(size=(20000, 6)).astype(np.float32)
    X[15321, 4] = np.nan
    env = make_job(
        tmp_path,
        {"num_components": 2, "feature_dim": 6, "mini_batch_size": 100},
        {"train": {"train.pbr": dense_recordio(X)}},
    )
    with pytest.raises(AlgorithmClientError, match="NaN or infinite"):
        pca.train(env)


def test_huge_finite_features_are_accepted(tmp_path):
    """Values near float32's limit are finite: the check must not overflow where the data does not."""
    X = np.full((50, 4), 3.0e38, dtype=np.float32)
    X[:, 1] = np.arange(50, dtype=np.float32)
    env = make_job(
        tmp_path,
        {"num_components": 1, "feature_dim": 4, "mini_batch_size": 10, "subtract_mean": "false"},
        {"train": {"train.pbr": dense_recordio(X)}},
    )
    pca.train(env)
    assert any(env.model_dir.iterdir())
