"""SDK v2 ``LinearLearner``: ``fit(est.record_set(X, y))`` → ``deploy()`` → ``predict(numpy)`` returning
Records with ``score``/``predicted_label``, on scikit-learn's bundled data sets, held-out quality compared
with scikit-learn's ``LogisticRegression`` / ``Ridge`` on the same split.

Binary: breast_cancer; multiclass: wine; regression: diabetes. The three jobs train side by side and the
three endpoints start side by side.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from e2e_support import INSTANCE_TYPE, ROLE, record_values

pytestmark = pytest.mark.slow


@dataclass
class Problem:
    predictor_type: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    extra: dict


def _problem(loader, predictor_type: str, **extra) -> Problem:
    from sklearn.model_selection import train_test_split

    X, y = loader(return_X_y=True)
    stratify = None if predictor_type == "regressor" else y
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.25, random_state=0, stratify=stratify)
    return Problem(predictor_type, Xtr.astype(np.float32), ytr.astype(np.float32), Xte, yte, extra)


@pytest.fixture(scope="module")
def problems() -> dict[str, Problem]:
    from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine

    return {
        "binary": _problem(load_breast_cancer, "binary_classifier"),
        "multiclass": _problem(load_wine, "multiclass_classifier", num_classes=3),
        "regression": _problem(load_diabetes, "regressor"),
    }


@pytest.fixture(scope="module")
def trained(e2e, problems) -> dict[str, Any]:
    """name → (estimator, predictor); all fits, then all deploys, run concurrently."""
    from sagemaker import LinearLearner

    estimators = {}
    for name, problem in problems.items():
        estimator = LinearLearner(
            role=ROLE,
            instance_count=1,
            instance_type=INSTANCE_TYPE,
            predictor_type=problem.predictor_type,
            sagemaker_session=e2e.session,
            **problem.extra,
        )
        estimator.fit(estimator.record_set(problem.X_train, labels=problem.y_train), wait=False, logs=False)
        estimators[name] = estimator
    e2e.wait_estimators(estimators.values())
    predictors = {name: e2e.deploy(estimator) for name, estimator in estimators.items()}
    e2e.wait_endpoints(predictors.values())
    return {name: (estimators[name], predictors[name]) for name in estimators}


@pytest.mark.sdk_flow("flow02", "LinearLearner binary classifier: record_set, fit, deploy, predict")
def test_binary_classifier_matches_logistic_regression(trained, problems):
    from sklearn.linear_model import LogisticRegression

    problem = problems["binary"]
    _, predictor = trained["binary"]
    records = predictor.predict(problem.X_test)  # float64 numpy: RecordSerializer sends Float64Tensor
    assert len(records) == len(problem.X_test)
    assert all(set(r.label) == {"score", "predicted_label"} for r in records)
    scores = np.array(record_values(records, "score")).ravel()
    labels = np.array(record_values(records, "predicted_label")).ravel()
    assert ((scores >= 0) & (scores <= 1)).all()  # logistic loss: a probability
    assert set(np.unique(labels)) <= {0.0, 1.0}
    accuracy = float((labels == problem.y_test).mean())
    reference = (
        LogisticRegression(max_iter=5000)
        .fit(problem.X_train, problem.y_train)
        .score(problem.X_test, problem.y_test)
    )
    assert accuracy >= reference, (accuracy, reference)


@pytest.mark.sdk_flow("flow02", "LinearLearner multiclass classifier")
def test_multiclass_classifier_matches_logistic_regression(trained, problems):
    from sklearn.linear_model import LogisticRegression

    problem = problems["multiclass"]
    _, predictor = trained["multiclass"]
    records = predictor.predict(problem.X_test.astype(np.float32))
    scores = np.array(record_values(records, "score"))
    labels = np.array(record_values(records, "predicted_label")).ravel()
    assert scores.shape == (len(problem.X_test), 3)
    np.testing.assert_allclose(scores.sum(axis=1), 1.0, rtol=1e-4)  # softmax probabilities
    np.testing.assert_array_equal(labels, scores.argmax(axis=1))
    accuracy = float((labels == problem.y_test).mean())
    # Same L2-regularised multinomial model; newton-cg reaches its optimum on wine's unscaled features in
    # ~60 iterations where the default lbfgs needs ~2,000 (same accuracy, seconds faster).
    reference = (
        LogisticRegression(solver="newton-cg", max_iter=5000)
        .fit(problem.X_train, problem.y_train)
        .score(problem.X_test, problem.y_test)
    )
    assert accuracy >= reference, (accuracy, reference)


@pytest.mark.sdk_flow("flow02", "LinearLearner regressor")
def test_regressor_matches_ridge(trained, problems):
    from sklearn.linear_model import Ridge
    from sklearn.metrics import mean_squared_error

    problem = problems["regression"]
    _, predictor = trained["regression"]
    records = predictor.predict(problem.X_test)
    assert all(set(r.label) == {"score"} for r in records)
    scores = np.array(record_values(records, "score")).ravel()
    mse = mean_squared_error(problem.y_test, scores)
    reference = mean_squared_error(
        problem.y_test, Ridge().fit(problem.X_train, problem.y_train).predict(problem.X_test)
    )
    assert mse <= reference, (mse, reference)


def test_training_job_reports_metrics_and_sdk_hyperparameters(trained, e2e, problems):
    estimator, _ = trained["binary"]
    desc = e2e.sm.describe_training_job(TrainingJobName=estimator.latest_training_job.name)
    hps = desc["HyperParameters"]
    assert hps["predictor_type"] == "binary_classifier"
    assert hps["feature_dim"] == str(problems["binary"].X_train.shape[1])
    assert int(hps["mini_batch_size"]) == min(1000, len(problems["binary"].X_train))
    assert desc["ModelArtifacts"]["S3ModelArtifacts"].endswith("/output/model.tar.gz")
    assert desc["AlgorithmSpecification"]["TrainingImage"].endswith("/linear-learner:1")
    metrics = {m["MetricName"]: m["Value"] for m in desc.get("FinalMetricDataList", [])}
    assert "train:objective_loss" in metrics, sorted(metrics)
