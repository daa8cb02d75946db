# %% [markdown]
# # XGBoost end to end on sagestack
#
# Plain SageMaker Python SDK v2 code: upload a data set, train the built-in XGBoost algorithm, deploy
# an endpoint, predict, run a batch transform, read the metrics and the logs, clean up. Nothing in it
# knows about sagestack: the environment that `sagestack env` prints points the SDK (and boto3) at the
# server, exactly as `AWS_ENDPOINT_URL` would point it anywhere else.
#
# Run it against a running server (`make serve` or `sagestack serve`):
#
#     eval "$(sagestack env)"
#     python examples/xgboost_end_to_end.py
#
# or let `make demo` start a server, run it and stop the server again.
#
# One change from the SDK's defaults keeps it fast: the SDK waits 30 s before each DescribeEndpoint
# poll in `deploy()` and 5 s per poll while a job runs (it is tuned for AWS, where an endpoint takes
# minutes). Here jobs and endpoints are ready in seconds, so the example starts them with
# `wait=False` and waits with the session's own waiters (`wait_for_job`, `wait_for_endpoint`,
# `wait_for_transform_job`) polling every second.

# %%
import os
import tempfile
import time

import boto3
import numpy as np
import sagemaker
from sagemaker import image_uris
from sagemaker.deserializers import CSVDeserializer
from sagemaker.estimator import Estimator
from sagemaker.inputs import TrainingInput
from sagemaker.s3 import S3Downloader
from sagemaker.serializers import CSVSerializer
from sagemaker.utils import name_from_base
from sklearn.datasets import load_breast_cancer
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.model_selection import train_test_split

POLL = 1  # seconds between Describe* calls while waiting (SDK defaults: 5 s for jobs, 30 s for endpoints)
INSTANCE_TYPE = "ml.m5.large"
STARTED = time.time()
STEP = {"number": 0, "since": STARTED}


def progress(title: str) -> None:
    """Print which step starts, and how long the previous one took."""
    now = time.time()
    if STEP["number"]:
        print(f"      ({now - STEP['since']:.1f} s)", flush=True)
    STEP["number"] += 1
    STEP["since"] = now
    print(f"[{now - STARTED:6.1f} s] step {STEP['number']}/8: {title}", flush=True)


# %% [markdown]
# ## 1. A session, a bucket and a role
#
# `default_bucket()` and `get_execution_role()` work unchanged: the SDK asks STS who is calling, and
# sagestack answers (the default key pair acts as `SageStackExecutionRole`).

# %%
progress("session, default bucket and execution role")
session = sagemaker.Session()
region = session.boto_region_name
bucket = session.default_bucket()
role = sagemaker.get_execution_role()
prefix = name_from_base("xgboost-end-to-end")
print(f"      endpoint {os.environ.get('AWS_ENDPOINT_URL')}, region {region}")
print(f"      bucket {bucket}, role {role}")

# %% [markdown]
# ## 2. Upload a data set that ships with scikit-learn
#
# Breast cancer (569 rows, 30 features, binary label), split 60/20/20 into train, validation and a
# held-out test set. The built-in XGBoost reads CSV with the label in the first column and no header;
# the batch-transform input is the test features alone.

# %%
progress("upload the breast_cancer data set to S3")
X, y = load_breast_cancer(return_X_y=True)
X_train, X_rest, y_train, y_rest = train_test_split(X, y, test_size=0.4, random_state=0, stratify=y)
X_val, X_test, y_val, y_test = train_test_split(X_rest, y_rest, test_size=0.5, random_state=0,
                                                stratify=y_rest)

workdir = tempfile.mkdtemp(prefix="xgboost-end-to-end-")
files = {
    "train": (np.column_stack([y_train, X_train]), "train.csv"),
    "validation": (np.column_stack([y_val, X_val]), "validation.csv"),
    "test": (X_test, "test.csv"),
}
uris = {}
for channel, (rows, filename) in files.items():
    path = os.path.join(workdir, filename)
    np.savetxt(path, rows, delimiter=",", fmt="%.8g")
    uris[channel] = session.upload_data(path, bucket=bucket, key_prefix=f"{prefix}/{channel}")
    print(f"      {channel:<10} {len(rows):>4} rows -> {uris[channel]}")

# %% [markdown]
# ## 3. Train the built-in XGBoost
#
# The image URI is the real one for the region; sagestack maps the `sagemaker-xgboost` repository to
# its built-in XGBoost algorithm (same hyperparameters, channels, metrics and model format).

# %%
progress("train the built-in XGBoost (image_uris.retrieve('xgboost', region, '1.7-1'))")
image = image_uris.retrieve("xgboost", region, "1.7-1")
estimator = Estimator(
    image_uri=image,
    role=role,
    instance_count=1,
    instance_type=INSTANCE_TYPE,
    output_path=f"s3://{bucket}/{prefix}/output",
    sagemaker_session=session,
    hyperparameters={"objective": "binary:logistic", "eval_metric": "auc", "num_round": 25,
                     "max_depth": 3, "eta": 0.2, "subsample": 0.8},
)
estimator.fit(
    {"train": TrainingInput(uris["train"], content_type="text/csv"),
     "validation": TrainingInput(uris["validation"], content_type="text/csv")},
    wait=False,  # then wait with a 1 s poll instead of the SDK's 5 s
)
job_name = estimator.latest_training_job.name
training = session.wait_for_job(job_name, poll=POLL)
print(f"      {image}")
print(f"      training job {job_name}: {training['TrainingJobStatus']}, model {estimator.model_data}")

# %% [markdown]
# ## 4. Deploy a real-time endpoint and predict
#
# `deploy(wait=False)` returns at once; `wait_for_endpoint` polls DescribeEndpoint until InService.
# The predictor sends CSV rows and reads back one probability per row.

# %%
progress("deploy an endpoint and predict the held-out rows")
endpoint_name = name_from_base("sagestack-demo-xgboost")
predictor = estimator.deploy(
    initial_instance_count=1,
    instance_type=INSTANCE_TYPE,
    endpoint_name=endpoint_name,
    serializer=CSVSerializer(),
    deserializer=CSVDeserializer(),
    wait=False,  # then wait with a 1 s poll instead of the SDK's 30 s
)
session.wait_for_endpoint(endpoint_name, poll=POLL)
rows = predictor.predict(X_test)
endpoint_scores = np.array([float(row[0]) for row in rows])
print(f"      endpoint {endpoint_name}: InService, {len(endpoint_scores)} predictions")
print(f"      held-out accuracy {accuracy_score(y_test, endpoint_scores > 0.5):.3f}, "
      f"AUC {roc_auc_score(y_test, endpoint_scores):.3f} ({len(y_test)} rows the model never saw)")

# %% [markdown]
# ## 5. Batch transform over the whole test file
#
# The same model scores a whole S3 prefix offline; the output is `<input file>.out` under the output
# path, one line per input line.

# %%
progress("batch transform the test set")
transformer = estimator.transformer(
    instance_count=1,
    instance_type=INSTANCE_TYPE,
    output_path=f"s3://{bucket}/{prefix}/transform",
    assemble_with="Line",
    accept="text/csv",
)
transformer.transform(uris["test"], content_type="text/csv", split_type="Line", wait=False)
transform_job = transformer.latest_transform_job.name
session.wait_for_transform_job(transform_job, poll=POLL)
output = S3Downloader.read_file(f"s3://{bucket}/{prefix}/transform/test.csv.out", sagemaker_session=session)
batch_scores = np.array([float(line) for line in output.split()])
print(f"      transform job {transform_job}: {len(batch_scores)} predictions")
print(f"      held-out accuracy {accuracy_score(y_test, batch_scores > 0.5):.3f}, "
      f"AUC {roc_auc_score(y_test, batch_scores):.3f}; "
      f"largest difference from the endpoint {np.abs(batch_scores - endpoint_scores).max():.2g}")

# %% [markdown]
# ## 6. Metrics
#
# The training job's final metrics (what the algorithm printed for `validation:auc`, parsed by its
# metric definitions) are in `FinalMetricDataList`. Endpoints publish CloudWatch metrics in the
# `AWS/SageMaker` namespace a few seconds after the calls (the server flushes them every 5 s).

# %%
progress("metrics: FinalMetricDataList and CloudWatch endpoint metrics")
for metric in estimator.latest_training_job.describe()["FinalMetricDataList"]:
    print(f"      training {metric['MetricName']} = {metric['Value']:.4f}")

cloudwatch = boto3.client("cloudwatch")
dimensions = [{"Name": "EndpointName", "Value": endpoint_name},
              {"Name": "VariantName", "Value": "AllTraffic"}]
deadline = time.time() + 30
invocations = []
while not invocations and time.time() < deadline:
    invocations = cloudwatch.get_metric_statistics(
        Namespace="AWS/SageMaker", MetricName="Invocations", Dimensions=dimensions,
        StartTime=STARTED - 60, EndTime=time.time() + 60, Period=60, Statistics=["Sum"],
    )["Datapoints"]
    if not invocations:
        time.sleep(POLL)
latency = cloudwatch.get_metric_statistics(
    Namespace="AWS/SageMaker", MetricName="ModelLatency", Dimensions=dimensions,
    StartTime=STARTED - 60, EndTime=time.time() + 60, Period=3600, Statistics=["Average", "Maximum"],
)["Datapoints"]
print(f"      endpoint Invocations = {sum(p['Sum'] for p in invocations):.0f}")
for point in latency:
    print(f"      endpoint ModelLatency average {point['Average']:.0f} us, maximum {point['Maximum']:.0f} us")

# %% [markdown]
# ## 7. Logs
#
# Everything a job or an endpoint writes goes to CloudWatch Logs, under the same group and stream
# names as on AWS: `/aws/sagemaker/TrainingJobs` (stream `<job>/algo-1-…`),
# `/aws/sagemaker/Endpoints/<endpoint>` (stream `<variant>/…`) and `/aws/sagemaker/TransformJobs`.

# %%
progress("logs: where they are, and a few lines")
logs = boto3.client("logs")
for group, stream_prefix in (("/aws/sagemaker/TrainingJobs", job_name),
                             (f"/aws/sagemaker/Endpoints/{endpoint_name}", "AllTraffic"),
                             ("/aws/sagemaker/TransformJobs", transform_job)):
    streams = logs.describe_log_streams(logGroupName=group, logStreamNamePrefix=stream_prefix)["logStreams"]
    for stream in streams[:1]:
        events = logs.get_log_events(logGroupName=group, logStreamName=stream["logStreamName"],
                                     startFromHead=True)["events"]
        print(f"      {group}  {stream['logStreamName']}  ({len(events)} lines)")
        for event in events[-3:]:
            print(f"        | {event['message'].rstrip()[:110]}")

# %% [markdown]
# ## 8. Clean up
#
# Delete the endpoint (and its configuration) and the models the endpoint and the transform job used.
# The data and the model artifact stay in S3.

# %%
progress("clean up: delete the endpoint and the models")
predictor.delete_model()  # first: it reads the model names from the endpoint's configuration
predictor.delete_endpoint()
session.delete_model(transformer.model_name)
print(f"      deleted endpoint {endpoint_name}")
print(f"      ({time.time() - STEP['since']:.1f} s)")
accuracy, auc = accuracy_score(y_test, endpoint_scores > 0.5), roc_auc_score(y_test, endpoint_scores)
print(f"done in {time.time() - STARTED:.1f} s: held-out accuracy {accuracy:.3f}, AUC {auc:.3f}")
