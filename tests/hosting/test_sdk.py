"""The SageMaker Python SDK v2, unchanged, deploying and calling models on sagestack.

``deploy(wait=False)`` + polling with boto3 replaces the SDK's 30 s sleep-before-describe (sdk-flows §0.7).
"""

from __future__ import annotations

import io
import tarfile
import textwrap

import numpy as np
import pytest

from helpers import apply_client_env
from hosting_support import ROLE, XGBOOST_IMAGE, Hosting, tar_bytes

pytestmark = pytest.mark.slow

SKLEARN_SCRIPT = """
import joblib, os

def model_fn(model_dir):
    return joblib.load(os.path.join(model_dir, "model.joblib"))
"""


@pytest.fixture(scope="module")
def sdk(server, sdk_env_module):
    import sagemaker

    hosting = Hosting(server)
    session = sagemaker.Session(default_bucket=hosting.bucket)
    return hosting, session


@pytest.fixture(scope="module")
def sdk_env_module(server):
    """sdk_env for a whole module (the SDK reads the environment when its clients are built)."""
    with pytest.MonkeyPatch.context() as patch:
        yield apply_client_env(patch, server)


def _fit_sklearn(tmp_path) -> bytes:
    import joblib
    from sklearn.linear_model import LinearRegression

    x = np.random.default_rng(1).normal(size=(10, 2))
    model = LinearRegression().fit(x, x @ np.array([1.0, 2.0]) + 3.0)
    path = tmp_path / "model.joblib"
    joblib.dump(model, path)
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as archive:
        archive.add(path, arcname="model.joblib")
    return out.getvalue()


@pytest.mark.sdk_flow("flow03", "SKLearnModel.deploy, predict (npy), delete_endpoint")
def test_sklearn_model_deploy_predict_delete(sdk, tmp_path):
    from sagemaker.sklearn import SKLearnModel

    hosting, session = sdk
    model_data = hosting.upload("sdk/sklearn/model.tar.gz", _fit_sklearn(tmp_path))
    entry = tmp_path / "serve.py"
    entry.write_text(textwrap.dedent(SKLEARN_SCRIPT))
    model = SKLearnModel(
        model_data=model_data,
        role=ROLE,
        entry_point=str(entry),
        framework_version="1.2-1",
        py_version="py3",
        sagemaker_session=session,
    )
    predictor = model.deploy(initial_instance_count=1, instance_type="ml.m5.large", wait=False)
    desc = hosting.wait(predictor.endpoint_name)
    assert desc["EndpointStatus"] == "InService", desc.get("FailureReason")
    env = hosting.sm.describe_model(ModelName=model.name)["PrimaryContainer"]["Environment"]
    assert env["SAGEMAKER_PROGRAM"] == "serve.py" and env["SAGEMAKER_SUBMIT_DIRECTORY"].startswith("s3://")
    prediction = predictor.predict(np.array([[1.0, 1.0], [2.0, 0.0]]))  # application/x-npy both ways
    np.testing.assert_allclose(prediction, [6.0, 5.0])
    predictor.delete_endpoint()
    assert hosting.wait(predictor.endpoint_name)["EndpointStatus"] == "Deleting"


@pytest.mark.sdk_flow("flow03", "Model with code/ inside model.tar.gz")
def test_model_with_code_in_model_tar(sdk):
    from sagemaker.deserializers import StringDeserializer
    from sagemaker.model import Model
    from sagemaker.predictor import Predictor
    from sagemaker.serializers import CSVSerializer

    from hosting_support import ECHO_MODEL, SKLEARN_IMAGE

    hosting, session = sdk
    data = hosting.upload(
        "sdk/code/model.tar.gz", tar_bytes({"tag.txt": "sdk", "code/inference.py": ECHO_MODEL})
    )
    model = Model(
        image_uri=SKLEARN_IMAGE,
        model_data=data,
        role=ROLE,
        sagemaker_session=session,
        env={"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code"},
        predictor_cls=Predictor,
    )
    predictor = model.deploy(
        initial_instance_count=1,
        instance_type="ml.m5.large",
        wait=False,
        serializer=CSVSerializer(),
        deserializer=StringDeserializer(),
    )
    assert hosting.wait(predictor.endpoint_name)["EndpointStatus"] == "InService"
    assert predictor.predict([1, 2, 3]) == "sdk:6"
    predictor.delete_model()  # before delete_endpoint: it reads the endpoint config (flow 7 H)
    predictor.delete_endpoint()


@pytest.mark.sdk_flow("flow01", "Model(xgboost image).deploy, predict (CSV)")
def test_builtin_xgboost_model(sdk, tmp_path):
    import xgboost as xgb
    from sagemaker.deserializers import CSVDeserializer
    from sagemaker.model import Model
    from sagemaker.predictor import Predictor
    from sagemaker.serializers import CSVSerializer

    hosting, session = sdk
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 4)).astype(np.float32)
    booster = xgb.train(
        {"objective": "binary:logistic", "max_depth": 3}, xgb.DMatrix(x, label=x[:, 0] > 0), 10
    )
    booster.save_model(str(tmp_path / "xgboost-model"))
    data = hosting.upload(
        "sdk/xgb/model.tar.gz", tar_bytes({"xgboost-model": (tmp_path / "xgboost-model").read_bytes()})
    )
    model = Model(
        image_uri=XGBOOST_IMAGE,
        model_data=data,
        role=ROLE,
        sagemaker_session=session,
        predictor_cls=Predictor,
    )
    predictor = model.deploy(
        initial_instance_count=1,
        instance_type="ml.m5.large",
        wait=False,
        serializer=CSVSerializer(),
        deserializer=CSVDeserializer(),
    )
    assert hosting.wait(predictor.endpoint_name)["EndpointStatus"] == "InService"
    rows = predictor.predict(x[:3].tolist())
    expected = booster.inplace_predict(x[:3])
    np.testing.assert_allclose([float(r[0]) for r in rows], expected, rtol=1e-5)
    predictor.delete_endpoint()


TRAIN_SCRIPT = """
import argparse, os
import joblib
import numpy as np
from sklearn.linear_model import LinearRegression


def model_fn(model_dir):
    return joblib.load(os.path.join(model_dir, "model.joblib"))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--model-dir", default=os.environ.get("SM_MODEL_DIR"))
    parser.add_argument("--train", default=os.environ.get("SM_CHANNEL_TRAIN"))
    args, _ = parser.parse_known_args()
    data = np.loadtxt(os.path.join(args.train, "train.csv"), delimiter=",")
    model = LinearRegression().fit(data[:, 1:], data[:, 0])
    joblib.dump(model, os.path.join(args.model_dir, "model.joblib"))
"""


@pytest.mark.sdk_flow("flow03", "SKLearn.fit, deploy, predict")
def test_sklearn_estimator_fit_deploy_predict(sdk, tmp_path):
    from sagemaker.sklearn import SKLearn

    hosting, session = sdk
    x = np.random.default_rng(2).normal(size=(40, 2))
    y = x @ np.array([2.0, -1.0]) + 0.5
    train = hosting.upload(
        "sdk/estimator/train/train.csv",
        "\n".join(",".join(map(str, [t, *row])) for t, row in zip(y, x)).encode(),
    )
    (tmp_path / "train.py").write_text(textwrap.dedent(TRAIN_SCRIPT))
    estimator = SKLearn(
        entry_point=str(tmp_path / "train.py"),
        role=ROLE,
        instance_count=1,
        instance_type="ml.m5.large",
        framework_version="1.2-1",
        py_version="py3",
        sagemaker_session=session,
    )
    estimator.fit({"train": train.rsplit("/", 1)[0]}, logs=False)
    predictor = estimator.deploy(initial_instance_count=1, instance_type="ml.m5.large", wait=False)
    assert hosting.wait(predictor.endpoint_name)["EndpointStatus"] == "InService"
    np.testing.assert_allclose(predictor.predict(np.array([[1.0, 1.0]])), [1.5], atol=1e-6)
    predictor.delete_endpoint()
