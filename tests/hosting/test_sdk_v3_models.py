"""Models SDK v3's ModelBuilder packs (code/inference.py that loads code/serve.pkl with SDK v3's
sagemaker.serve) on a server whose Python has SDK v2: without SAGESTACK_SDK_V3_PYTHON the endpoint fails
with a reason that names the setting (tests/sdk_v3 deploy them with it), and models with other roles are
recorded as given."""

from __future__ import annotations

import uuid

from hosting_support import tar_bytes

PYTORCH_INFERENCE = (
    "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.5.1-cpu-py311-ubuntu22.04-sagemaker"
)
FOREIGN_ROLE = "arn:aws:iam::111122223333:role/SageMakerRole"
#: What ModelBuilder's inference.py starts with (its other imports do not matter here).
INFERENCE_PY = "import cloudpickle\nfrom sagemaker.serve.constants import Framework\n"


def test_model_builder_model_without_an_sdk_v3_python_fails_with_the_setting_named(hosting):
    name = f"mb-v3-{uuid.uuid4().hex[:6]}"
    url = hosting.upload(
        f"models/{name}/model.tar.gz",
        tar_bytes(
            {"code/inference.py": INFERENCE_PY, "code/serve.pkl": b"\x80\x05N.", "code/metadata.json": "{}"}
        ),
    )
    hosting.sm.create_model(
        ModelName=name,
        ExecutionRoleArn=FOREIGN_ROLE,
        PrimaryContainer={
            "Image": PYTORCH_INFERENCE,
            "ModelDataUrl": url,
            "Environment": {
                "SAGEMAKER_PROGRAM": "inference.py",
                "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
            },
        },
    )
    assert hosting.sm.describe_model(ModelName=name)["ExecutionRoleArn"] == FOREIGN_ROLE
    hosting.config(name, [("AllTraffic", name, 1.0)])
    desc = hosting.endpoint(name, name)
    assert desc["EndpointStatus"] == "Failed", desc
    assert "SAGESTACK_SDK_V3_PYTHON" in desc["FailureReason"] and "ModelBuilder" in desc["FailureReason"]
    hosting.delete(name)
