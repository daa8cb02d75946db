"""Built-in XGBoost through the SDK's generic ``Estimator`` with ``image_uris.retrieve("xgboost", region,
"1.7-1")``: CSV and LibSVM channels, ``FinalMetricDataList`` with ``validation:auc``, and predictions equal
to ``xgboost.train`` run in-process with the same parameters, seed and data.

The CSV-trained model is deployed and called in CSV, JSON and LibSVM (``XGBoostPredictor``'s default
serializer); the LibSVM-trained model's artifact is checked in-process.
"""

from __future__ import annotations

import io
import tarfile
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from e2e_support import INSTANCE_TYPE, ROLE

pytestmark = pytest.mark.slow

PARAMS: dict[str, Any] = {
    "objective": "binary:logistic",
    "eval_metric": "auc",
    "max_depth": 3,
    "eta": 0.2,
    "subsample": 0.8,
    "colsample_bytree": 0.8,
    "seed": 7,
}
NUM_ROUND = 30


@dataclass
class Split:
    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray


def _csv(X: np.ndarray, y: np.ndarray) -> bytes:
    # float32 values written with 9 significant digits read back to the same float32 everywhere.
    buf = io.StringIO()
    np.savetxt(buf, np.column_stack([y, X]).astype(np.float32), delimiter=",", fmt="%.9g")
    return buf.getvalue().encode()


def _libsvm(X: np.ndarray, y: np.ndarray | None = None) -> bytes:
    from sklearn.datasets import dump_svmlight_file

    buf = io.BytesIO()
    dump_svmlight_file(X, np.zeros(len(X)) if y is None else y, buf, zero_based=True)
    return buf.getvalue()


@pytest.fixture(scope="module")
def split() -> Split:
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    X, y = load_breast_cancer(return_X_y=True)
    X = X.astype(np.float32)
    Xtr, Xrest, ytr, yrest = train_test_split(X, y, test_size=0.4, random_state=0, stratify=y)
    Xval, Xte, yval, _ = train_test_split(Xrest, yrest, test_size=0.5, random_state=0, stratify=yrest)
    return Split(Xtr, ytr.astype(np.float32), Xval, yval.astype(np.float32), Xte)


def _reference(dtrain, dval) -> tuple[Any, float]:
    """``xgboost.train`` in-process: the booster and its final validation AUC."""
    import xgboost as xgb

    history: dict = {}
    booster = xgb.train(
        PARAMS,
        dtrain,
        NUM_ROUND,
        evals=[(dtrain, "train"), (dval, "validation")],
        evals_result=history,
        verbose_eval=False,
    )
    return booster, history["validation"]["auc"][-1]


@pytest.fixture(scope="module")
def jobs(e2e, split) -> dict[str, Any]:
    """Two estimators (CSV and LibSVM channels) trained side by side; the CSV one deployed."""
    from sagemaker import image_uris
    from sagemaker.estimator import Estimator
    from sagemaker.inputs import TrainingInput

    image = image_uris.retrieve("xgboost", e2e.region, "1.7-1")
    s3 = e2e.server.client("s3")
    estimators = {}
    for kind, content_type, encode in (("csv", "text/csv", _csv), ("libsvm", "text/libsvm", _libsvm)):
        channels = {}
        for channel, X, y in (
            ("train", split.X_train, split.y_train),
            ("validation", split.X_val, split.y_val),
        ):
            key = f"xgboost-e2e/{kind}/{channel}/data.{kind}"
            s3.put_object(Bucket=e2e.bucket, Key=key, Body=encode(X, y))
            channels[channel] = TrainingInput(
                f"s3://{e2e.bucket}/xgboost-e2e/{kind}/{channel}/", content_type=content_type
            )
        estimator = Estimator(
            image_uri=image,
            role=ROLE,
            instance_count=1,
            instance_type=INSTANCE_TYPE,
            output_path=f"s3://{e2e.bucket}/xgboost-e2e/{kind}/output",
            sagemaker_session=e2e.session,
            hyperparameters={**PARAMS, "num_round": NUM_ROUND},
        )
        estimator.fit(channels, wait=False, logs=False)
        estimators[kind] = estimator
    e2e.wait_estimators(estimators.values())
    from sagemaker.deserializers import CSVDeserializer
    from sagemaker.serializers import CSVSerializer

    predictor = e2e.deploy(estimators["csv"], serializer=CSVSerializer(), deserializer=CSVDeserializer())
    e2e.wait_endpoints([predictor])
    return {"image": image, "estimators": estimators, "predictor": predictor}


def _final_metrics(e2e, estimator) -> dict[str, float]:
    desc = e2e.sm.describe_training_job(TrainingJobName=estimator.latest_training_job.name)
    return {m["MetricName"]: m["Value"] for m in desc.get("FinalMetricDataList", [])}


@pytest.mark.sdk_flow(
    "flow01", "image_uris.retrieve and the CreateTrainingJob request (CSV and LibSVM channels)"
)
def test_image_uri_and_channels(jobs, e2e):
    assert jobs["image"] == "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
    desc = e2e.sm.describe_training_job(TrainingJobName=jobs["estimators"]["libsvm"].latest_training_job.name)
    assert {c["ChannelName"]: c["ContentType"] for c in desc["InputDataConfig"]} == {
        "train": "text/libsvm",
        "validation": "text/libsvm",
    }
    assert desc["HyperParameters"]["num_round"] == str(NUM_ROUND)


@pytest.mark.sdk_flow("flow01", "Estimator.fit, FinalMetricDataList, deploy, predict in CSV, JSON and LibSVM")
def test_csv_job_matches_in_process_xgboost(jobs, e2e, split):
    import xgboost as xgb
    from sagemaker.deserializers import JSONDeserializer
    from sagemaker.predictor import Predictor
    from sagemaker.serializers import CSVSerializer
    from sagemaker.xgboost import XGBoostPredictor

    booster, auc = _reference(
        xgb.DMatrix(split.X_train, label=split.y_train), xgb.DMatrix(split.X_val, label=split.y_val)
    )
    metrics = _final_metrics(e2e, jobs["estimators"]["csv"])
    assert metrics["validation:auc"] == pytest.approx(auc, abs=1e-4)
    expected = booster.predict(xgb.DMatrix(split.X_test))

    predictor = jobs["predictor"]  # CSVSerializer + CSVDeserializer: one prediction per line
    rows = predictor.predict(split.X_test)
    assert all(len(row) == 1 for row in rows)
    np.testing.assert_allclose([float(row[0]) for row in rows], expected, rtol=1e-6, atol=1e-7)

    as_json = Predictor(
        predictor.endpoint_name,
        sagemaker_session=e2e.session,
        serializer=CSVSerializer(),
        deserializer=JSONDeserializer(),
    )
    doc = as_json.predict(split.X_test)
    np.testing.assert_allclose([p["score"] for p in doc["predictions"]], expected, rtol=1e-6, atol=1e-7)

    # XGBoostPredictor's defaults: LibSVMSerializer (text/libsvm) + CSVDeserializer. LibSVM leaves zeros
    # out, i.e. missing, so the reference predicts on the same sparse rows.
    from sklearn.datasets import load_svmlight_file

    as_libsvm = XGBoostPredictor(predictor.endpoint_name, sagemaker_session=e2e.session)
    payload = _libsvm(split.X_test)
    sparse, _ = load_svmlight_file(io.BytesIO(payload), n_features=split.X_test.shape[1], zero_based=True)
    rows = as_libsvm.predict(payload.decode())
    np.testing.assert_allclose(
        [float(row[0]) for row in rows], booster.predict(xgb.DMatrix(sparse)), rtol=1e-6, atol=1e-7
    )


@pytest.mark.sdk_flow("flow01", "Estimator.fit on LibSVM channels, the model artifact")
def test_libsvm_job_matches_in_process_xgboost(jobs, e2e, split):
    import xgboost as xgb
    from sklearn.datasets import load_svmlight_file

    def sparse(X, y):
        matrix, labels = load_svmlight_file(io.BytesIO(_libsvm(X, y)), n_features=X.shape[1], zero_based=True)
        return xgb.DMatrix(matrix, label=labels)

    booster, auc = _reference(sparse(split.X_train, split.y_train), sparse(split.X_val, split.y_val))
    estimator = jobs["estimators"]["libsvm"]
    assert _final_metrics(e2e, estimator)["validation:auc"] == pytest.approx(auc, abs=1e-4)

    bucket, key = estimator.model_data[len("s3://") :].split("/", 1)
    archive = e2e.server.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        assert tar.getnames() == ["xgboost-model"]
        model_bytes = tar.extractfile("xgboost-model").read()
    served = xgb.Booster()
    served.load_model(bytearray(model_bytes))
    test = xgb.DMatrix(split.X_test)
    np.testing.assert_allclose(served.predict(test), booster.predict(test), rtol=1e-6, atol=1e-7)
