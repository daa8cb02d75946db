"""SDK v2 ``KMeans``, ``PCA``, ``KNN`` and ``FactorizationMachines``: ``fit(record_set(...))`` → ``deploy()``
→ ``predict()`` with each estimator's default RecordSerializer/RecordDeserializer, checked against
scikit-learn references on the same data.

All four jobs start before any is waited for, and all four endpoints likewise.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from e2e_support import INSTANCE_TYPE, ROLE, record_values

pytestmark = pytest.mark.slow

K_CLUSTERS = 10
PCA_COMPONENTS = 10
KNN_K = 5


@dataclass
class Data:
    digits: np.ndarray  # (1797, 64) float32
    digit_labels: np.ndarray
    knn_split: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
    fm_split: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _interaction_data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A regression target made of pairwise feature interactions (rank 3) plus a weak linear part."""
    rng = np.random.default_rng(0)
    n, d = 3000, 20
    X = rng.normal(size=(n, d)).astype(np.float32)
    V = rng.normal(scale=0.4, size=(d, 3))
    pairwise = 0.5 * ((X @ V) ** 2 - (X**2) @ (V**2)).sum(axis=1)
    y = (pairwise + 0.3 * X[:, :3].sum(axis=1) + rng.normal(scale=0.3, size=n)).astype(np.float32)
    return X[:2400], y[:2400], X[2400:], y[2400:]


@pytest.fixture(scope="module")
def data() -> Data:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    X = digits.data.astype(np.float32)
    split = train_test_split(
        X, digits.target.astype(np.float32), test_size=0.25, random_state=0, stratify=digits.target
    )
    Xtr, Xte, ytr, yte = split
    return Data(X, digits.target, (Xtr, ytr, Xte, yte), _interaction_data())


@pytest.fixture(scope="module")
def predictors(e2e, data) -> dict[str, Any]:
    """Train the four estimators side by side, then deploy the four models side by side."""
    from sagemaker import KNN, PCA, FactorizationMachines, KMeans

    common = {
        "role": ROLE,
        "instance_count": 1,
        "instance_type": INSTANCE_TYPE,
        "sagemaker_session": e2e.session,
    }
    estimators = {
        "kmeans": KMeans(k=K_CLUSTERS, **common),
        "pca": PCA(num_components=PCA_COMPONENTS, **common),
        "knn": KNN(k=KNN_K, predictor_type="classifier", sample_size=len(data.knn_split[0]), **common),
        "fm": FactorizationMachines(
            num_factors=4,
            predictor_type="regressor",
            epochs=30,
            mini_batch_size=100,
            factors_lr=0.01,
            linear_lr=0.01,
            **common,
        ),
    }
    Xtr_knn, ytr_knn, _, _ = data.knn_split
    Xtr_fm, ytr_fm, _, _ = data.fm_split
    records = {
        "kmeans": estimators["kmeans"].record_set(data.digits),
        "pca": estimators["pca"].record_set(data.digits),
        "knn": estimators["knn"].record_set(Xtr_knn, labels=ytr_knn),
        "fm": estimators["fm"].record_set(Xtr_fm, labels=ytr_fm),
    }
    for name, estimator in estimators.items():
        estimator.fit(records[name], wait=False, logs=False)
    e2e.wait_estimators(estimators.values())
    deployed = {name: e2e.deploy(estimator) for name, estimator in estimators.items()}
    from sagemaker.async_inference import AsyncInferenceConfig

    deployed["pca_async"] = e2e.deploy(estimators["pca"], async_inference_config=AsyncInferenceConfig())
    e2e.wait_endpoints(deployed.values())
    deployed["_estimators"] = estimators
    return deployed


@pytest.mark.sdk_flow("flow02", "record_set: a ManifestFile channel without ContentType")
def test_record_set_channel_is_a_manifest_without_content_type(e2e, predictors):
    """The SDK's record_set: an S3 ManifestFile channel, ShardedByS3Key, no ContentType (§1.1)."""
    job = predictors["_estimators"]["kmeans"].latest_training_job.name
    desc = e2e.sm.describe_training_job(TrainingJobName=job)
    (channel,) = desc["InputDataConfig"]
    source = channel["DataSource"]["S3DataSource"]
    assert source["S3DataType"] == "ManifestFile" and source["S3Uri"].endswith(".amazon.manifest")
    assert "ContentType" not in channel
    assert desc["HyperParameters"]["force_dense"] == "True"
    assert desc["AlgorithmSpecification"]["TrainingImage"].endswith("/kmeans:1")


@pytest.mark.sdk_flow("flow02", "KMeans: record_set, fit, deploy, predict")
def test_kmeans_inertia_matches_sklearn(predictors, data):
    from sklearn.cluster import KMeans as SkKMeans

    records = predictors["kmeans"].predict(data.digits)
    assert len(records) == len(data.digits)
    clusters = np.array(record_values(records, "closest_cluster")).ravel()
    distances = np.array(record_values(records, "distance_to_cluster")).ravel()
    assert set(np.unique(clusters)) <= set(range(K_CLUSTERS)) and len(np.unique(clusters)) == K_CLUSTERS
    inertia = float((distances.astype(np.float64) ** 2).sum())
    reference = SkKMeans(n_clusters=K_CLUSTERS, n_init=10, random_state=0).fit(data.digits).inertia_
    assert inertia <= 1.02 * reference, (inertia, reference)
    # The reported distance is to the reported cluster's centroid: recompute centroids from the assignment.
    centroids = np.stack([data.digits[clusters == c].mean(axis=0) for c in range(K_CLUSTERS)])
    own = ((data.digits - centroids[clusters.astype(int)]) ** 2).sum()
    assert own <= inertia * 1.0001  # centroids of the assignment can only do better (Lloyd step)


@pytest.mark.sdk_flow("flow02", "PCA: record_set, fit, deploy, predict")
def test_pca_reconstruction_error_matches_sklearn(predictors, data):
    from sklearn.decomposition import PCA as SkPCA

    X = data.digits.astype(np.float64)
    records = predictors["pca"].predict(data.digits)
    projections = np.array(record_values(records, "projection"), dtype=np.float64)
    assert projections.shape == (len(X), PCA_COMPONENTS)
    # Best affine reconstruction of X from the served projections = error of the served subspace.
    design = np.column_stack([projections, np.ones(len(X))])
    coef, *_ = np.linalg.lstsq(design, X, rcond=None)
    error = float(((X - design @ coef) ** 2).sum())
    sk = SkPCA(n_components=PCA_COMPONENTS).fit(X)
    reference = float(((X - sk.inverse_transform(sk.transform(X))) ** 2).sum())
    assert error <= 1.01 * reference, (error, reference)
    # Projections are onto orthonormal components of the mean-centred data: energy is preserved.
    centred = ((X - X.mean(axis=0)) ** 2).sum()
    assert np.isclose(centred - (projections**2).sum(), error, rtol=1e-3)


@pytest.mark.sdk_flow("flow02", "KNN: record_set, fit, deploy, predict")
def test_knn_accuracy_equals_sklearn(predictors, data):
    from sklearn.neighbors import KNeighborsClassifier

    Xtr, ytr, Xte, yte = data.knn_split
    records = predictors["knn"].predict(Xte)
    predicted = np.array(record_values(records, "predicted_label")).ravel()
    accuracy = float((predicted == yte).mean())
    reference = KNeighborsClassifier(n_neighbors=KNN_K, metric="euclidean").fit(Xtr, ytr)
    assert accuracy == pytest.approx(reference.score(Xte, yte), abs=1e-12)
    assert (predicted == reference.predict(Xte)).mean() >= 0.99


@pytest.mark.sdk_flow("flow02", "FactorizationMachines: record_set, fit, deploy, predict")
def test_factorization_machines_beat_a_linear_baseline(predictors, data):
    from sklearn.linear_model import LinearRegression

    Xtr, ytr, Xte, yte = data.fm_split
    records = predictors["fm"].predict(Xte)
    scores = np.array(record_values(records, "score")).ravel()
    rmse = float(np.sqrt(((scores - yte) ** 2).mean()))
    linear = LinearRegression().fit(Xtr, ytr)
    linear_rmse = float(np.sqrt(((linear.predict(Xte) - yte) ** 2).mean()))
    assert rmse < 0.5 * linear_rmse, (rmse, linear_rmse)


@pytest.mark.sdk_flow("flow07g", "AsyncPredictor.predict_async(data) on a PCA endpoint, read within a second")
def test_pca_async_walkthrough_delivers_within_a_second(predictors, data):
    """The SDK's test_async_walkthrough: ``predict_async(data=...)`` uploads the serialized records with
    the serializer's Content-Type and sends no ContentType; the container gets the object's type and
    the answer is in S3 well before the SDK test reads it (5 s on AWS; here within about a second)."""
    from sagemaker.async_inference import AsyncInferenceResponse
    from sagemaker.exceptions import ObjectNotExistedError

    predictor = predictors["pca_async"]
    sync = predictors["pca"].predict(data.digits[:5])
    response = predictor.predict_async(data=data.digits[:5])
    assert isinstance(response, AsyncInferenceResponse)
    started, result = time.time(), None
    while result is None and time.time() - started < 5:
        try:
            result = response.get_result()
        except ObjectNotExistedError:
            time.sleep(0.05)
    elapsed = time.time() - started
    assert result is not None, "no output within 5 s"
    assert elapsed < 1.5, f"the output took {elapsed:.2f} s to appear"
    assert len(result) == 5
    for got, expected in zip(result, sync):
        np.testing.assert_allclose(
            got.label["projection"].float32_tensor.values,
            expected.label["projection"].float32_tensor.values,
            rtol=1e-5,
        )
