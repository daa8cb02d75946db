"""Processing jobs over the real API: the container contract, inputs (prefix, manifest, sharded, gzip),
outputs, failures, stops, validation, listing and deletion."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import uuid

import botocore.exceptions
import pytest

from helpers import ROLE, SKLEARN_IMAGE, processing_input, processing_output, wait_for

CONTRACT = r"""
import json, os, sys
config = json.load(open("/opt/ml/config/processingjobconfig.json"))
resources = json.load(open("/opt/ml/config/resourceconfig.json"))
inputs = {}
for root, _, files in os.walk("/opt/ml/processing/input"):
    for f in files:
        path = os.path.join(root, f)
        if not os.path.isfile(path):
            continue  # Pipe inputs' FIFOs are read by test_pipe_inputs_stream_through_fifos
        inputs[os.path.relpath(path, "/opt/ml/processing/input")] = open(path, "rb").read().decode()
import socket
resolved = {host: socket.gethostbyname(host) for host in resources["hosts"]}
summary = {"resolved": resolved, "argv": sys.argv[1:], "config_name": config["ProcessingJobName"], "resources": resources,
           "env": os.environ.get("MY_SETTING"), "python": sys.executable, "inputs": inputs,
           "output_dir_exists": os.path.isdir("/opt/ml/processing/output/summary")}
os.makedirs("/opt/ml/processing/output/summary", exist_ok=True)
with open(f"/opt/ml/processing/output/summary/{resources['current_host']}.json", "w") as f:
    json.dump(summary, f)
os.symlink("/etc/hostname", "/opt/ml/processing/output/summary/link.txt")  # not uploaded
print("contract ok", resources["current_host"], flush=True)
"""


@pytest.fixture(scope="module")
def bucket(server):
    s3 = server.client("s3")
    name = f"processing-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name)
    for i in range(5):
        s3.put_object(Bucket=name, Key=f"data/part-{i}.csv", Body=f"{i},x\n".encode())
    s3.put_object(Bucket=name, Key="gz/a.csv.gz", Body=gzip.compress(b"inflated\n"))
    s3.put_object(
        Bucket=name,
        Key="manifest.json",
        Body=json.dumps([{"prefix": f"s3://{name}/data/"}, "part-1.csv", "part-3.csv"]).encode(),
    )
    return name


def _code(server, bucket: str, script: str) -> str:
    key = f"code/{uuid.uuid4().hex[:8]}/script.py"
    server.client("s3").put_object(Bucket=bucket, Key=key, Body=script.encode())
    return f"s3://{bucket}/{key}"


def _request(
    server,
    bucket: str,
    script: str,
    name: str | None = None,
    inputs: list | None = None,
    count: int = 1,
    **extra,
) -> dict:
    name = name or f"proc-{uuid.uuid4().hex[:10]}"
    return {
        "ProcessingJobName": name,
        "ProcessingResources": {
            "ClusterConfig": {"InstanceCount": count, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 30}
        },
        "AppSpecification": {
            "ImageUri": SKLEARN_IMAGE,
            "ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/script.py"],
        },
        "RoleArn": ROLE,
        "ProcessingInputs": (inputs or [])
        + [processing_input("code", _code(server, bucket, script), "/opt/ml/processing/input/code")],
        "ProcessingOutputConfig": {
            "Outputs": [
                processing_output(
                    "summary", f"s3://{bucket}/out/{name}/summary", "/opt/ml/processing/output/summary"
                )
            ]
        },
        **extra,
    }


def wait_processing(sm, name: str, timeout: float = 120.0) -> dict:
    terminal = ("Completed", "Failed", "Stopped")
    wait_for(
        lambda: sm.describe_processing_job(ProcessingJobName=name)["ProcessingJobStatus"] in terminal,
        timeout=timeout,
        message=f"processing job {name} to finish",
    )
    return sm.describe_processing_job(ProcessingJobName=name)


def _summaries(server, bucket: str, name: str) -> dict:
    s3 = server.client("s3")
    listing = s3.list_objects_v2(Bucket=bucket, Prefix=f"out/{name}/summary/").get("Contents", [])
    assert not any(o["Key"].endswith("/link.txt") for o in listing)  # symbolic links are not followed
    return {
        o["Key"].rsplit("/", 1)[-1]: json.loads(s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read())
        for o in listing
    }


def test_container_contract_inputs_outputs_and_describe(server, bucket):
    sm = server.client("sagemaker")
    request = _request(
        server,
        bucket,
        CONTRACT,
        inputs=[
            processing_input("data", f"s3://{bucket}/data/", "/opt/ml/processing/input/data"),
            {
                "InputName": "listed",
                "S3Input": {
                    "S3Uri": f"s3://{bucket}/manifest.json",
                    "LocalPath": "/opt/ml/processing/input/listed",
                    "S3DataType": "ManifestFile",
                    "S3InputMode": "File",
                },
            },
            processing_input(
                "zipped",
                f"s3://{bucket}/gz/",
                "/opt/ml/processing/input/zipped",
                S3InputMode="Pipe",
                S3CompressionType="Gzip",
            ),
        ],
        Environment={"MY_SETTING": "on"},
        Tags=[{"Key": "team", "Value": "data"}],
        ExperimentConfig={"ExperimentName": "exp-a", "TrialName": "trial-a"},
        NetworkConfig={"EnableInterContainerTrafficEncryption": False, "EnableNetworkIsolation": False},
    )
    request["AppSpecification"]["ContainerArguments"] = ["--split", "0.2"]
    name = request["ProcessingJobName"]
    arn = sm.create_processing_job(**request)["ProcessingJobArn"]
    assert arn.endswith(f":processing-job/{name.lower()}")
    desc = wait_processing(sm, name)
    assert desc["ProcessingJobStatus"] == "Completed", desc.get("FailureReason")
    # Echoed exactly as sent, defaults only where AWS gives them.
    assert desc["ProcessingInputs"] == request["ProcessingInputs"]
    assert desc["ProcessingOutputConfig"] == request["ProcessingOutputConfig"]
    assert desc["StoppingCondition"] == {"MaxRuntimeInSeconds": 86400}
    assert desc["Environment"] == {"MY_SETTING": "on"}
    assert desc["ExperimentConfig"] == {"ExperimentName": "exp-a", "TrialName": "trial-a"}
    assert desc["NetworkConfig"]["EnableNetworkIsolation"] is False
    assert desc["ProcessingStartTime"] <= desc["ProcessingEndTime"] <= desc["LastModifiedTime"]
    assert desc["CreationTime"] <= desc["ProcessingStartTime"]
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "data"}]
    summary = _summaries(server, bucket, name)["algo-1.json"]
    assert summary["argv"] == ["--split", "0.2"]
    assert summary["config_name"] == name
    assert summary["resources"] == {"current_host": "algo-1", "hosts": ["algo-1"]}
    assert summary["env"] == "on"
    assert summary["output_dir_exists"] is True
    inputs = summary["inputs"]
    assert {k: v for k, v in inputs.items() if k.startswith("data/")} == {
        f"data/part-{i}.csv": f"{i},x\n" for i in range(5)
    }
    assert {k for k in inputs if k.startswith("listed/")} == {"listed/part-1.csv", "listed/part-3.csv"}
    assert not any(k.startswith("zipped") for k in inputs)  # a Pipe input is FIFOs, no files
    assert inputs["code/script.py"] == CONTRACT
    # Logs: one stream per instance, <job>/algo-1-<epoch>.
    logs = server.client("logs")
    streams = logs.describe_log_streams(
        logGroupName="/aws/sagemaker/ProcessingJobs", logStreamNamePrefix=name + "/"
    )["logStreams"]
    assert len(streams) == 1 and streams[0]["logStreamName"].startswith(f"{name}/algo-1-")
    events = logs.get_log_events(
        logGroupName="/aws/sagemaker/ProcessingJobs", logStreamName=streams[0]["logStreamName"]
    )["events"]
    assert any("contract ok algo-1" in e["message"] for e in events)


PIPE_READER = r"""
import json, os, stat
base = "/opt/ml/processing/input/"
result = {"fifo": stat.S_ISFIFO(os.stat(base + "stream_0").st_mode), "no_dir": not os.path.exists(base + "stream")}
for epoch in range(2):  # each epoch streams every object once, in order
    with open(base + f"stream_{epoch}", "rb") as pipe:
        result[f"epoch{epoch}"] = pipe.read().decode()
with open(base + "zipped_0", "rb") as pipe:
    result["zipped"] = pipe.read().decode()
os.makedirs("/opt/ml/processing/output/summary", exist_ok=True)
json.dump(result, open("/opt/ml/processing/output/summary/algo-1.json", "w"))
"""


def test_pipe_inputs_stream_through_fifos(server, bucket):
    """S3InputMode Pipe: a FIFO ``<LocalPath>_<epoch>`` per pass, fed by the training Pipe-mode feeder;
    Gzip objects arrive decompressed."""
    s3 = server.client("s3")
    for i in range(3):
        s3.put_object(Bucket=bucket, Key=f"gzmany/part-{i}.gz", Body=gzip.compress(f"gz{i};".encode()))
    sm = server.client("sagemaker")
    request = _request(
        server,
        bucket,
        PIPE_READER,
        inputs=[
            processing_input(
                "stream", f"s3://{bucket}/data/", "/opt/ml/processing/input/stream", S3InputMode="Pipe"
            ),
            processing_input(
                "zipped",
                f"s3://{bucket}/gzmany/",
                "/opt/ml/processing/input/zipped/",
                S3InputMode="Pipe",
                S3CompressionType="Gzip",
            ),
        ],
    )
    name = request["ProcessingJobName"]
    sm.create_processing_job(**request)
    desc = wait_processing(sm, name)
    assert desc["ProcessingJobStatus"] == "Completed", desc.get("FailureReason")
    summary = _summaries(server, bucket, name)["algo-1.json"]
    everything = "".join(f"{i},x\n" for i in range(5))
    assert summary == {
        "fifo": True,
        "no_dir": True,
        "epoch0": everything,
        "epoch1": everything,
        "zipped": "gz0;gz1;gz2;",
    }


def test_two_instances_sharded_by_key_get_disjoint_shares(server, bucket):
    sm = server.client("sagemaker")
    request = _request(
        server,
        bucket,
        CONTRACT,
        count=2,
        inputs=[
            processing_input(
                "data",
                f"s3://{bucket}/data",
                "/opt/ml/processing/input/data",
                S3DataDistributionType="ShardedByS3Key",
            )
        ],
    )
    name = request["ProcessingJobName"]
    sm.create_processing_job(**request)
    desc = wait_processing(sm, name)
    assert desc["ProcessingJobStatus"] == "Completed", desc.get("FailureReason")
    summaries = _summaries(server, bucket, name)
    assert set(summaries) == {"algo-1.json", "algo-2.json"}
    shares = [{k for k in s["inputs"] if k.startswith("data/")} for s in summaries.values()]
    assert shares[0] and shares[1] and not shares[0] & shares[1]
    assert shares[0] | shares[1] == {f"data/part-{i}.csv" for i in range(5)}
    for host, summary in summaries.items():
        assert summary["resources"] == {"current_host": host[:-5], "hosts": ["algo-1", "algo-2"]}
        assert "code/script.py" in summary["inputs"]  # FullyReplicated: every instance
        assert summary["resolved"] == {"algo-1": "127.0.0.1", "algo-2": "127.0.0.1"}  # host names resolve
    streams = server.client("logs").describe_log_streams(
        logGroupName="/aws/sagemaker/ProcessingJobs", logStreamNamePrefix=name + "/"
    )["logStreams"]
    assert [s["logStreamName"].split("/")[1].rsplit("-", 1)[0] for s in streams] == ["algo-1", "algo-2"]


FAILING = r"""
import os
os.makedirs("/opt/ml/output", exist_ok=True)
open("/opt/ml/output/message", "w").write("bad row 17 in input")
raise ValueError("the input has a bad row")
"""


def test_failing_script_fails_with_reason_and_exit_message(server, bucket):
    sm = server.client("sagemaker")
    request = _request(server, bucket, FAILING)
    name = request["ProcessingJobName"]
    sm.create_processing_job(**request)
    desc = wait_processing(sm, name)
    assert desc["ProcessingJobStatus"] == "Failed"
    assert desc["FailureReason"].startswith("AlgorithmError: ")
    assert "ValueError: the input has a bad row" in desc["FailureReason"]
    assert desc["ExitMessage"] == "bad row 17 in input"
    summary = sm.list_processing_jobs(NameContains=name)["ProcessingJobSummaries"][0]
    assert summary["ProcessingJobStatus"] == "Failed"
    assert summary["ExitMessage"] == "bad row 17 in input"
    assert "ValueError" in summary["FailureReason"]


SLOW = "import time\nprint('sleeping', flush=True)\ntime.sleep(120)\n"


def test_stop_and_delete(server, bucket):
    sm = server.client("sagemaker")
    request = _request(server, bucket, SLOW)
    name = request["ProcessingJobName"]
    sm.create_processing_job(**request)
    with pytest.raises(botocore.exceptions.ClientError) as err:
        sm.delete_processing_job(ProcessingJobName=name)
    assert err.value.response["Error"]["Code"] == "ResourceInUse"
    wait_for(lambda: "ProcessingStartTime" in sm.describe_processing_job(ProcessingJobName=name), timeout=60)
    sm.stop_processing_job(ProcessingJobName=name)
    assert sm.describe_processing_job(ProcessingJobName=name)["ProcessingJobStatus"] in (
        "Stopping",
        "Stopped",
    )
    desc = wait_processing(sm, name, timeout=60)
    assert desc["ProcessingJobStatus"] == "Stopped"
    with pytest.raises(botocore.exceptions.ClientError) as err:
        sm.stop_processing_job(ProcessingJobName=name)
    assert err.value.response["Error"]["Code"] == "ValidationException"
    sm.delete_processing_job(ProcessingJobName=name)
    with pytest.raises(botocore.exceptions.ClientError) as err:
        sm.describe_processing_job(ProcessingJobName=name)
    assert err.value.response["Error"]["Code"] == "ValidationException"
    assert "Could not find requested job" in err.value.response["Error"]["Message"]
    for call in (sm.stop_processing_job, sm.delete_processing_job):
        with pytest.raises(botocore.exceptions.ClientError) as err:
            call(ProcessingJobName=name)
        assert err.value.response["Error"]["Code"] == "ResourceNotFound"


def test_max_runtime_stops_the_job(server, bucket):
    sm = server.client("sagemaker")
    request = _request(server, bucket, SLOW, StoppingCondition={"MaxRuntimeInSeconds": 2})
    sm.create_processing_job(**request)
    desc = wait_processing(sm, request["ProcessingJobName"], timeout=60)
    assert desc["ProcessingJobStatus"] == "Stopped"
    assert "MaxRuntimeInSeconds" in desc["FailureReason"]


# (Spark images without pyspark or java fail clearly too: tests/processing/test_sdk_processing.py checks
# that where they are missing, and runs a real Spark where they are installed, as `make test` does.)
@pytest.mark.parametrize(
    "image, words",
    [
        # with podman/docker it is a container image not built locally (tests/containers run real ones)
        ("my-registry.example.com/custom:latest", ("no container runtime is available", "Build or tag it")),
    ],
)
def test_images_that_cannot_run_fail_clearly(server, bucket, image, words):
    sm = server.client("sagemaker")
    request = _request(server, bucket, "print('never')")
    request["AppSpecification"]["ImageUri"] = image
    sm.create_processing_job(**request)
    desc = wait_processing(sm, request["ProcessingJobName"], timeout=60)
    assert desc["ProcessingJobStatus"] == "Failed"
    assert any(word in desc["FailureReason"] for word in words)


def test_dataset_definition_fails_naming_the_service(server, bucket):
    sm = server.client("sagemaker")
    athena = {
        "InputName": "query",
        "AppManaged": False,
        "DatasetDefinition": {
            "AthenaDatasetDefinition": {
                "Catalog": "AwsDataCatalog",
                "Database": "db",
                "QueryString": "select 1",
                "OutputS3Uri": f"s3://{bucket}/athena/",
                "OutputFormat": "PARQUET",
            },
            "LocalPath": "/opt/ml/processing/input/athena",
            "DataDistributionType": "FullyReplicated",
            "InputMode": "File",
        },
    }
    request = _request(server, bucket, "print('never')", inputs=[athena])
    sm.create_processing_job(**request)
    desc = wait_processing(sm, request["ProcessingJobName"], timeout=60)
    assert desc["ProcessingJobStatus"] == "Failed"
    assert "Amazon Athena" in desc["FailureReason"]
    assert desc["ProcessingInputs"][0] == athena


def _error(call, **params) -> dict:
    with pytest.raises(botocore.exceptions.ClientError) as err:
        call(**params)
    return err.value.response


@pytest.mark.parametrize(
    "change, words",
    [
        (lambda r: r.update(ProcessingJobName="bad_name!"), "failed to satisfy constraint"),
        (lambda r: r["ProcessingInputs"][0]["S3Input"].update(LocalPath="/tmp/code"), "/opt/ml/processing/"),
        (
            lambda r: r["ProcessingInputs"].append(dict(r["ProcessingInputs"][0])),
            "Input names must be unique",
        ),
        (
            lambda r: r["ProcessingInputs"].append({**r["ProcessingInputs"][0], "InputName": "other"}),
            "each input needs its own LocalPath",
        ),
        (lambda r: r["ProcessingInputs"][0]["S3Input"].update(S3CompressionType="Gzip"), "Pipe"),
        (
            lambda r: r["ProcessingOutputConfig"]["Outputs"][0].update(
                FeatureStoreOutput={"FeatureGroupName": "fg"}
            ),
            "exactly one of S3Output and FeatureStoreOutput",
        ),
        (lambda r: r["ProcessingOutputConfig"].update(KmsKeyId="alias/no-such-key"), "Invalid KmsKeyId"),
        (lambda r: r["AppSpecification"].pop("ImageUri"), "ImageUri"),
        (lambda r: r.pop("RoleArn"), "RoleArn"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_created(server, bucket, change, words):
    sm = server.client("sagemaker")
    request = _request(server, bucket, "print('x')")
    change(request)
    try:
        response = _error(sm.create_processing_job, **request)
    except botocore.exceptions.ParamValidationError as exc:  # boto3 checks required members itself
        assert words in str(exc)
        return
    assert response["Error"]["Code"] == "ValidationException"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert words in response["Error"]["Message"]
    assert (
        not sm.list_processing_jobs(NameContains=request.get("ProcessingJobName", "x"))[
            "ProcessingJobSummaries"
        ]
        or request.get("ProcessingJobName") == "bad_name!"
    )


def test_duplicate_name_is_resource_in_use(server, bucket):
    sm = server.client("sagemaker")
    request = _request(server, bucket, "print('once')")
    sm.create_processing_job(**request)
    response = _error(sm.create_processing_job, **request)
    assert response["Error"]["Code"] == "ResourceInUse"
    assert (
        request["ProcessingJobName"] in response["Error"]["Message"]
        or request["ProcessingJobName"].lower() in response["Error"]["Message"]
    )
    wait_processing(sm, request["ProcessingJobName"])


def test_list_filters_and_sorting(server, bucket):
    sm = server.client("sagemaker")
    tag = uuid.uuid4().hex[:6]
    names = [f"listed-{tag}-{i}" for i in range(3)]
    for name in names:
        sm.create_processing_job(**_request(server, bucket, "print('listed')", name=name))
    for name in names:
        wait_processing(sm, name)
    found = sm.list_processing_jobs(NameContains=tag, SortBy="Name", SortOrder="Ascending")
    assert [s["ProcessingJobName"] for s in found["ProcessingJobSummaries"]] == names
    found = sm.list_processing_jobs(NameContains=tag, SortBy="CreationTime", SortOrder="Descending")
    assert [s["ProcessingJobName"] for s in found["ProcessingJobSummaries"]] == names[::-1]
    assert sm.list_processing_jobs(NameContains=tag, StatusEquals="Failed")["ProcessingJobSummaries"] == []
    # Timestamps travel with millisecond precision: the next millisecond is after names[1].
    created = sm.describe_processing_job(ProcessingJobName=names[1])["CreationTime"] + dt.timedelta(
        milliseconds=1
    )
    after = sm.list_processing_jobs(NameContains=tag, CreationTimeAfter=created)["ProcessingJobSummaries"]
    assert {s["ProcessingJobName"] for s in after} == {names[2]}


def test_server_restart_fails_a_running_job_clearly(fresh_server):
    server = fresh_server
    s3, sm = server.client("s3"), server.client("sagemaker")
    s3.create_bucket(Bucket="restart")
    request = _request(server, "restart", SLOW)
    name = request["ProcessingJobName"]
    sm.create_processing_job(**request)
    wait_for(lambda: "ProcessingStartTime" in sm.describe_processing_job(ProcessingJobName=name), timeout=60)
    server.restart(sig="KILL")
    desc = wait_processing(server.client("sagemaker"), name, timeout=30)
    assert desc["ProcessingJobStatus"] == "Failed"
    assert "server stopped" in desc["FailureReason"]
    assert desc["ProcessingEndTime"] >= desc["ProcessingStartTime"]


CONTINUOUS = r"""
import os, time
os.makedirs("/opt/ml/processing/output/summary", exist_ok=True)
open("/opt/ml/processing/output/summary/early.txt", "w").write("written while running")
print("wrote early.txt", flush=True)
time.sleep(120)
"""


def test_continuous_output_is_uploaded_while_the_job_runs(server, bucket):
    sm, s3 = server.client("sagemaker"), server.client("s3")
    request = _request(server, bucket, CONTINUOUS)
    request["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3UploadMode"] = "Continuous"
    name = request["ProcessingJobName"]
    sm.create_processing_job(**request)
    key = f"out/{name}/summary/early.txt"
    wait_for(
        lambda: s3.list_objects_v2(Bucket=bucket, Prefix=key).get("KeyCount", 0) == 1,
        timeout=60,
        message="the continuous output in S3",
    )
    assert sm.describe_processing_job(ProcessingJobName=name)["ProcessingJobStatus"] == "InProgress"
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"written while running"
    sm.stop_processing_job(ProcessingJobName=name)
    assert wait_processing(sm, name, timeout=60)["ProcessingJobStatus"] == "Stopped"


def test_app_managed_inputs_and_feature_store_output_are_echoed_and_left_to_the_app(server, bucket):
    """The SDK integ test's shape: an AppManaged Athena DatasetDefinition, an S3Input without defaults and a
    FeatureStoreOutput; the platform moves none of them and the job runs."""
    sm = server.client("sagemaker")
    inputs = [
        {
            "InputName": "athena",
            "AppManaged": True,
            "DatasetDefinition": {
                "AthenaDatasetDefinition": {
                    "Catalog": "AwsDataCatalog",
                    "Database": "db",
                    "QueryString": "select 1",
                    "OutputS3Uri": f"s3://{bucket}/athena/",
                    "OutputFormat": "PARQUET",
                    "WorkGroup": "primary",
                },
                "LocalPath": "/opt/ml/processing/input/athena",
                "DataDistributionType": "FullyReplicated",
                "InputMode": "File",
            },
        },
        {
            "InputName": "plain",
            "AppManaged": False,
            "S3Input": {
                "S3Uri": f"s3://{bucket}/data/part-0.csv",
                "LocalPath": "/opt/ml/processing/input/plain",
                "S3DataType": "S3Prefix",
                "S3InputMode": "File",
            },
        },
    ]
    request = _request(server, bucket, CONTRACT, inputs=inputs)
    request["ProcessingOutputConfig"]["Outputs"].append(
        {"OutputName": "features", "AppManaged": True, "FeatureStoreOutput": {"FeatureGroupName": "fg"}}
    )
    request["ProcessingOutputConfig"]["KmsKeyId"] = server.client("kms").create_key()["KeyMetadata"]["Arn"]
    name = request["ProcessingJobName"]
    sm.create_processing_job(**request)
    desc = wait_processing(sm, name)
    assert desc["ProcessingJobStatus"] == "Completed", desc.get("FailureReason")
    assert desc["ProcessingInputs"] == request["ProcessingInputs"]
    assert desc["ProcessingOutputConfig"] == request["ProcessingOutputConfig"]
    summary = _summaries(server, bucket, name)["algo-1.json"]
    assert summary["inputs"]["plain/part-0.csv"] == "0,x\n"
    assert not any(k.startswith("athena/") for k in summary["inputs"])


def test_processing_and_training_jobs_share_one_capacity(tmp_path):
    """One CPU budget for every job kind: with one CPU, a processing job waits for a running training job."""
    from helpers import tar_gz
    from sagestack.local_server import ServerProcess

    server = ServerProcess(tmp_path / "data")
    server.extra_args = ["--max-cpus", "1"]
    server.start()
    try:
        s3, sm = server.client("s3"), server.client("sagemaker")
        s3.create_bucket(Bucket="shared")
        s3.put_object(Bucket="shared", Key="train/x.csv", Body=b"1\n")
        s3.put_object(
            Bucket="shared",
            Key="code/sourcedir.tar.gz",
            Body=tar_gz({"train.py": b"import time\ntime.sleep(120)\n"}),
        )
        sm.create_training_job(
            TrainingJobName="holds-the-cpu",
            RoleArn=ROLE,
            AlgorithmSpecification={"TrainingImage": SKLEARN_IMAGE, "TrainingInputMode": "File"},
            HyperParameters={
                "sagemaker_program": '"train.py"',
                "sagemaker_submit_directory": '"s3://shared/code/sourcedir.tar.gz"',
            },
            InputDataConfig=[
                {
                    "ChannelName": "train",
                    "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://shared/train/"}},
                }
            ],
            OutputDataConfig={"S3OutputPath": "s3://shared/out"},
            ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
            StoppingCondition={"MaxRuntimeInSeconds": 600},
        )
        wait_for(
            lambda: (
                sm.describe_training_job(TrainingJobName="holds-the-cpu")["SecondaryStatus"] == "Training"
            ),
            timeout=60,
        )
        request = _request(server, "shared", "print('ran after the training job')")
        name = request["ProcessingJobName"]
        sm.create_processing_job(**request)
        import time

        time.sleep(2)
        desc = sm.describe_processing_job(ProcessingJobName=name)
        assert desc["ProcessingJobStatus"] == "InProgress" and "ProcessingStartTime" not in desc  # queued
        sm.stop_training_job(TrainingJobName="holds-the-cpu")
        assert wait_processing(sm, name, timeout=60)["ProcessingJobStatus"] == "Completed"
    finally:
        server.stop()


ISOLATED = r"""
import json, os, socket, sys
port = int(sys.argv[1])
try:
    socket.create_connection(("127.0.0.1", port), timeout=2).close()
    reached = True
except OSError:
    reached = False
os.makedirs("/opt/ml/processing/output/summary", exist_ok=True)
json.dump({"reached": reached}, open("/opt/ml/processing/output/summary/algo-1.json", "w"))
"""


@pytest.mark.parametrize("isolated", [True, False])
def test_network_isolation(server, bucket, isolated):
    sm = server.client("sagemaker")
    request = _request(server, bucket, ISOLATED, NetworkConfig={"EnableNetworkIsolation": isolated})
    request["AppSpecification"]["ContainerArguments"] = [str(server.port)]
    sm.create_processing_job(**request)
    desc = wait_processing(sm, request["ProcessingJobName"])
    assert desc["ProcessingJobStatus"] == "Completed", desc.get("FailureReason")
    assert _summaries(server, bucket, request["ProcessingJobName"])["algo-1.json"] == {
        "reached": not isolated
    }


BUSY = r"""
import time
block = bytearray(64 * 1024 * 1024)  # resident memory
end = time.time() + 7
while time.time() < end:
    sum(range(10000))
"""


def test_instance_metrics_are_published_per_host(server, bucket):
    """CPUUtilization, MemoryUtilization and DiskUtilization in /aws/sagemaker/ProcessingJobs, one Host
    dimension (<job>/algo-<n>) per instance."""
    sm = server.client("sagemaker")
    request = _request(server, bucket, BUSY, count=2)
    name = request["ProcessingJobName"]
    sm.create_processing_job(**request)
    assert wait_processing(sm, name)["ProcessingJobStatus"] == "Completed"
    cw = server.client("cloudwatch")
    listed = cw.list_metrics(Namespace="/aws/sagemaker/ProcessingJobs")["Metrics"]
    mine = {
        (m["MetricName"], m["Dimensions"][0]["Value"])
        for m in listed
        if m["Dimensions"] and m["Dimensions"][0]["Value"].startswith(name + "/")
    }
    assert mine == {
        (metric, f"{name}/{host}")
        for metric in ("CPUUtilization", "MemoryUtilization", "DiskUtilization")
        for host in ("algo-1", "algo-2")
    }
    now = dt.datetime.now(dt.timezone.utc)
    queries = [
        {
            "Id": f"m{i}",
            "MetricStat": {
                "Metric": {
                    "Namespace": "/aws/sagemaker/ProcessingJobs",
                    "MetricName": metric,
                    "Dimensions": [{"Name": "Host", "Value": f"{name}/algo-1"}],
                },
                "Period": 60,
                "Stat": "Maximum",
            },
        }
        for i, metric in enumerate(("CPUUtilization", "MemoryUtilization", "DiskUtilization"))
    ]
    result = cw.get_metric_data(
        MetricDataQueries=queries,
        StartTime=now - dt.timedelta(minutes=10),
        EndTime=now + dt.timedelta(minutes=1),
    )["MetricDataResults"]
    peak = {r["Id"]: max(r["Values"]) for r in result}
    assert peak["m0"] > 10  # the busy loop
    memory_of_m5_large = 8 * 1024  # MiB
    assert peak["m1"] >= 100 * 64 / memory_of_m5_large  # the 64 MiB block, at least
    assert 0 < peak["m2"] < 100  # the script and the config files under /opt/ml
