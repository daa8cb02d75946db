"""Built-in Linear Learner: training jobs in a temp /opt/ml layout (data written by the SageMaker SDK's own
RecordIO writer, and CSV), held-out quality against scikit-learn, metric lines, hyperparameter validation,
and serving in every request/response format."""

from __future__ import annotations

import io
import json
import re

import numpy as np
import pytest

from jobdir import dense_recordio, make_job, metric_values, sparse_recordio
from sagestack.algorithms import linear_learner
from sagestack.algorithms.base import AlgorithmClientError, InferenceError
from sagestack.algorithms.linear_learner.config import resolve
from sagestack.algorithms.linear_learner.metrics import threshold_search


def csv_bytes(X, y) -> bytes:
    rows = np.column_stack([y, X])
    return "".join(",".join(repr(float(v)) for v in row) + "\n" for row in rows).encode()


def train_job(tmp_path, capsys, hyperparameters, channels, content_types=None):
    env = make_job(tmp_path, hyperparameters, channels, content_types)
    linear_learner.train(env)
    output = capsys.readouterr().out
    return linear_learner.load_model(env.model_dir), output, metric_values(output, linear_learner.SPEC)


def predict_json(model, X) -> list[dict]:
    body = json.dumps({"instances": [{"features": row} for row in np.asarray(X).tolist()]}).encode()
    payload, ctype = linear_learner.predict(model, body, "application/json", "application/json")
    assert ctype == "application/json"
    return json.loads(payload)["predictions"]


def split(X, y, test_size, stratify=True, seed=0):
    from sklearn.model_selection import train_test_split

    return train_test_split(X, y, test_size=test_size, random_state=seed, stratify=y if stratify else None)


def sklearn_classifier_accuracy(Xtr, ytr, Xte, yte) -> float:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000)).fit(Xtr, ytr).score(Xte, yte)


# ------------------------------------------------------------------------------------------------ binary
@pytest.fixture(scope="module")
def breast_cancer():
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True)
    return split(X.astype(np.float32), y.astype(np.float32), 0.25)


@pytest.fixture(scope="module")
def binary_job(tmp_path_factory, breast_cancer, sdk):
    Xtr, Xte, ytr, yte = breast_cancer
    root = tmp_path_factory.mktemp("binary")
    hps = {"predictor_type": "binary_classifier", "feature_dim": 30, "mini_batch_size": 32, "epochs": 20}
    env = make_job(
        root,
        hps,
        {
            "train": {"matrix_0.pbr": dense_recordio(Xtr, ytr)},
            "test": {"matrix_0.pbr": dense_recordio(Xte, yte)},
        },
    )
    import contextlib

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        linear_learner.train(env)
    return linear_learner.load_model(env.model_dir), out.getvalue(), env


def test_binary_recordio_beats_logistic_regression(binary_job, breast_cancer):
    model, output, env = binary_job
    Xtr, Xte, ytr, yte = breast_cancer
    metrics = metric_values(output, linear_learner.SPEC)
    reference = sklearn_classifier_accuracy(Xtr, ytr, Xte, yte)
    predictions = predict_json(model, Xte)
    labels = np.array([p["predicted_label"] for p in predictions])
    accuracy = float(np.mean(labels == yte))
    assert accuracy >= reference, (accuracy, reference)
    # the logged test metrics describe the same model and threshold as served
    assert metrics["test:binary_classification_accuracy"] == pytest.approx(accuracy)
    assert metrics["test:roc_auc_score"] > 0.98
    assert set(labels.tolist()) == {0, 1}
    scores = np.array([p["score"] for p in predictions])
    assert np.all((scores >= 0) & (scores <= 1))  # logistic: probabilities
    threshold = json.loads((env.model_dir / "linear_learner.json").read_text())["threshold"]
    np.testing.assert_array_equal(labels, (scores >= threshold).astype(int))


def test_binary_metric_lines(binary_job):
    _, output, _ = binary_job
    metrics = metric_values(output, linear_learner.SPEC)
    for name in (
        "train:objective_loss",
        "train:objective_loss:final",
        "test:objective_loss",
        "test:binary_classification_accuracy",
        "test:binary_f_beta",
        "test:precision",
        "test:recall",
        "test:roc_auc_score",
        "train:progress",
        "train:throughput",
    ):
        assert name in metrics, name
    assert (
        "#quality_metric: host=algo-1, epoch=0, train binary_classification_cross_entropy_objective <loss>="
        in output
    )
    assert "#quality_metric: host=algo-1, test binary_f_1.000 <score>=" in output
    assert "#test_score (algo-1) : ('binary_classification_accuracy', " in output
    assert 0 < metrics["test:objective_loss"] < 0.3
    assert "validation:objective_loss" not in metrics
    assert "Best model found for hyperparameters: {" in output


def test_binary_validation_channel_and_target_recall(tmp_path, capsys, sdk, breast_cancer):
    Xtr, Xte, ytr, yte = breast_cancer
    Xa, Xv, ya, yv = split(Xtr, ytr, 0.3, seed=1)
    hps = {
        "predictor_type": "binary_classifier",
        "feature_dim": 30,
        "mini_batch_size": 32,
        "epochs": 10,
        "binary_classifier_model_selection_criteria": "precision_at_target_recall",
        "target_recall": 0.95,
        "num_models": 8,
    }
    _, output, metrics = train_job(
        tmp_path,
        capsys,
        hps,
        {
            "train": {"matrix_0.pbr": dense_recordio(Xa, ya)},
            "validation": {"matrix_0.pbr": dense_recordio(Xv, yv)},
            "test": {"matrix_0.pbr": dense_recordio(Xte, yte)},
        },
    )
    for name in (
        "validation:objective_loss",
        "validation:objective_loss:final",
        "validation:binary_f_beta",
        "validation:precision",
        "validation:recall",
        "validation:roc_auc_score",
        "validation:binary_classification_accuracy",
        "test:recall",
    ):
        assert name in metrics, name
    # the threshold was tuned on the validation data for recall >= target
    assert metrics["validation:recall"] >= 0.95
    assert "criteria=sampled_precision_at_target_recall" in output
    assert len(re.findall(r"epoch=\d+, validation \S+_objective", output)) >= 1


# ------------------------------------------------------------------------------------------------ multiclass
def test_multiclass_csv_beats_logistic_regression(tmp_path, capsys):
    from sklearn.datasets import load_wine

    X, y = load_wine(return_X_y=True)
    Xtr, Xte, ytr, yte = split(X, y.astype(float), 0.3)
    hps = {
        "predictor_type": "multiclass_classifier",
        "num_classes": 3,
        "feature_dim": 13,
        "mini_batch_size": 32,
        "epochs": 30,
        "accuracy_top_k": 2,
    }
    model, output, metrics = train_job(
        tmp_path,
        capsys,
        hps,
        {"train": {"train.csv": csv_bytes(Xtr, ytr)}, "test": {"test.csv": csv_bytes(Xte, yte)}},
        {"train": "text/csv", "test": "text/csv; label_size=1"},
    )
    reference = sklearn_classifier_accuracy(Xtr, ytr, Xte, yte)
    predictions = predict_json(model, Xte)
    labels = np.array([p["predicted_label"] for p in predictions])
    accuracy = float(np.mean(labels == yte))
    # Tolerance: one of the 54 held-out rows. With 124 training rows both methods separate the classes
    # perfectly, and which borderline row lands on which side depends on the float32 rounding of the BLAS
    # in use, not on model quality.
    assert accuracy >= reference - 1.0 / len(yte), (accuracy, reference)
    assert metrics["test:multiclass_accuracy"] == pytest.approx(accuracy)
    scores = np.array([p["score"] for p in predictions])
    assert scores.shape == (len(yte), 3)
    np.testing.assert_allclose(scores.sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_array_equal(scores.argmax(axis=1), labels)
    for name in (
        "test:multiclass_top_k_accuracy",
        "test:macro_f_beta",
        "test:macro_precision",
        "test:macro_recall",
        "test:dcg",
        "test:objective_loss",
        "train:objective_loss",
    ):
        assert name in metrics, name
    assert "multiclass_cross_entropy_objective" in output
    assert "test multiclass_top_k_accuracy_2 <score>=" in output
    assert metrics["test:multiclass_top_k_accuracy"] >= metrics["test:multiclass_accuracy"]


def test_multiclass_balanced_weights_and_sparse_recordio(tmp_path, capsys, sdk):
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    keep = np.r_[0:50, 50:70, 100:150]  # class 1 under-represented
    X, y = X[keep], y[keep]
    hps = {
        "predictor_type": "multiclass_classifier",
        "num_classes": 3,
        "mini_batch_size": 10,
        "epochs": 15,
        "balance_multiclass_weights": "True",
        "num_models": 4,
    }
    model, _, metrics = train_job(
        tmp_path, capsys, hps, {"train": {"part": sparse_recordio(X, y.astype(np.float32))}}
    )
    assert model.feature_dim == 4  # feature_dim auto: from the data
    predictions = predict_json(model, X)
    recall_1 = np.mean(np.array([p["predicted_label"] for p in predictions])[y == 1] == 1)
    assert recall_1 >= 0.9
    assert "train:objective_loss" in metrics


# ------------------------------------------------------------------------------------------------ regression
@pytest.fixture(scope="module")
def diabetes():
    from sklearn.datasets import load_diabetes

    X, y = load_diabetes(return_X_y=True)
    return split(X.astype(np.float32), y.astype(np.float32), 0.25, stratify=False)


def test_regression_recordio_matches_ridge(tmp_path, capsys, sdk, diabetes):
    from sklearn.linear_model import LinearRegression, Ridge

    Xtr, Xte, ytr, yte = diabetes
    hps = {
        "predictor_type": "regressor",
        "feature_dim": 10,
        "mini_batch_size": 64,
        "epochs": 60,
        "early_stopping_patience": 100,
    }
    model, output, metrics = train_job(
        tmp_path,
        capsys,
        hps,
        {
            "train": {"matrix_0.pbr": dense_recordio(Xtr, ytr)},
            "test": {"matrix_0.pbr": dense_recordio(Xte, yte)},
        },
    )
    reference = float(np.mean((Ridge(alpha=1.0).fit(Xtr, ytr).predict(Xte) - yte) ** 2))
    predictions = predict_json(model, Xte)
    assert all(set(p) == {"score"} for p in predictions)  # regressor: score only
    mse = float(np.mean((np.array([p["score"] for p in predictions]) - yte) ** 2))
    # The optimum is nearly reached on the training data (within 0.5 % of least squares' minimum MSE) ...
    least_squares = LinearRegression().fit(Xtr, ytr)
    best_train = float(np.mean((least_squares.predict(Xtr) - ytr) ** 2))
    assert np.mean((model.scores(Xtr) - ytr) ** 2) <= 1.005 * best_train
    # ... but diabetes' six serum features are strongly collinear (s1/s2 correlation 0.9), so the loss has a
    # nearly flat valley: points within 0.5 % on training MSE differ by ~1 % on held-out MSE, and where a
    # stochastic first-order optimiser stops in it decides that 1 %. Hence a 1.5 % tolerance here.
    assert mse <= 1.015 * reference, (mse, reference)
    assert metrics["test:mse"] == pytest.approx(mse, rel=1e-5)
    assert metrics["test:rmse"] == pytest.approx(np.sqrt(mse), rel=1e-5)
    assert metrics["test:objective_loss"] == pytest.approx(mse, rel=1e-5)  # squared_loss, label units
    assert "test:absolute_loss" in metrics
    assert "train mse_objective <loss>=" in output


@pytest.mark.parametrize(
    "loss, extra",
    [
        ("absolute_loss", {}),
        ("eps_insensitive_squared_loss", {"loss_insensitivity": 0.05}),
        ("eps_insensitive_absolute_loss", {"loss_insensitivity": 0.05}),
        ("huber_loss", {"huber_delta": 0.5}),
        ("quantile_loss", {"quantile": 0.9}),
    ],
)
def test_regression_losses(tmp_path, capsys, sdk, diabetes, loss, extra):
    Xtr, _, ytr, _ = diabetes
    hps = {
        "predictor_type": "regressor",
        "loss": loss,
        "mini_batch_size": 32,
        "epochs": 15,
        "num_models": 8,
        **extra,
    }
    model, output, metrics = train_job(tmp_path, capsys, hps, {"train": {"m.pbr": dense_recordio(Xtr, ytr)}})
    predicted = model.scores(Xtr)
    r2 = 1 - np.mean((predicted - ytr) ** 2) / np.var(ytr)
    if loss == "quantile_loss":
        assert 0.82 <= np.mean(ytr <= predicted) <= 0.97  # about 90 % of the targets below the 0.9 quantile
    else:
        assert r2 > 0.4, r2
    assert f"train {loss}_objective <loss>=" in output
    assert np.isfinite(metrics["train:objective_loss"])


def test_regression_label_normalisation_handles_large_offsets(tmp_path, capsys, sdk):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 5)) * [1, 10, 100, 0.1, 1] + [0, 50, -300, 2, 0]
    y = 50_000 + X @ [300, -20, 4, 900, 0] + rng.normal(scale=30, size=2000)
    hps = {"predictor_type": "regressor", "mini_batch_size": 100, "epochs": 10, "num_models": 8}
    model, _, _ = train_job(tmp_path, capsys, hps, {"train": {"m": dense_recordio(X, y)}})
    r2 = 1 - np.mean((model.scores(X.astype(np.float32)) - y) ** 2) / np.var(y)
    assert r2 > 0.99, r2


# ------------------------------------------------------------------------------------------------ options
def test_hinge_loss_sgd_and_early_stopping(tmp_path, capsys, sdk, breast_cancer):
    Xtr, Xte, ytr, yte = breast_cancer
    hps = {
        "predictor_type": "binary_classifier",
        "loss": "hinge_loss",
        "optimizer": "sgd",
        "momentum": 0.5,
        "mini_batch_size": 32,
        "epochs": 40,
        "early_stopping_patience": 1,
        "early_stopping_tolerance": 0.05,
        "num_models": 4,
        "margin": 1.0,
    }
    model, output, _ = train_job(tmp_path, capsys, hps, {"train": {"m": dense_recordio(Xtr, ytr)}})
    assert "Early stop condition met" in output
    assert len(re.findall(r"epoch=\d+, train", output)) < 40
    scores = model.scores(Xte)
    assert scores.min() < 0 < scores.max()  # hinge: raw margins, not probabilities
    assert np.mean(model.predicted_labels(scores) == yte) > 0.93


@pytest.mark.parametrize("optimizer", ["adam", "rmsprop", "sgd"])
def test_optimizers_with_l1_and_fixed_learning_rate(optimizer, tmp_path, capsys, sdk, breast_cancer):
    Xtr, Xte, ytr, yte = breast_cancer
    hps = {
        "predictor_type": "binary_classifier",
        "optimizer": optimizer,
        "learning_rate": 0.02,
        "l1": 0.01,
        "wd": 0.001,
        "mini_batch_size": 32,
        "epochs": 10,
        "num_models": 1,
        "use_lr_scheduler": "False",
    }
    model, _, _ = train_job(tmp_path, capsys, hps, {"train": {"m": dense_recordio(Xtr, ytr)}})
    assert model.hyperparameters["optimizer"] == optimizer
    assert model.hyperparameters["learning_rate"] == 0.02  # model 0 uses the given values exactly
    assert model.hyperparameters["l1"] == 0.01
    assert np.mean(model.predicted_labels(model.scores(Xte)) == yte) > 0.93


def test_positive_example_weight_mult_balanced(tmp_path, capsys, sdk):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(3000, 4)).astype(np.float32)
    y = (X[:, 0] + 0.5 * rng.normal(size=3000) > 1.6).astype(np.float32)  # ~7 % positives
    hps = {
        "predictor_type": "binary_classifier",
        "positive_example_weight_mult": "balanced",
        "mini_batch_size": 100,
        "epochs": 5,
        "num_models": 2,
        "num_point_for_scaler": 3000,
        "binary_classifier_model_selection_criteria": "loss_function",
    }
    model, _, _ = train_job(tmp_path, capsys, hps, {"train": {"m": dense_recordio(X, y)}})
    ratio = float((y == 0).sum() / (y == 1).sum())
    assert model.hyperparameters["positive_example_weight_mult"] == pytest.approx(ratio, rel=1e-5)
    assert model.threshold == 0.5  # loss_function keeps the default threshold
    # balanced weights move probabilities up: most positives are found at 0.5
    assert np.mean(model.scores(X)[y == 1] >= 0.5) > 0.8


def test_streaming_when_data_exceeds_memory_budget(tmp_path, capsys, sdk, breast_cancer, monkeypatch):
    from sagestack.algorithms.linear_learner import data

    monkeypatch.setenv(data.CACHE_ENV, "1")
    monkeypatch.setattr(data, "CHUNK_ROWS", 100)
    Xtr, Xte, ytr, yte = breast_cancer
    hps = {"predictor_type": "binary_classifier", "mini_batch_size": 25, "epochs": 5, "num_models": 4}
    files = {f"part{i}": dense_recordio(Xtr[i::3], ytr[i::3]) for i in range(3)}
    model, output, _ = train_job(tmp_path, capsys, hps, {"train": files})
    assert "Train channel: streamed" in output
    assert np.mean(model.predicted_labels(model.scores(Xte)) == yte) > 0.93


def test_data_errors_are_client_errors(tmp_path, sdk):
    X = np.random.default_rng(0).normal(size=(20, 3))
    with pytest.raises(AlgorithmClientError, match="label 2"):
        env = make_job(
            tmp_path / "a",
            {"predictor_type": "binary_classifier"},
            {"train": {"m": dense_recordio(X, np.arange(20) % 3)}},
        )
        linear_learner.train(env)
    with pytest.raises(AlgorithmClientError, match="3 features .* feature_dim is 5"):
        env = make_job(
            tmp_path / "b",
            {"predictor_type": "regressor", "feature_dim": 5},
            {"train": {"m": dense_recordio(X, np.arange(20))}},
        )
        linear_learner.train(env)
    with pytest.raises(AlgorithmClientError, match="label 3"):
        env = make_job(
            tmp_path / "c",
            {"predictor_type": "multiclass_classifier", "num_classes": 3},
            {"train": {"m": dense_recordio(X, np.arange(20) % 4)}},
        )
        linear_learner.train(env)
    with pytest.raises(AlgorithmClientError, match="without a label"):
        env = make_job(tmp_path / "d", {"predictor_type": "regressor"}, {"train": {"m": dense_recordio(X)}})
        linear_learner.train(env)


# ------------------------------------------------------------------------------------------------ hyperparameters
@pytest.mark.parametrize(
    "hps, fragment",
    [
        ({"predictor_type": "tri_classifier"}, "'tri_classifier'"),
        ({"predictor_type": "binary_classifier", "loss": "softmax_loss"}, "'softmax_loss'"),
        ({"predictor_type": "regressor", "loss": "logistic"}, "'logistic'"),
        ({"predictor_type": "multiclass_classifier", "num_classes": "2"}, "'2'"),
        ({"predictor_type": "multiclass_classifier"}, "num_classes is required"),
        ({"predictor_type": "binary_classifier", "learning_rate": "-1"}, "'-1'"),
        ({"predictor_type": "binary_classifier", "learning_rate": "fast"}, "'fast'"),
        ({"predictor_type": "binary_classifier", "mini_batch_size": "0"}, "'0'"),
        ({"predictor_type": "binary_classifier", "positive_example_weight_mult": "heavy"}, "'heavy'"),
        ({"predictor_type": "binary_classifier", "positive_example_weight_mult": "0"}, "'0'"),
        ({"predictor_type": "regressor", "quantile": "1.5"}, "'1.5'"),
        ({"predictor_type": "binary_classifier", "beta_1": "1"}, "'1'"),
        ({"predictor_type": "binary_classifier", "lr_scheduler_factor": "1.0"}, "'1.0'"),
        ({"predictor_type": "binary_classifier", "normalize_data": "maybe"}, "'maybe'"),
        ({"predictor_type": "binary_classifier", "optimizer": "lbfgs"}, "'lbfgs'"),
        ({"predictor_type": "binary_classifier", "feature_dim": "1.5"}, "'1.5'"),
        (
            {"predictor_type": "binary_classifier", "binary_classifier_model_selection_criteria": "auc"},
            "'auc'",
        ),
        ({"predictor_type": "binary_classifier", "num_models": "0"}, "'0'"),
        ({"predictor_type": "binary_classifier", "epochs": "2.5"}, "'2.5'"),
        ({"predictor_type": "binary_classifier", "learning_rte": "0.1"}, "'learning_rte'"),
        ({"feature_dim": "10"}, "predictor_type"),
    ],
)
def test_bad_hyperparameters_name_the_value(hps, fragment):
    with pytest.raises(AlgorithmClientError) as info:
        resolve(hps)
    assert fragment in str(info.value)


def test_auto_values_resolve_as_documented():
    binary = resolve({"predictor_type": "binary_classifier", "feature_dim": "30", "mini_batch_size": "100"})
    assert (binary.loss, binary.optimizer, binary.num_models, binary.criterion) == (
        "logistic",
        "adam",
        32,
        "accuracy",
    )
    assert binary.normalize_data and binary.unbias_data and not binary.normalize_label
    assert binary.grid.learning_rate[0] == 0.1 and binary.grid.wd[0] == 1e-4 and binary.grid.l1[0] == 0
    assert len(set(binary.grid.learning_rate.tolist())) == 32  # the other models explore
    assert resolve({"predictor_type": "multiclass_classifier", "num_classes": "5"}).loss == "softmax_loss"
    regressor = resolve({"predictor_type": "regressor", "use_bias": "False"})
    assert regressor.loss == "squared_loss" and regressor.normalize_label and not regressor.unbias_label
    assert not regressor.unbias_data
    # SDK spellings: capitalised booleans, f1 alias; HPO turns the internal tuning off
    sdk_style = resolve(
        {
            "predictor_type": "binary_classifier",
            "use_bias": "True",
            "normalize_data": "False",
            "binary_classifier_model_selection_criteria": "f1",
            "f_beta": "2.0",
            "_tuning_objective_metric": "validation:binary_f_beta",
            "_kvstore": "auto",
        }
    )
    assert sdk_style.use_bias and not sdk_style.normalize_data
    assert (sdk_style.criterion, sdk_style.f_beta, sdk_style.num_models) == ("f_beta", 1.0, 1)
    fixed = resolve({"predictor_type": "binary_classifier", "learning_rate": "0.5", "num_models": "6"})
    assert fixed.grid.learning_rate[0] == 0.5
    assert np.all((fixed.grid.learning_rate >= 0.25) & (fixed.grid.learning_rate <= 1.0))  # close values


def test_threshold_search_finds_the_best_cut():
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.4, 0.3, 0.2, 0.1])
    labels = np.array([1, 1, 0, 1, 0, 0, 1, 0])
    value, threshold = threshold_search(scores, labels, "accuracy")
    assert value[0] == pytest.approx(6 / 8)
    assert 0.4 < threshold[0] <= 0.6 or 0.7 < threshold[0] <= 0.8
    value, threshold = threshold_search(scores, labels, "precision_at_target_recall", target_recall=1.0)
    assert 0.1 < threshold[0] <= 0.2 and value[0] == pytest.approx(4 / 7)
    value, threshold = threshold_search(scores, labels, "recall_at_target_precision", target_precision=1.0)
    assert 0.7 < threshold[0] <= 0.8 and value[0] == pytest.approx(0.5)
    # ties are never split; one column per model
    tied = np.array([[0.5, 0.9], [0.5, 0.1], [0.2, 0.2]])
    value, threshold = threshold_search(tied, np.array([1, 0, 0]), "accuracy")
    assert value.tolist() == [pytest.approx(2 / 3), pytest.approx(1.0)]
    assert threshold[0] > 0.5 or threshold[0] <= 0.2  # never between the two tied 0.5 scores
    assert 0.2 < threshold[1] <= 0.9


# ------------------------------------------------------------------------------------------------ serving
def test_predict_round_trips_in_every_format(binary_job, breast_cancer, sdk):
    model, _, _ = binary_job
    _, Xte, _, _ = breast_cancer
    X = Xte[:5]
    expected = predict_json(model, X)
    # JSON Lines request and response
    body = "\n".join(json.dumps({"features": row}) for row in X.tolist()).encode()
    payload, ctype = linear_learner.predict(model, body, "application/jsonlines", "application/jsonlines")
    assert ctype == "application/jsonlines"
    assert [json.loads(line) for line in payload.decode().splitlines()] == expected
    # CSV request, protobuf-shaped JSON instances
    csv_body = "\n".join(",".join(repr(float(v)) for v in row) for row in X).encode()
    payload, _ = linear_learner.predict(model, csv_body, "text/csv", "application/json")
    assert json.loads(payload)["predictions"] == expected
    shaped = json.dumps({"instances": [{"data": {"features": {"values": r}}} for r in X.tolist()]}).encode()
    assert json.loads(linear_learner.predict(model, shaped, "application/json", "application/json")[0]) == {
        "predictions": expected
    }
    # RecordIO-protobuf both ways, read with the SDK's own reader
    payload, ctype = linear_learner.predict(
        model, dense_recordio(X), "application/x-recordio-protobuf", "application/x-recordio-protobuf"
    )
    assert ctype == "application/x-recordio-protobuf"
    records = sdk.read_records(io.BytesIO(payload))
    assert len(records) == 5
    for record, want in zip(records, expected):
        assert record.label["score"].float32_tensor.values[0] == pytest.approx(want["score"], rel=1e-6)
        assert record.label["predicted_label"].float32_tensor.values[0] == want["predicted_label"]
    # float64 rows through the SDK's RecordSerializer
    from sagemaker.serializers import RecordSerializer

    serialized = RecordSerializer().serialize(np.asarray(X, dtype=np.float64))
    payload, _ = linear_learner.predict(
        model, serialized, "application/x-recordio-protobuf", "application/json"
    )
    got = json.loads(payload)["predictions"]
    assert [p["predicted_label"] for p in got] == [p["predicted_label"] for p in expected]
    assert [p["score"] for p in got] == pytest.approx([p["score"] for p in expected], rel=1e-6)


def test_predict_multiclass_recordio_has_score_vector(tmp_path, capsys, sdk):
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    hps = {
        "predictor_type": "multiclass_classifier",
        "num_classes": 3,
        "mini_batch_size": 10,
        "epochs": 5,
        "num_models": 2,
    }
    model, _, _ = train_job(tmp_path, capsys, hps, {"train": {"m": dense_recordio(X, y)}})
    payload, _ = linear_learner.predict(
        model, dense_recordio(X[:3]), "application/x-recordio-protobuf", "application/x-recordio-protobuf"
    )
    records = sdk.read_records(io.BytesIO(payload))
    for record in records:
        score = list(record.label["score"].float32_tensor.values)
        assert len(score) == 3 and sum(score) == pytest.approx(1.0, abs=1e-5)
        assert record.label["predicted_label"].float32_tensor.values[0] == int(np.argmax(score))


def test_predict_errors(binary_job):
    model, _, _ = binary_job
    with pytest.raises(InferenceError) as info:
        linear_learner.predict(model, b"1,2,3\n", "text/csv", "application/json")
    assert info.value.status == 400 and "30" in str(info.value)
    with pytest.raises(InferenceError) as info:
        linear_learner.predict(model, b"1,2", "application/x-image", "application/json")
    assert info.value.status == 415
    row = ",".join(["0"] * 30).encode()
    with pytest.raises(InferenceError) as info:
        linear_learner.predict(model, row, "text/csv", "image/png")
    assert info.value.status == 406
