"""ModelTrainer with SourceCode (source_dir, entry script, requirements; the SDK's driver scripts run as
the ContainerEntrypoint) trains a scikit-learn script on a local InputData folder with another account's
role; then ModelBuilder deploys the trained model with an inference script, and it answers."""

import io
import json
import tarfile
from pathlib import Path

import boto3
from sagemaker.core.resources import Endpoint, TrainingJob
from sagemaker.core.training.configs import SourceCode
from sagemaker.serve import ModelBuilder
from sagemaker.train import ModelTrainer
from sagemaker.train.configs import Compute, InputData

from common import ROLE, SKLEARN_IMAGE, result, show_logs, write, write_csv

show_logs()
write(
    "src/train.py",
    """
import argparse, os
import numpy as np
from sklearn.linear_model import LogisticRegression

parser = argparse.ArgumentParser()
parser.add_argument("--C", type=float, default=1.0)
args = parser.parse_args()
data = np.loadtxt(os.path.join(os.environ["SM_CHANNEL_TRAIN"], "train.csv"), delimiter=",")
model = LogisticRegression(C=args.C).fit(data[:, 1:], data[:, 0])
print(f"C={args.C} train accuracy: {model.score(data[:, 1:], data[:, 0]):.3f}", flush=True)
import sklearn
print(f"trained on scikit-learn {sklearn.__version__}", flush=True)
with open(os.path.join(os.environ["SM_MODEL_DIR"], "sklearn-version.txt"), "w") as f:
    f.write(sklearn.__version__)
# coefficients, not a pickle: the model is served by an inference script that needs only numpy
np.savez(os.path.join(os.environ["SM_MODEL_DIR"], "model.npz"), coef=model.coef_[0], intercept=model.intercept_)
""",
)
write("src/requirements.txt", "# nothing beyond the image's packages (scikit-learn, numpy)\n")
write_csv(Path("data/train.csv"))

trainer = ModelTrainer(
    training_image=SKLEARN_IMAGE,
    role=ROLE,
    source_code=SourceCode(source_dir="src", entry_script="train.py", requirements="requirements.txt"),
    compute=Compute(instance_type="ml.m5.large", instance_count=1),
    hyperparameters={"C": 0.5},
    base_job_name="v3-sklearn",
)
trainer.train(input_data_config=[InputData(channel_name="train", data_source="data")], wait=True, logs=True)
job = TrainingJob.get(trainer._latest_training_job.training_job_name)
artifacts = job.model_artifacts.s3_model_artifacts
bucket, key = artifacts[len("s3://") :].split("/", 1)
body = boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
with tarfile.open(fileobj=io.BytesIO(body)) as tar:
    members = tar.getnames()

# deploy() of the trained model: its artifacts repacked with an inference script
write(
    "serve_src/inference.py",
    """
import json, os
import numpy as np

def model_fn(model_dir):
    return dict(np.load(os.path.join(model_dir, "model.npz")))

def input_fn(body, content_type):
    return json.loads(body)

def predict_fn(data, model):
    scores = np.asarray(data, dtype=float) @ model["coef"] + model["intercept"][0]
    return (1.0 / (1.0 + np.exp(-scores))).tolist()

def output_fn(prediction, accept):
    return json.dumps({"probabilities": prediction})
""",
)
builder = ModelBuilder(
    image_uri=SKLEARN_IMAGE,
    s3_model_data_url=artifacts,
    role_arn=ROLE,
    source_code=SourceCode(source_dir="serve_src", entry_script="inference.py"),
    instance_type="ml.m5.large",
)
builder.build()
builder.deploy(endpoint_name=f"{job.training_job_name}-ep", initial_instance_count=1, wait=False)
endpoint = Endpoint.get(f"{job.training_job_name}-ep")
endpoint.wait_for_status("InService", poll=1, timeout=300)
response = endpoint.invoke(
    body=json.dumps([[0.1, 0.2, 0.3], [0.9, 0.8, 0.9]]),
    content_type="application/json",
    accept="application/json",
)
answer = json.loads(response.body.read())
endpoint.delete()

result(
    status=job.training_job_status,
    role=job.role_arn,
    hyperparameters=job.hyper_parameters,
    entrypoint=job.algorithm_specification.container_entrypoint,
    channels=sorted(c.channel_name for c in job.input_data_config),
    members=members,
    probabilities=answer["probabilities"],
)
