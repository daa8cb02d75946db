"""Inference pipelines (SDK v2 ``PipelineModel``: a scikit-learn preprocessing script, then built-in
XGBoost), Direct invocation of a multi-container model, and the SDK's async predictor."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest
from botocore.exceptions import ClientError

from hosting_support import ECHO_MODEL, ROLE, SKLEARN_IMAGE, XGBOOST_IMAGE, tar_bytes

pytestmark = pytest.mark.slow

PREPROCESS = """
import io
import os

import joblib
import numpy as np


def model_fn(model_dir):
    return joblib.load(os.path.join(model_dir, "scaler.joblib"))


def input_fn(body, content_type):
    text = body.decode() if isinstance(body, (bytes, bytearray)) else body
    return np.loadtxt(io.StringIO(text), delimiter=",", ndmin=2)


def predict_fn(data, scaler):
    return scaler.transform(data)
"""


def _fit(tmp_path):
    import joblib
    import xgboost as xgb
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(7)
    raw = rng.normal(loc=[100.0, -5.0, 0.0], scale=[20.0, 3.0, 0.1], size=(300, 3))
    scaler = StandardScaler().fit(raw)
    scaled = scaler.transform(raw)
    label = (scaled[:, 0] + 0.5 * scaled[:, 1] - scaled[:, 2] > 0).astype(np.float32)
    booster = xgb.train(
        {"objective": "binary:logistic", "max_depth": 3}, xgb.DMatrix(scaled, label=label), 20
    )
    joblib.dump(scaler, tmp_path / "scaler.joblib")
    booster.save_model(str(tmp_path / "xgboost-model.json"))
    return raw, scaler, booster


@pytest.mark.sdk_flow("pipeline-model", "PipelineModel(SKLearnModel, xgboost Model).deploy, predict")
def test_pipeline_model_preprocess_then_xgboost(p2_sdk, tmp_path):
    from sagemaker.deserializers import CSVDeserializer
    from sagemaker.model import Model
    from sagemaker.pipeline import PipelineModel
    from sagemaker.predictor import Predictor
    from sagemaker.serializers import CSVSerializer
    from sagemaker.sklearn import SKLearnModel

    hosting, session = p2_sdk
    raw, scaler, booster = _fit(tmp_path)
    scaler_data = hosting.upload(
        "pipeline/scaler/model.tar.gz",
        tar_bytes({"scaler.joblib": (tmp_path / "scaler.joblib").read_bytes()}),
    )
    xgb_data = hosting.upload(
        "pipeline/xgb/model.tar.gz",
        tar_bytes({"xgboost-model": (tmp_path / "xgboost-model.json").read_bytes()}),
    )
    (tmp_path / "preprocess.py").write_text(textwrap.dedent(PREPROCESS))
    preprocess_model = SKLearnModel(
        model_data=scaler_data,
        role=ROLE,
        entry_point=str(tmp_path / "preprocess.py"),
        framework_version="1.2-1",
        py_version="py3",
        sagemaker_session=session,
    )
    xgb_model = Model(image_uri=XGBOOST_IMAGE, model_data=xgb_data, role=ROLE, sagemaker_session=session)
    pipeline = PipelineModel(models=[preprocess_model, xgb_model], role=ROLE, sagemaker_session=session)
    pipeline.deploy(initial_instance_count=1, instance_type="ml.m5.large", wait=False)
    endpoint = pipeline.endpoint_name
    desc = hosting.wait(endpoint)
    assert desc["EndpointStatus"] == "InService", desc.get("FailureReason")
    containers = hosting.sm.describe_model(ModelName=pipeline.name)["Containers"]
    assert [c["Image"] for c in containers][1] == XGBOOST_IMAGE and len(containers) == 2

    predictor = Predictor(
        endpoint, sagemaker_session=session, serializer=CSVSerializer(), deserializer=CSVDeserializer()
    )
    rows = raw[:5]
    answer = predictor.predict(rows.tolist())  # raw CSV in, probabilities out: one request
    expected = booster.inplace_predict(scaler.transform(rows))
    np.testing.assert_allclose([float(r[0]) for r in answer], expected, rtol=1e-5)

    # A failure names the container that failed: 2 features where the scaler expects 3.
    with pytest.raises(ClientError) as info:
        hosting.rt.invoke_endpoint(EndpointName=endpoint, Body="1,2", ContentType="text/csv")
    error = info.value.response["Error"]
    assert error["Code"] == "ModelError"
    assert "from container-1 " in error["Message"] and "features" in error["Message"]
    hosting.delete(endpoint)


def test_direct_invocation_picks_the_target_container(p2_hosting):
    hosting = p2_hosting
    containers = []
    for host in ("alpha", "beta"):
        files = {"tag.txt": host, "code/inference.py": ECHO_MODEL}
        url = hosting.upload(f"direct/{host}/model.tar.gz", tar_bytes(files))
        containers.append(
            {
                "ContainerHostname": host,
                "Image": SKLEARN_IMAGE,
                "ModelDataUrl": url,
                "Environment": {
                    "SAGEMAKER_PROGRAM": "inference.py",
                    "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
                },
            }
        )
    hosting.sm.create_model(
        ModelName="direct-model",
        ExecutionRoleArn=ROLE,
        Containers=containers,
        InferenceExecutionConfig={"Mode": "Direct"},
    )
    hosting.config("direct-config", [("AllTraffic", "direct-model", 1.0)])
    assert hosting.endpoint("direct-ep", "direct-config")["EndpointStatus"] == "InService"
    assert hosting.invoke("direct-ep", "1,2", TargetContainerHostname="beta")[0] == "beta:3"
    assert hosting.invoke("direct-ep", "1,2", TargetContainerHostname="alpha")[0] == "alpha:3"
    with pytest.raises(ClientError) as info:
        hosting.invoke("direct-ep", "boom", TargetContainerHostname="beta")
    assert "from beta " in info.value.response["Error"]["Message"]
    hosting.delete("direct-ep")


@pytest.mark.filterwarnings(
    "ignore::pytest.PytestUnhandledThreadExceptionWarning"
)  # the SDK's failure watcher
@pytest.mark.sdk_flow("flow07g", "AsyncInferenceConfig, predict_async")
def test_sdk_async_predictor(p2_sdk):
    from sagemaker.async_inference import AsyncInferenceConfig, WaiterConfig
    from sagemaker.deserializers import StringDeserializer
    from sagemaker.model import Model
    from sagemaker.predictor import Predictor
    from sagemaker.predictor_async import AsyncPredictor
    from sagemaker.serializers import CSVSerializer

    hosting, session = p2_sdk
    data = hosting.upload(
        "sdk-async/model.tar.gz", tar_bytes({"tag.txt": "sdkasync", "code/inference.py": ECHO_MODEL})
    )
    model = Model(
        image_uri=SKLEARN_IMAGE,
        model_data=data,
        role=ROLE,
        sagemaker_session=session,
        env={"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code"},
    )
    config = AsyncInferenceConfig(
        output_path=f"s3://{hosting.bucket}/sdk-async/out", max_concurrent_invocations_per_instance=4
    )
    model.deploy(
        initial_instance_count=1, instance_type="ml.m5.large", async_inference_config=config, wait=False
    )
    assert hosting.wait(model.endpoint_name)["EndpointStatus"] == "InService"
    predictor = AsyncPredictor(
        Predictor(
            model.endpoint_name,
            sagemaker_session=session,
            serializer=CSVSerializer(),
            deserializer=StringDeserializer(),
        )
    )
    response = predictor.predict_async([3, 4])
    assert response.output_path.startswith(f"s3://{hosting.bucket}/sdk-async/out/")
    assert response.get_result(WaiterConfig(max_attempts=20, delay=0.5)) == "sdkasync:7"
    hosting.delete(model.endpoint_name)
