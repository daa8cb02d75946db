"""Bring your own container: training jobs whose image is the user's own, run by podman with SageMaker's
training contract — through the SageMaker SDK's generic Estimator and through boto3."""

from __future__ import annotations

import io
import json
import socket
import tarfile
import threading
import time
import uuid

import pytest

import images
from helpers import ROLE, wait_for, wait_training

pytestmark = [pytest.mark.slow]


def _model_files(s3, uri: str) -> dict[str, dict]:
    bucket, key = uri[5:].split("/", 1)
    data = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        return {
            m.name.lstrip("./"): json.loads(archive.extractfile(m).read())
            for m in archive.getmembers()
            if m.isfile()
        }


def _job(
    server, bucket, image, *, name=None, hyperparameters=None, count=1, isolated=False, mode="File", **extra
):
    sm, s3 = server.client("sagemaker"), server.client("s3")
    s3.put_object(Bucket=bucket, Key="train/data.csv", Body=b"1,0\n2,0\n3.5,0\n")
    name = name or f"byoc-{uuid.uuid4().hex[:10]}"
    sm.create_training_job(
        TrainingJobName=name,
        AlgorithmSpecification={"TrainingImage": image, "TrainingInputMode": mode},
        RoleArn=ROLE,
        HyperParameters=hyperparameters or {},
        InputDataConfig=[
            {
                "ChannelName": "train",
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/train/"}},
            }
        ],
        OutputDataConfig={"S3OutputPath": f"s3://{bucket}/out/"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": count, "VolumeSizeInGB": 1},
        StoppingCondition={"MaxRuntimeInSeconds": 300},
        EnableNetworkIsolation=isolated,
        **extra,
    )
    return name


@pytest.mark.sdk_flow("byoc", "Estimator(image_uri=BYOC image).fit with metric_definitions, logs=True")
def test_generic_estimator_fits_the_byoc_image(
    podman_server, podman_sdk_env, podman_bucket, byoc_image, capsys
):
    import sagemaker
    from sagemaker.estimator import Estimator

    session = sagemaker.Session()
    s3 = podman_server.client("s3")
    s3.put_object(Bucket=podman_bucket, Key="data/train/a.csv", Body=b"1,0\n2,0\n")
    s3.put_object(Bucket=podman_bucket, Key="data/train/b.csv", Body=b"4,0\n")
    estimator = Estimator(
        image_uri=byoc_image,
        role=ROLE,
        instance_count=1,
        instance_type="ml.m5.large",
        output_path=f"s3://{podman_bucket}/models",
        hyperparameters={"alpha": 0.5},
        metric_definitions=[{"Name": "train:loss", "Regex": r"train_loss=([0-9.]+)"}],
        sagemaker_session=session,
        base_job_name="byoc-fit",
    )
    estimator.fit({"train": f"s3://{podman_bucket}/data/train"}, wait=True, logs=True)
    assert "byoc train: done, total=7.0" in capsys.readouterr().out  # the container's log, streamed
    desc = estimator.latest_training_job.describe()
    assert desc["TrainingJobStatus"] == "Completed"
    files = _model_files(s3, desc["ModelArtifacts"]["S3ModelArtifacts"])
    model = files["model-algo-1.json"]
    assert model["total"] == 7.0 and model["rows"] == 3
    assert model["hyperparameters"]["alpha"] == "0.5"
    assert model["sm_channels"] == '["train"]' and model["sm_model_dir"] == "/opt/ml/model"
    assert model["job_name"] == desc["TrainingJobName"]
    assert {m["MetricName"]: m["Value"] for m in desc["FinalMetricDataList"]}["train:loss"] == pytest.approx(
        1 / 3, abs=1e-3
    )
    logs = podman_server.client("logs")
    streams = logs.describe_log_streams(
        logGroupName="/aws/sagemaker/TrainingJobs", logStreamNamePrefix=desc["TrainingJobName"]
    )["logStreams"]
    events = logs.get_log_events(
        logGroupName="/aws/sagemaker/TrainingJobs",
        logStreamName=streams[0]["logStreamName"],
        startFromHead=True,
    )["events"]
    # `train` is the container's command (the image has no ENTRYPOINT), as SageMaker runs it
    assert any("byoc train: argv=[] host=algo-1" in e["message"] for e in events), [
        e["message"] for e in events
    ]


def test_failure_file_is_the_failure_reason(podman_server, podman_bucket, byoc_image):
    name = _job(podman_server, podman_bucket, byoc_image, hyperparameters={"fail": "bad things happened"})
    desc = wait_training(podman_server.client("sagemaker"), name, 120)
    assert desc["TrainingJobStatus"] == "Failed"
    assert desc["FailureReason"] == "AlgorithmError: bad things happened"


def test_missing_image_fails_saying_how_to_build_or_tag_it(podman_server, podman_bucket):
    image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/no-such-image:v9"
    name = _job(podman_server, podman_bucket, image)
    desc = wait_training(podman_server.client("sagemaker"), name, 120)
    assert desc["TrainingJobStatus"] == "Failed"
    reason = desc["FailureReason"]
    assert reason.startswith("ClientError: Image " + image + " was not found in the local container engine")
    assert f"podman build -t {image}" in reason and "Build or tag it" in reason


def test_two_instances_see_each_other(podman_server, podman_bucket, byoc_image):
    s3 = podman_server.client("s3")
    name = _job(podman_server, podman_bucket, byoc_image, count=2)
    desc = wait_training(podman_server.client("sagemaker"), name, 180)
    assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")
    files = _model_files(s3, desc["ModelArtifacts"]["S3ModelArtifacts"])
    assert set(files) == {"model-algo-1.json", "model-algo-2.json"}
    for host, model in (("algo-1", files["model-algo-1.json"]), ("algo-2", files["model-algo-2.json"])):
        assert model["current_host"] == host and model["hosts"] == ["algo-1", "algo-2"]
        assert model["peers"] == {"algo-1": "127.0.0.1", "algo-2": "127.0.0.1"}


class _Listener:
    """A TCP listener on 127.0.0.1 that records who connected."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.messages: list[bytes] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                self.messages.append(conn.recv(100))


def test_network_isolation_blocks_what_the_open_job_reaches(podman_server, podman_bucket, byoc_image):
    sm, s3 = podman_server.client("sagemaker"), podman_server.client("s3")
    listener = _Listener()
    try:
        hps = {"connect_port": str(listener.port)}
        open_job = _job(podman_server, podman_bucket, byoc_image, hyperparameters=hps)
        isolated = _job(podman_server, podman_bucket, byoc_image, hyperparameters=hps, isolated=True)
        results = {}
        for name in (open_job, isolated):
            desc = wait_training(sm, name, 180)
            assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")
            results[name] = _model_files(s3, desc["ModelArtifacts"]["S3ModelArtifacts"])["model-algo-1.json"]
        assert results[open_job]["connected"] is True
        assert results[isolated]["connected"] is False
        assert results[isolated]["total"] == 6.5  # its channel still came in, its model still went out
        assert listener.messages == [b"hello from algo-1"]
        assert sm.describe_training_job(TrainingJobName=isolated)["EnableNetworkIsolation"] is True
    finally:
        listener.sock.close()


def test_isolated_hosts_reach_each_other_and_nothing_else(podman_server, podman_bucket, byoc_image):
    sm, s3 = podman_server.client("sagemaker"), podman_server.client("s3")
    listener = _Listener()
    try:
        hps = {"exchange_port": "7070", "outside": "10.255.255.1:80", "connect_port": str(listener.port)}
        name = _job(podman_server, podman_bucket, byoc_image, hyperparameters=hps, count=2, isolated=True)
        desc = wait_training(sm, name, 180)
        assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")
        files = _model_files(s3, desc["ModelArtifacts"]["S3ModelArtifacts"])
        first, second = files["model-algo-1.json"], files["model-algo-2.json"]
        assert first["exchange"] == ["hello from algo-2"]  # over TCP, by host name
        assert second["exchange"] == ["ack from algo-1"]
        for model in (first, second):
            addresses = model["peers"]
            assert addresses == first["peers"] and len(set(addresses.values())) == 2
            assert not any(a.startswith("127.") for a in addresses.values())
            assert model["outside"].startswith("failed")  # no route out of the job's network
            assert model["connected"] is False  # the server's machine is not reachable either
        assert listener.messages == []
        assert images.job_networks(name) == []  # the job's network went with it
    finally:
        listener.sock.close()


def test_stop_kills_the_container(podman_server, podman_bucket, byoc_image):
    import subprocess

    sm = podman_server.client("sagemaker")
    # two isolated hosts: the stop removes their network as well
    name = _job(
        podman_server, podman_bucket, byoc_image, hyperparameters={"sleep": "300"}, count=2, isolated=True
    )

    def running() -> bool:
        out = subprocess.run(
            ["podman", "ps", "--filter", f"label=sagestack.job={name}", "--format", "{{.Names}}"],
            capture_output=True,
            text=True,
            env={**__import__("os").environ, **images.engine_env()},
        ).stdout
        return bool(out.strip())

    wait_for(running, 120, message="the job's container running")
    wait_for(lambda: sm.describe_training_job(TrainingJobName=name)["SecondaryStatus"] == "Training", 60)
    sm.stop_training_job(TrainingJobName=name)
    desc = wait_training(sm, name, 60)
    assert desc["TrainingJobStatus"] == "Stopped"
    wait_for(lambda: not running(), 30, message="the container gone")
    wait_for(lambda: not images.job_networks(name), 30, message="the job's network gone")


def test_pipe_mode_and_checkpoints(podman_server, podman_bucket, byoc_image):
    sm, s3 = podman_server.client("sagemaker"), podman_server.client("s3")
    checkpoints = f"s3://{podman_bucket}/checkpoints/"
    name = _job(
        podman_server,
        podman_bucket,
        byoc_image,
        mode="Pipe",
        CheckpointConfig={"S3Uri": checkpoints},
    )
    desc = wait_training(sm, name, 120)
    assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")
    model = _model_files(s3, desc["ModelArtifacts"]["S3ModelArtifacts"])["model-algo-1.json"]
    assert model["total"] == 6.5 and model["rows"] == 3  # read from the FIFO train_0
    saved = s3.get_object(Bucket=podman_bucket, Key="checkpoints/last.txt")["Body"].read()
    assert saved == b"6.5"


def test_a_restarted_server_removes_the_container_its_crash_left(tmp_path, byoc_image):
    import os
    import subprocess

    from sagestack.local_server import ServerProcess

    server = ServerProcess(
        tmp_path / "data", extra_env={**images.engine_env(), "SAGESTACK_CONTAINER_ENGINE": "podman"}
    ).start()
    try:
        server.client("s3").create_bucket(Bucket="crash")
        # two isolated hosts: their network is a leftover too
        name = _job(server, "crash", byoc_image, hyperparameters={"sleep": "300"}, count=2, isolated=True)

        def running() -> bool:
            out = subprocess.run(
                ["podman", "ps", "--filter", f"label=sagestack.job={name}", "--format", "{{.Names}}"],
                capture_output=True,
                text=True,
                env={**os.environ, **images.engine_env()},
            ).stdout
            return bool(out.strip())

        wait_for(running, 120, message="the job's container running")
        logs = server.client("logs")

        def sleeping() -> bool:  # its script started (its output is out within a second: then it sleeps)
            return any(
                "byoc train: argv" in event["message"]
                for stream in logs.describe_log_streams(
                    logGroupName="/aws/sagemaker/TrainingJobs", logStreamNamePrefix=name
                )["logStreams"]
                for event in logs.get_log_events(
                    logGroupName="/aws/sagemaker/TrainingJobs",
                    logStreamName=stream["logStreamName"],
                    startFromHead=True,
                )["events"]
            )

        wait_for(sleeping, 240, message="the job's script sleeping")
        time.sleep(1)
        server.stop("KILL")  # a crash: the engine keeps the container
        assert running() and len(images.job_networks(name)) == 1
        server.start()
        desc = wait_training(server.client("sagemaker"), name, 60)
        assert desc["TrainingJobStatus"] == "Failed"  # no checkpoints: not resumed
        wait_for(lambda: not running(), 30, message="the leftover container removed")
        wait_for(lambda: not images.job_networks(name), 30, message="the leftover network removed")
    finally:
        server.stop()


def test_tuning_job_with_the_byoc_image(podman_server, podman_bucket, byoc_image):
    """The tuner's children are ordinary training jobs of the image; their metric is the regex's."""
    sm, s3 = podman_server.client("sagemaker"), podman_server.client("s3")
    s3.put_object(Bucket=podman_bucket, Key="train/data.csv", Body=b"1,0\n")
    name = f"byoc-hpo-{uuid.uuid4().hex[:6]}"
    sm.create_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=name,
        HyperParameterTuningJobConfig={
            "Strategy": "Random",
            "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "train:loss"},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 2, "MaxParallelTrainingJobs": 2},
            "ParameterRanges": {
                "ContinuousParameterRanges": [{"Name": "alpha", "MinValue": "0", "MaxValue": "1"}]
            },
        },
        TrainingJobDefinition={
            "AlgorithmSpecification": {
                "TrainingImage": byoc_image,
                "TrainingInputMode": "File",
                "MetricDefinitions": [{"Name": "train:loss", "Regex": r"train_loss=([0-9.]+)"}],
            },
            "RoleArn": ROLE,
            "InputDataConfig": [
                {
                    "ChannelName": "train",
                    "DataSource": {
                        "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{podman_bucket}/train/"}
                    },
                }
            ],
            "OutputDataConfig": {"S3OutputPath": f"s3://{podman_bucket}/hpo/"},
            "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
            "StoppingCondition": {"MaxRuntimeInSeconds": 300},
        },
    )
    wait_for(
        lambda: (
            sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)[
                "HyperParameterTuningJobStatus"
            ]
            in ("Completed", "Failed")
        ),
        180,
    )
    desc = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    assert desc["HyperParameterTuningJobStatus"] == "Completed", desc.get("FailureReason")
    assert desc["TrainingJobStatusCounters"]["Completed"] == 2
    best = desc["BestTrainingJob"]
    assert best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == pytest.approx(1 / 3, abs=1e-3)
