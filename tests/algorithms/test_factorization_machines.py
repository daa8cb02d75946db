"""Built-in Factorization Machines: training jobs in a temp /opt/ml layout, quality, serving formats."""

from __future__ import annotations

import io
import json
import re

import numpy as np
import pytest
import scipy.sparse as sp

from jobdir import dense_recordio, make_job, metric_values, sparse_recordio
from sagestack.algorithms import factorization_machines as fmalg
from sagestack.algorithms.base import AlgorithmClientError, InferenceError
from sagestack.algorithms.factorization_machines import model as fm

A, B = 30, 30  # two one-hot fields (user, item): the click depends on their interaction only


@pytest.fixture(scope="module")
def interactions():
    """Sparse one-hot (user, item) rows; label = XOR of hidden user and item groups, 5% noise."""
    rng = np.random.default_rng(0)
    n = 6000
    users = rng.integers(0, A, n)
    items = rng.integers(0, B, n)
    user_group = rng.choice([-1.0, 1.0], A)
    item_group = rng.choice([-1.0, 1.0], B)
    y = (user_group[users] * item_group[items] > 0).astype(np.float32)
    flip = rng.random(n) < 0.05
    y[flip] = 1 - y[flip]
    X = sp.csr_matrix(
        (np.ones(2 * n, np.float32), np.stack([users, A + items], 1).ravel(), np.arange(0, 2 * n + 1, 2)),
        shape=(n, A + B),
    )
    # A regression target with a rank-2 interaction structure.
    u = rng.normal(size=(A, 2))
    v = rng.normal(size=(B, 2))
    target = ((u[users] * v[items]).sum(1) + 0.1 * rng.normal(size=n)).astype(np.float32)
    return X, y, target


BINARY = {
    "feature_dim": A + B,
    "num_factors": 8,
    "predictor_type": "binary_classifier",
    "epochs": 5,
    "mini_batch_size": 100,
    "factors_lr": 0.05,
    "linear_lr": 0.01,
    "factors_init_sigma": 0.1,
}


def test_binary_beats_logistic_regression(tmp_path, sdk, interactions, capsys):
    from sklearn.linear_model import LogisticRegression

    X, y, _ = interactions
    Xtr, ytr, Xte, yte = X[:5000], y[:5000], X[5000:], y[5000:]
    env = make_job(
        tmp_path,
        BINARY,
        {"train": {"train.pbr": sparse_recordio(Xtr, ytr)}, "test": {"test.pbr": sparse_recordio(Xte, yte)}},
    )
    fmalg.train(env)
    out = capsys.readouterr().out
    metrics = metric_values(out, fmalg.SPEC)
    baseline = LogisticRegression().fit(Xtr, ytr).score(Xte, yte)
    assert baseline < 0.7
    assert metrics["test:binary_classification_accuracy"] > 0.88
    assert metrics["test:binary_classification_accuracy"] > baseline + 0.2
    assert metrics["test:binary_classification_cross_entropy"] < 0.45
    assert metrics["test:binary_f_beta"] > 0.85
    assert (
        len(
            re.findall(
                r"#quality_metric: host=algo-1, epoch=\d+, train binary_classification_cross_entropy"
                r"_objective <loss>=",
                out,
            )
        )
        == 5
    )
    assert sorted(p.name for p in env.model_dir.iterdir()) == ["model_algo-1.json", "model_algo-1.npz"]

    model = fmalg.load_model(env.model_dir)
    body, ctype = fmalg.predict(
        model, sparse_recordio(Xte), "application/x-recordio-protobuf", "application/json"
    )
    assert ctype == "application/json"
    predictions = json.loads(body)["predictions"]
    assert set(predictions[0]) == {"score", "predicted_label"}
    scores = np.array([p["score"] for p in predictions])
    labels = np.array([p["predicted_label"] for p in predictions])
    assert ((scores >= 0) & (scores <= 1)).all()
    np.testing.assert_array_equal(labels, (scores >= 0.5).astype(float))
    assert np.mean(labels == yte) == pytest.approx(metrics["test:binary_classification_accuracy"])


def test_regressor_beats_ridge(tmp_path, sdk, interactions, capsys):
    from sklearn.linear_model import Ridge

    X, _, target = interactions
    Xtr, ytr, Xte, yte = X[:5000], target[:5000], X[5000:], target[5000:]
    hps = {**BINARY, "predictor_type": "regressor", "epochs": 8}
    env = make_job(
        tmp_path,
        hps,
        {"train": {"train.pbr": sparse_recordio(Xtr, ytr)}, "test": {"test.pbr": sparse_recordio(Xte, yte)}},
    )
    fmalg.train(env)
    out = capsys.readouterr().out
    rmse = metric_values(out, fmalg.SPEC)["test:rmse"]
    baseline = float(np.sqrt(np.mean((Ridge().fit(Xtr, ytr).predict(Xte) - yte) ** 2)))
    assert rmse < 0.6 * baseline
    assert "train mse_objective <loss>=" in out

    model = fmalg.load_model(env.model_dir)
    body, _ = fmalg.predict(
        model, sparse_recordio(Xte[:50]), "application/x-recordio-protobuf", "application/jsonlines"
    )
    lines = [json.loads(line) for line in body.decode().splitlines() if line.strip()]
    assert len(lines) == 50 and set(lines[0]) == {"score"}
    scores = np.array([r["score"] for r in lines])
    np.testing.assert_allclose(scores, fm.predict_scores(model.params, Xte[:50], "regressor"), rtol=1e-5)


def test_dense_float64_input_and_uniform_init(tmp_path, sdk, interactions):
    X, y, _ = interactions
    hps = {
        **BINARY,
        "epochs": 2,
        "linear_init_method": "uniform",
        "linear_init_scale": 0.05,
        "bias_init_method": "constant",
        "bias_init_value": 0.0,
        "clip_gradient": 5.0,
        "eps": 1e-7,
        "rescale_grad": 1.0,
    }
    env = make_job(
        tmp_path, hps, {"train": {"t.pbr": dense_recordio(X[:2000].toarray().astype(np.float64), y[:2000])}}
    )
    fmalg.train(env)
    model = fmalg.load_model(env.model_dir)
    assert model.params.V.shape == (A + B, 8) and model.params.w.shape == (A + B,)
    assert np.isfinite(model.params.V).all()


def test_pairwise_term_matches_definition():
    rng = np.random.default_rng(1)
    params = fm.FMParams(
        rng.normal(size=1).astype(np.float32),
        rng.normal(size=6).astype(np.float32),
        rng.normal(size=(6, 3)).astype(np.float32),
    )
    X = sp.random(5, 6, density=0.5, random_state=2, format="csr", dtype=np.float32)
    dense = X.toarray()
    brute = params.w0[0] + dense @ params.w
    for i in range(6):
        for j in range(i + 1, 6):
            brute += dense[:, i] * dense[:, j] * (params.V[i] @ params.V[j])
    scores, _, _ = fm.forward(params, X)
    np.testing.assert_allclose(scores, brute, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(fm.forward(params, dense)[0], scores, rtol=1e-5, atol=1e-6)


def test_lazy_updates_leave_absent_features_alone():
    params = fm.FMParams(np.zeros(1, np.float32), np.ones(4, np.float32), np.ones((4, 2), np.float32))
    optimizer = fm.LazyAdam.for_params(
        params, {"bias": 0.1, "linear": 0.1, "factors": 0.1}, {"bias": 0.0, "linear": 0.5, "factors": 0.5}
    )
    X = sp.csr_matrix(np.array([[1.0, 0, 2.0, 0]], np.float32))
    scores, XV, X2 = fm.forward(params, X)
    _, dscore = fm.loss_and_dscore(scores, np.array([0.0], np.float32), "regressor")
    rows = fm.touched_rows(X)
    optimizer.step(params, fm.gradients(params, X, XV, X2, dscore, rows), rows)
    np.testing.assert_array_equal(rows, [0, 2])
    assert params.w[1] == 1.0 and params.w[3] == 1.0 and (params.V[[1, 3]] == 1.0).all()
    assert params.w[0] < 1.0 and params.w[2] < 1.0


@pytest.mark.parametrize(
    "override,needle",
    [
        ({"num_factors": "0"}, "'0'"),
        ({"predictor_type": "multiclass_classifier"}, "'multiclass_classifier'"),
        ({"epochs": "0"}, "'0'"),
        ({"factors_lr": "-0.1"}, "'-0.1'"),
        ({"bias_wd": "abc"}, "'abc'"),
        ({"linear_init_method": "xavier"}, "'xavier'"),
        ({"factors_init_method": "uniform"}, "factors_init_scale"),
        ({"bias_init_method": "constant"}, "bias_init_value"),
        ({"factors_init_sigma": "-1"}, "'-1'"),
        ({"clip_gradient": "-2"}, "'-2.0'"),
        ({"mini_batch_size": "1.5"}, "'1.5'"),
        ({"optimizer": "sgd"}, "'optimizer'"),
    ],
)
def test_bad_hyperparameters(tmp_path, override, needle):
    env = make_job(tmp_path, {**BINARY, **override}, {"train": {"x.pbr": b""}})
    with pytest.raises(AlgorithmClientError, match=re.escape(needle)):
        fmalg.train(env)


def test_missing_required_and_bad_channels(tmp_path, sdk, interactions):
    env = make_job(tmp_path / "a", {"feature_dim": 60, "predictor_type": "regressor"}, {"train": {}})
    with pytest.raises(AlgorithmClientError, match="num_factors"):
        fmalg.train(env)
    env = make_job(tmp_path / "b", BINARY, {"train": {"t.csv": b"1,0,1\n"}}, {"train": "text/csv"})
    with pytest.raises(AlgorithmClientError, match="text/csv"):
        fmalg.train(env)
    X, y, _ = interactions
    env = make_job(
        tmp_path / "c", {**BINARY, "feature_dim": 61}, {"train": {"t.pbr": sparse_recordio(X[:10], y[:10])}}
    )
    with pytest.raises(AlgorithmClientError, match="feature_dim"):
        fmalg.train(env)


@pytest.fixture(scope="module")
def served(tmp_path_factory, sdk, interactions):
    X, y, _ = interactions
    env = make_job(
        tmp_path_factory.mktemp("fm"),
        {**BINARY, "epochs": 2},
        {"train": {"t.pbr": sparse_recordio(X[:3000], y[:3000])}},
    )
    fmalg.train(env)
    return fmalg.load_model(env.model_dir)


def test_predict_formats_agree(served, sdk, interactions):
    X, _, _ = interactions
    rows = X[5000:5005]
    expected = fm.predict_scores(served.params, rows, "binary_classifier")
    dense = rows.toarray()
    requests = {
        "application/json": json.dumps({"instances": [{"features": r.tolist()} for r in dense]}).encode(),
        "application/jsonlines": "\n".join(
            json.dumps(
                {
                    "data": {
                        "features": {"keys": r.indices.tolist(), "shape": [A + B], "values": r.data.tolist()}
                    }
                }
            )
            for r in rows
        ).encode(),
        "application/x-recordio-protobuf": sparse_recordio(rows),
    }
    for ctype, body in requests.items():
        out, _ = fmalg.predict(served, body, ctype, "application/json")
        scores = [p["score"] for p in json.loads(out)["predictions"]]
        np.testing.assert_allclose(scores, expected, rtol=1e-5, err_msg=ctype)

    out, ctype = fmalg.predict(
        served, requests["application/json"], "application/json", "application/x-recordio-protobuf"
    )
    assert ctype == "application/x-recordio-protobuf"
    records = sdk.read_records(io.BytesIO(out))
    assert len(records) == 5
    got = [r.label["score"].float32_tensor.values[0] for r in records]
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    assert [r.label["predicted_label"].float32_tensor.values[0] for r in records] == [
        float(s >= 0.5) for s in expected
    ]


def test_sparse_json_without_shape(served):
    request = {"instances": [{"data": {"features": {"keys": [0, 31], "values": [1.0, 1.0]}}}]}
    out, _ = fmalg.predict(served, json.dumps(request).encode(), "application/json", "*/*")
    row = sp.csr_matrix((np.ones(2, np.float32), [0, 31], [0, 2]), shape=(1, A + B))
    expected = fm.predict_scores(served.params, row, "binary_classifier")[0]
    assert json.loads(out)["predictions"][0]["score"] == pytest.approx(float(expected), rel=1e-5)


def test_predict_refuses_csv_and_wrong_width(served):
    with pytest.raises(InferenceError) as info:
        fmalg.predict(served, b"1,0,1", "text/csv", "application/json")
    assert info.value.status == 415
    with pytest.raises(InferenceError):
        fmalg.predict(
            served,
            json.dumps({"instances": [{"features": [1.0, 2.0]}]}).encode(),
            "application/json",
            "application/json",
        )
