"""Training jobs over the real API: the contract, lifecycle, limits, queueing and listing."""

from __future__ import annotations

import json
import uuid

import botocore.exceptions
import pytest

from helpers import ROLE, SKLEARN_IMAGE, read_tar_gz, tar_gz, wait_for, wait_training

CONTRACT_SCRIPT = r"""
import argparse, json, os, sys
parser = argparse.ArgumentParser()
parser.add_argument("--alpha", type=float)
parser.add_argument("--layers", type=str)
args = parser.parse_args()
print("alpha", args.alpha, "layers", args.layers, flush=True)
train = os.environ["SM_CHANNEL_TRAIN"]
files = sorted(os.listdir(train))
print("train files", files, flush=True)
summary = {
    "alpha": args.alpha, "layers": json.loads(args.layers), "files": files,
    "hps": json.loads(os.environ["SM_HPS"]), "channels": json.loads(os.environ["SM_CHANNELS"]),
    "hosts": json.loads(os.environ["SM_HOSTS"]), "current_host": os.environ["SM_CURRENT_HOST"],
    "model_dir": os.environ["SM_MODEL_DIR"], "num_cpus": int(os.environ["SM_NUM_CPUS"]),
    "user_args": json.loads(os.environ["SM_USER_ARGS"]),
    "opt_ml_config": sorted(os.listdir("/opt/ml/input/config")) if os.path.isdir("/opt/ml/input/config") else None,
    "content": open(os.path.join(train, files[0])).read(),
}
with open(os.path.join(os.environ["SM_MODEL_DIR"], "summary.json"), "w") as f:
    json.dump(summary, f)
with open("/opt/ml/model/hardcoded.txt", "w") as f:
    f.write("written through /opt/ml")
os.makedirs(os.environ["SM_OUTPUT_DATA_DIR"], exist_ok=True)
open(os.path.join(os.environ["SM_OUTPUT_DATA_DIR"], "extra.txt"), "w").write("output data")
print("validation-accuracy: 0.875", flush=True)
"""


@pytest.fixture(scope="module")
def bucket(server):
    s3 = server.client("s3")
    name = f"training-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="data/train/part-0.csv", Body=b"1,2,3\n4,5,6\n")
    return name


def _source(server, bucket: str, files: dict[str, str]) -> str:
    key = f"code/{uuid.uuid4().hex[:8]}/sourcedir.tar.gz"
    server.client("s3").put_object(
        Bucket=bucket, Key=key, Body=tar_gz({k: v.encode() for k, v in files.items()})
    )
    return f"s3://{bucket}/{key}"


def _job(
    server, bucket: str, script: str, name: str | None = None, extra_hps: dict | None = None, **overrides
) -> str:
    sm = server.client("sagemaker")
    name = name or f"job-{uuid.uuid4().hex[:10]}"
    hps = {
        "sagemaker_program": '"train.py"',
        "sagemaker_submit_directory": json.dumps(_source(server, bucket, {"train.py": script})),
    }
    hps.update(extra_hps or {})
    params = dict(
        TrainingJobName=name,
        AlgorithmSpecification={"TrainingImage": SKLEARN_IMAGE, "TrainingInputMode": "File"},
        RoleArn=ROLE,
        InputDataConfig=[
            {
                "ChannelName": "train",
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": f"s3://{bucket}/data/train",
                        "S3DataDistributionType": "FullyReplicated",
                    }
                },
            }
        ],
        OutputDataConfig={"S3OutputPath": f"s3://{bucket}/output"},
        ResourceConfig={"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 30},
        StoppingCondition={"MaxRuntimeInSeconds": 600},
        HyperParameters=hps,
    )
    params.update(overrides)
    sm.create_training_job(**params)
    return name


def test_script_contract_and_artifacts(server, bucket):
    sm = server.client("sagemaker")
    name = _job(
        server,
        bucket,
        CONTRACT_SCRIPT,
        extra_hps={"alpha": "0.5", "layers": "[3, 4]"},
        AlgorithmSpecification={
            "TrainingImage": SKLEARN_IMAGE,
            "TrainingInputMode": "File",
            "MetricDefinitions": [{"Name": "validation:accuracy", "Regex": "validation-accuracy: ([0-9.]+)"}],
        },
    )
    desc = wait_training(sm, name)
    assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")
    assert desc["SecondaryStatus"] == "Completed"
    statuses = [t["Status"] for t in desc["SecondaryStatusTransitions"]]
    assert statuses == ["Starting", "Downloading", "Training", "Uploading", "Completed"]
    assert desc["OutputDataConfig"]["KmsKeyId"] == ""
    assert desc["TrainingTimeInSeconds"] >= 1 and desc["BillableTimeInSeconds"] >= 1
    assert [m["MetricName"] for m in desc["FinalMetricDataList"]] == ["validation:accuracy"]
    assert desc["FinalMetricDataList"][0]["Value"] == pytest.approx(0.875)
    artifact = desc["ModelArtifacts"]["S3ModelArtifacts"]
    assert artifact == f"s3://{bucket}/output/{name}/output/model.tar.gz"
    body = (
        server.client("s3").get_object(Bucket=bucket, Key=f"output/{name}/output/model.tar.gz")["Body"].read()
    )
    files = read_tar_gz(body)
    summary = json.loads(files["summary.json"])
    assert summary["alpha"] == 0.5 and summary["layers"] == [3, 4]
    assert summary["files"] == ["part-0.csv"] and summary["content"] == "1,2,3\n4,5,6\n"
    assert summary["hps"] == {"alpha": 0.5, "layers": [3, 4]}
    assert summary["channels"] == ["train"] and summary["hosts"] == ["algo-1"]
    assert summary["current_host"] == "algo-1"
    assert summary["user_args"] == ["--alpha", "0.5", "--layers", "[3, 4]"]
    assert summary["model_dir"] == "/opt/ml/model"
    assert summary["opt_ml_config"] == ["hyperparameters.json", "inputdataconfig.json", "resourceconfig.json"]
    assert files["hardcoded.txt"] == b"written through /opt/ml"
    output = server.client("s3").get_object(Bucket=bucket, Key=f"output/{name}/output/output.tar.gz")
    assert read_tar_gz(output["Body"].read())["extra.txt"] == b"output data"
    logs = server.client("logs")
    streams = logs.describe_log_streams(
        logGroupName="/aws/sagemaker/TrainingJobs", logStreamNamePrefix=f"{name}/"
    )["logStreams"]
    assert len(streams) == 1 and streams[0]["logStreamName"].startswith(f"{name}/algo-1-")
    events = logs.get_log_events(
        logGroupName="/aws/sagemaker/TrainingJobs",
        logStreamName=streams[0]["logStreamName"],
        startFromHead=True,
    )["events"]
    text = "\n".join(e["message"] for e in events)
    assert "alpha 0.5 layers [3, 4]" in text and "train files ['part-0.csv']" in text


def test_failing_script(server, bucket):
    sm = server.client("sagemaker")
    name = _job(
        server, bucket, "print('about to fail', flush=True)\nraise ValueError('bad things happened')\n"
    )
    desc = wait_training(sm, name)
    assert desc["TrainingJobStatus"] == "Failed"
    assert desc["SecondaryStatus"] == "Failed"
    assert "ValueError: bad things happened" in desc["FailureReason"]
    assert desc["FailureReason"].startswith("AlgorithmError")
    streams = server.client("logs").describe_log_streams(
        logGroupName="/aws/sagemaker/TrainingJobs", logStreamNamePrefix=f"{name}/"
    )["logStreams"]
    events = server.client("logs").get_log_events(
        logGroupName="/aws/sagemaker/TrainingJobs",
        logStreamName=streams[0]["logStreamName"],
        startFromHead=True,
    )["events"]
    assert any("about to fail" in e["message"] for e in events)


def test_failure_file_is_the_reason(server, bucket):
    script = (
        "open('/opt/ml/output/failure', 'w').write('ClientError: column 7 has text in it')\n"
        "raise SystemExit(3)\n"
    )
    desc = wait_training(server.client("sagemaker"), _job(server, bucket, script))
    assert desc["TrainingJobStatus"] == "Failed"
    assert desc["FailureReason"] == "ClientError: column 7 has text in it"


def test_failed_job_still_uploads_its_output_data(server, bucket):
    script = (
        "import os\n"
        "open(os.path.join(os.environ['SM_OUTPUT_DATA_DIR'], 'diagnostics.txt'), 'w').write('row 7 is bad')\n"
        "raise SystemExit(3)\n"
    )
    name = _job(server, bucket, script)
    assert wait_training(server.client("sagemaker"), name)["TrainingJobStatus"] == "Failed"
    output = server.client("s3").get_object(Bucket=bucket, Key=f"output/{name}/output/output.tar.gz")
    assert read_tar_gz(output["Body"].read()) == {"diagnostics.txt": b"row 7 is bad"}


def _no_process_with(marker: str) -> bool:
    import psutil

    for proc in psutil.process_iter(["cmdline"]):
        try:
            if marker in " ".join(proc.info["cmdline"] or []):
                return False
        except psutil.Error:
            continue
    return True


def test_stop_training_job(server, bucket):
    sm = server.client("sagemaker")
    marker = uuid.uuid4().hex
    script = f"import time, subprocess, sys\nsubprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)', '{marker}'])\nprint('started', flush=True)\ntime.sleep(600)\n"
    name = _job(server, bucket, script)
    wait_for(lambda: sm.describe_training_job(TrainingJobName=name)["SecondaryStatus"] == "Training", 60)
    wait_for(lambda: not _no_process_with(marker), 30, message="the child process to start")
    sm.stop_training_job(TrainingJobName=name)
    assert sm.describe_training_job(TrainingJobName=name)["TrainingJobStatus"] in ("Stopping", "Stopped")
    desc = wait_training(sm, name, 30)
    assert desc["TrainingJobStatus"] == "Stopped" and desc["SecondaryStatus"] == "Stopped"
    wait_for(lambda: _no_process_with(marker), 10, message="no orphan processes")
    with pytest.raises(botocore.exceptions.ClientError) as info:
        sm.stop_training_job(TrainingJobName=name)
    assert info.value.response["Error"]["Code"] == "ValidationException"


def test_max_runtime(server, bucket):
    sm = server.client("sagemaker")
    name = _job(
        server,
        bucket,
        "import time\nprint('sleeping', flush=True)\ntime.sleep(600)\n",
        StoppingCondition={"MaxRuntimeInSeconds": 2},
    )
    desc = wait_training(sm, name, 60)
    assert desc["TrainingJobStatus"] == "Stopped"
    assert desc["SecondaryStatus"] == "MaxRuntimeExceeded"


def test_missing_input_prefix(server, bucket):
    sm = server.client("sagemaker")
    name = _job(
        server,
        bucket,
        "print('never runs')\n",
        InputDataConfig=[
            {
                "ChannelName": "train",
                "DataSource": {
                    "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/nothing-here/"}
                },
            }
        ],
    )
    desc = wait_training(sm, name, 60)
    assert desc["TrainingJobStatus"] == "Failed"
    assert desc["FailureReason"].startswith("ClientError: Data download failed:No S3 objects found")


def test_unknown_image_and_bad_input(server, bucket):
    sm = server.client("sagemaker")
    name = _job(
        server,
        bucket,
        "print(1)\n",
        AlgorithmSpecification={
            "TrainingImage": "example.com/someone/custom:latest",
            "TrainingInputMode": "File",
        },
    )
    desc = wait_training(sm, name, 60)
    assert desc["TrainingJobStatus"] == "Failed"
    # no container engine: not runnable; with podman/docker: a container image that is not built locally
    assert (
        "not a built-in algorithm or framework image" in desc["FailureReason"]
        or "was not found in the local container engine" in desc["FailureReason"]
    )
    with pytest.raises(botocore.exceptions.ClientError) as info:
        _job(
            server,
            bucket,
            "print(1)\n",
            ResourceConfig={"InstanceCount": 1, "InstanceType": "ml.bogus.large", "VolumeSizeInGB": 30},
        )
    assert info.value.response["Error"]["Code"] == "ValidationException"
    assert "ml.m5.xlarge" in info.value.response["Error"]["Message"]
    with pytest.raises(botocore.exceptions.ClientError) as info:
        _job(server, bucket, "print(1)\n", name=name)
    assert info.value.response["Error"]["Code"] == "ResourceInUse"
    with pytest.raises(botocore.exceptions.ClientError) as info:
        sm.describe_training_job(TrainingJobName="does-not-exist")
    assert info.value.response["Error"]["Code"] == "ValidationException"


@pytest.mark.parametrize(
    "image,words",
    [
        ("763104351884.dkr.ecr.us-east-1.amazonaws.com/mxnet-training:1.9.0-cpu-py38", "Apache MXNet 1.9.0"),
        ("520713654638.dkr.ecr.us-east-1.amazonaws.com/sagemaker-chainer:5.0.0-cpu-py3", "Chainer 5.0.0"),
    ],
)
def test_retired_framework_image_fails_with_framework_and_version(server, bucket, image, words):
    sm = server.client("sagemaker")
    name = _job(
        server,
        bucket,
        "print(1)\n",
        AlgorithmSpecification={"TrainingImage": image, "TrainingInputMode": "File"},
    )
    desc = wait_training(sm, name, 60)
    assert desc["TrainingJobStatus"] == "Failed"
    assert words in desc["FailureReason"] and "no builds for this Python" in desc["FailureReason"]


def test_queue_and_list(server, bucket):
    sm = server.client("sagemaker")
    prefix = f"q{uuid.uuid4().hex[:6]}"
    names = [
        _job(
            server,
            bucket,
            "import time\ntime.sleep(0.5)\nprint('ok')\n",
            name=f"{prefix}-{i}",
            ResourceConfig={"InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 30},
        )
        for i in range(4)
    ]
    # ml.m5.xlarge wants 4 vCPUs: on a small machine the jobs queue instead of oversubscribing.
    statuses = [sm.describe_training_job(TrainingJobName=n)["SecondaryStatus"] for n in names]
    assert statuses.count("Starting") >= 2
    for name in names:
        assert wait_training(sm, name, 180)["TrainingJobStatus"] == "Completed"
    listed = sm.list_training_jobs(NameContains=prefix, SortBy="Name", SortOrder="Ascending")
    assert [s["TrainingJobName"] for s in listed["TrainingJobSummaries"]] == names
    page1 = sm.list_training_jobs(NameContains=prefix, SortBy="Name", SortOrder="Descending", MaxResults=3)
    assert [s["TrainingJobName"] for s in page1["TrainingJobSummaries"]] == names[::-1][:3]
    page2 = sm.list_training_jobs(
        NameContains=prefix, SortBy="Name", SortOrder="Descending", MaxResults=3, NextToken=page1["NextToken"]
    )
    assert [s["TrainingJobName"] for s in page2["TrainingJobSummaries"]] == [names[0]]
    assert "NextToken" not in page2
    completed = sm.list_training_jobs(NameContains=prefix, StatusEquals="Failed")
    assert completed["TrainingJobSummaries"] == []
    paginator = sm.get_paginator("list_training_jobs")
    seen = [
        s["TrainingJobName"]
        for page in paginator.paginate(NameContains=prefix, PaginationConfig={"PageSize": 1})
        for s in page["TrainingJobSummaries"]
    ]
    assert sorted(seen) == names


def test_checkpoint_resume_after_server_kill(fresh_server):
    server = fresh_server
    s3 = server.client("s3")
    s3.create_bucket(Bucket="ckpt")
    s3.put_object(Bucket="ckpt", Key="data/train/x.csv", Body=b"1\n")
    script = r"""
import os, time
ckpt = "/opt/ml/checkpoints/step.txt"
start = int(open(ckpt).read()) if os.path.exists(ckpt) else 0
print("resuming from", start, flush=True)
for step in range(start, 12):
    with open(ckpt + ".tmp", "w") as f:
        f.write(str(step + 1))
    os.replace(ckpt + ".tmp", ckpt)
    time.sleep(0.5)
open("/opt/ml/model/start.txt", "w").write(str(start))
"""
    name = _job(server, "ckpt", script, CheckpointConfig={"S3Uri": "s3://ckpt/checkpoints/"})
    sm = server.client("sagemaker")

    def checkpointed():
        objs = s3.list_objects_v2(Bucket="ckpt", Prefix="checkpoints/").get("Contents", [])
        if not objs:
            return False
        return int(s3.get_object(Bucket="ckpt", Key="checkpoints/step.txt")["Body"].read()) >= 4

    wait_for(checkpointed, 60, message="a checkpoint in S3")
    server.restart(sig="KILL")
    sm = server.client("sagemaker")
    desc = wait_training(sm, name, 90)
    assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")
    statuses = [t["Status"] for t in desc["SecondaryStatusTransitions"]]
    assert "Interrupted" in statuses
    model = read_tar_gz(s3.get_object(Bucket="ckpt", Key=f"output/{name}/output/model.tar.gz")["Body"].read())
    assert int(model["start.txt"]) >= 3  # resumed, not restarted from zero


def test_interrupted_job_without_checkpoint_fails_clearly(fresh_server):
    server = fresh_server
    s3 = server.client("s3")
    s3.create_bucket(Bucket="nockpt")
    s3.put_object(Bucket="nockpt", Key="data/train/x.csv", Body=b"1\n")
    name = _job(server, "nockpt", "import time\nprint('running', flush=True)\ntime.sleep(600)\n")
    sm = server.client("sagemaker")
    wait_for(lambda: sm.describe_training_job(TrainingJobName=name)["SecondaryStatus"] == "Training", 60)
    server.restart(sig="KILL")
    desc = wait_training(server.client("sagemaker"), name, 30)
    assert desc["TrainingJobStatus"] == "Failed"
    assert "server stopped" in desc["FailureReason"]


@pytest.mark.sdk_flow("flow12", "sagemaker-core TrainingJob.get parses DescribeTrainingJob")
def test_describe_parses_with_sagemaker_core(server, bucket, sdk_env):
    from sagemaker_core.main.resources import TrainingJob

    sm = server.client("sagemaker")
    name = _job(server, bucket, "print('hello')\n")
    wait_training(sm, name)
    job = TrainingJob.get(name)
    assert job.training_job_status == "Completed"
    assert job.model_artifacts.s3_model_artifacts.endswith(f"{name}/output/model.tar.gz")


def test_two_instances_sharded_by_key(server, bucket):
    s3 = server.client("s3")
    for i in range(4):
        s3.put_object(Bucket=bucket, Key=f"shards/part-{i}.csv", Body=f"{i}\n".encode())
    script = r"""
import json, os, socket
host = os.environ["SM_CURRENT_HOST"]
files = sorted(os.listdir(os.environ["SM_CHANNEL_TRAIN"]))
peer = "algo-2" if host == "algo-1" else "algo-1"
info = {"host": host, "hosts": json.loads(os.environ["SM_HOSTS"]), "files": files,
        "peer_resolves": socket.gethostbyname(peer)}
json.dump(info, open(f"/opt/ml/model/{host}.json", "w"))
"""
    name = _job(
        server,
        bucket,
        script,
        InputDataConfig=[
            {
                "ChannelName": "train",
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": f"s3://{bucket}/shards/",
                        "S3DataDistributionType": "ShardedByS3Key",
                    }
                },
            }
        ],
        ResourceConfig={"InstanceCount": 2, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 30},
    )
    desc = wait_training(server.client("sagemaker"), name)
    assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")
    assert desc["BillableTimeInSeconds"] == 2 * desc["TrainingTimeInSeconds"]
    files = read_tar_gz(s3.get_object(Bucket=bucket, Key=f"output/{name}/output/model.tar.gz")["Body"].read())
    one, two = json.loads(files["algo-1.json"]), json.loads(files["algo-2.json"])
    assert one["hosts"] == two["hosts"] == ["algo-1", "algo-2"]
    assert one["files"] == ["part-0.csv", "part-2.csv"] and two["files"] == ["part-1.csv", "part-3.csv"]
    assert one["peer_resolves"] == "127.0.0.1"
    streams = server.client("logs").describe_log_streams(
        logGroupName="/aws/sagemaker/TrainingJobs", logStreamNamePrefix=f"{name}/"
    )["logStreams"]
    assert sorted(s["logStreamName"].split("/")[1].rsplit("-", 1)[0] for s in streams) == ["algo-1", "algo-2"]


def test_manifest_and_pipe_channels(server, bucket):
    s3 = server.client("s3")
    s3.put_object(Bucket=bucket, Key="m/a.csv", Body=b"a\n")
    s3.put_object(Bucket=bucket, Key="m/sub/b.csv", Body=b"bb\n")
    s3.put_object(Bucket=bucket, Key="m/c.csv", Body=b"not listed\n")
    s3.put_object(
        Bucket=bucket,
        Key="manifests/train.manifest",
        Body=json.dumps([{"prefix": f"s3://{bucket}/m/"}, "a.csv", "sub/b.csv"]).encode(),
    )
    script = r"""
import json, os
train = os.environ["SM_CHANNEL_TRAIN"]
listed = sorted(os.path.relpath(os.path.join(d, f), train) for d, _, fs in os.walk(train) for f in fs)
with open("/opt/ml/input/data/stream_0", "rb") as fifo:
    streamed = fifo.read()
config = json.load(open("/opt/ml/input/config/inputdataconfig.json"))
json.dump({"listed": listed, "streamed": streamed.decode(), "config": config},
          open("/opt/ml/model/out.json", "w"))
"""
    name = _job(
        server,
        bucket,
        script,
        InputDataConfig=[
            {
                "ChannelName": "train",
                "ContentType": "text/csv",
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "ManifestFile",
                        "S3Uri": f"s3://{bucket}/manifests/train.manifest",
                    }
                },
            },
            {
                "ChannelName": "stream",
                "InputMode": "Pipe",
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/m/sub/"}},
            },
        ],
    )
    desc = wait_training(server.client("sagemaker"), name)
    assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")
    files = read_tar_gz(s3.get_object(Bucket=bucket, Key=f"output/{name}/output/model.tar.gz")["Body"].read())
    out = json.loads(files["out.json"])
    assert out["listed"] == ["a.csv", "sub/b.csv"]
    assert out["streamed"] == "bb\n"
    assert out["config"]["train"] == {
        "TrainingInputMode": "File",
        "S3DistributionType": "FullyReplicated",
        "RecordWrapperType": "None",
        "ContentType": "text/csv",
    }
    assert out["config"]["stream"]["TrainingInputMode"] == "Pipe"
