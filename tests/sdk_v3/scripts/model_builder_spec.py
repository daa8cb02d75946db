"""ModelBuilder with an InferenceSpec and a SchemaBuilder: build() packages the spec (cloudpickle) with
the SDK's inference.py, deploy() hosts it (the v3 serving path), and the endpoint answers."""

import json
import uuid

from sagemaker.core.resources import Endpoint, Model
from sagemaker.serve import ModelBuilder
from sagemaker.serve.builder.schema_builder import SchemaBuilder
from sagemaker.serve.spec.inference_spec import InferenceSpec
from sagemaker.serve.utils.types import ModelServer

from common import PYTORCH_INFERENCE_IMAGE, ROLE, result, show_logs

show_logs()


class Scaler(InferenceSpec):
    def load(self, model_dir):
        return {"factor": 2.0}

    def invoke(self, input_object, model):
        return [[value * model["factor"] for value in row] for row in input_object]


builder = ModelBuilder(
    inference_spec=Scaler(),
    schema_builder=SchemaBuilder([[1.0, 2.0]], [[2.0, 4.0]]),
    model_server=ModelServer.TORCHSERVE,
    image_uri=PYTORCH_INFERENCE_IMAGE,
    role_arn=ROLE,
    instance_type="ml.m5.large",
    # the SDK's dependency capture runs a child Python without the environment (no region): name none
    dependencies={"auto": False},
)
model = builder.build()
name = f"v3-spec-{uuid.uuid4().hex[:8]}"
builder.deploy(endpoint_name=name, initial_instance_count=1, wait=False)
endpoint = Endpoint.get(name)
endpoint.wait_for_status("InService", poll=1, timeout=300)
response = endpoint.invoke(
    body=json.dumps([[3.0, 4.0], [0.5, 1.0]]), content_type="application/json", accept="application/json"
)
answer = json.loads(response.body.read())
described = Model.get(model.model_name)
endpoint.delete()
result(
    answer=answer,
    role=described.execution_role_arn,
    image=described.primary_container.image,
    program=described.primary_container.environment.get("SAGEMAKER_PROGRAM"),
)
