"""Bring your own container: a processing job running the user's image (the processing contract:
ContainerEntrypoint + ContainerArguments, inputs and outputs under /opt/ml/processing, the job's Environment, the config files)."""

from __future__ import annotations

import textwrap
import uuid

import pytest

import images
from helpers import ROLE, processing_input, processing_output, wait_for

pytestmark = [pytest.mark.slow]

SCRIPT = textwrap.dedent("""
    import json, os, sys
    config = json.load(open("/opt/ml/config/processingjobconfig.json"))
    numbers = [float(x) for x in open("/opt/ml/processing/input/data/data.csv").read().split()]
    os.makedirs("/opt/ml/processing/output", exist_ok=True)
    with open("/opt/ml/processing/output/sum.json", "w") as out:
        json.dump({"sum": sum(numbers), "args": sys.argv[1:], "job": config["ProcessingJobName"]}, out)
    with open("/opt/ml/processing/output/hello.txt", "w") as out:
        out.write(os.environ["GREETING"])
    print("byoc processing done", flush=True)
""")


def wait_processing(sm, name: str, timeout: float) -> dict:
    terminal = ("Completed", "Failed", "Stopped")
    wait_for(
        lambda: sm.describe_processing_job(ProcessingJobName=name)["ProcessingJobStatus"] in terminal,
        timeout=timeout,
        message=f"processing job {name} to finish",
    )
    return sm.describe_processing_job(ProcessingJobName=name)


def test_processing_job_runs_the_byoc_image(podman_server, podman_bucket, byoc_image):
    import json

    sm, s3 = podman_server.client("sagemaker"), podman_server.client("s3")
    s3.put_object(Bucket=podman_bucket, Key="in/data.csv", Body=b"1\n2\n3\n")
    s3.put_object(Bucket=podman_bucket, Key="code/run.py", Body=SCRIPT.encode())
    name = f"byoc-proc-{uuid.uuid4().hex[:8]}"
    sm.create_processing_job(
        ProcessingJobName=name,
        RoleArn=ROLE,
        AppSpecification={
            "ImageUri": byoc_image,
            "ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/run.py"],
            "ContainerArguments": ["--flag", "x"],
        },
        Environment={"GREETING": "hi"},
        ProcessingInputs=[
            processing_input("data", f"s3://{podman_bucket}/in/", "/opt/ml/processing/input/data"),
            processing_input("code", f"s3://{podman_bucket}/code/", "/opt/ml/processing/input/code"),
        ],
        ProcessingOutputConfig={
            "Outputs": [
                processing_output("result", f"s3://{podman_bucket}/out/result", "/opt/ml/processing/output"),
            ]
        },
        ProcessingResources={
            "ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 1}
        },
        StoppingCondition={"MaxRuntimeInSeconds": 300},
    )
    desc = wait_processing(sm, name, 120)
    assert desc["ProcessingJobStatus"] == "Completed", desc.get("FailureReason")
    result = json.loads(s3.get_object(Bucket=podman_bucket, Key="out/result/sum.json")["Body"].read())
    assert result == {"sum": 6.0, "args": ["--flag", "x"], "job": name}
    assert s3.get_object(Bucket=podman_bucket, Key="out/result/hello.txt")["Body"].read() == b"hi"


EXCHANGE = textwrap.dedent("""
    import json, os, socket, time
    resource = json.load(open("/opt/ml/config/resourceconfig.json"))
    me, first = resource["current_host"], resource["hosts"][0]
    if me == first:  # algo-1 listens, algo-2 connects by name: a message each way
        with socket.create_server(("0.0.0.0", 7071)) as server:
            server.settimeout(30)
            conn, _ = server.accept()
            with conn:
                got = conn.recv(100).decode()
                conn.sendall(b"ack from " + me.encode())
    else:
        deadline, got = time.time() + 30, None
        while got is None:
            try:
                with socket.create_connection((first, 7071), timeout=2) as conn:
                    conn.sendall(b"hello from " + me.encode())
                    got = conn.recv(100).decode()
            except OSError as exc:
                if time.time() > deadline:
                    got = f"failed: {exc}"
                time.sleep(0.2)
    try:
        with socket.create_connection(("10.255.255.1", 80), timeout=2):
            outside = "connected"
    except OSError as exc:
        outside = f"failed: {exc}"
    os.makedirs("/opt/ml/processing/output", exist_ok=True)
    with open(f"/opt/ml/processing/output/{me}.json", "w") as out:
        json.dump({"got": got, "outside": outside, "peer": socket.gethostbyname(first)}, out)
""")


def test_isolated_processing_hosts_reach_each_other_and_nothing_else(
    podman_server, podman_bucket, byoc_image
):
    import json

    sm, s3 = podman_server.client("sagemaker"), podman_server.client("s3")
    s3.put_object(Bucket=podman_bucket, Key="xcode/run.py", Body=EXCHANGE.encode())
    name = f"byoc-proc-{uuid.uuid4().hex[:8]}"
    sm.create_processing_job(
        ProcessingJobName=name,
        RoleArn=ROLE,
        AppSpecification={
            "ImageUri": byoc_image,
            "ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/run.py"],
        },
        ProcessingInputs=[
            processing_input("code", f"s3://{podman_bucket}/xcode/", "/opt/ml/processing/input/code")
        ],
        ProcessingOutputConfig={
            "Outputs": [
                processing_output(
                    "result", f"s3://{podman_bucket}/{name}/result", "/opt/ml/processing/output"
                )
            ]
        },
        ProcessingResources={
            "ClusterConfig": {"InstanceCount": 2, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 1}
        },
        NetworkConfig={"EnableNetworkIsolation": True},
        StoppingCondition={"MaxRuntimeInSeconds": 300},
    )
    desc = wait_processing(sm, name, 120)
    assert desc["ProcessingJobStatus"] == "Completed", desc.get("FailureReason")
    results = {
        host: json.loads(s3.get_object(Bucket=podman_bucket, Key=f"{name}/result/{host}.json")["Body"].read())
        for host in ("algo-1", "algo-2")
    }
    assert results["algo-1"]["got"] == "hello from algo-2" and results["algo-2"]["got"] == "ack from algo-1"
    assert results["algo-1"]["peer"] == results["algo-2"]["peer"] and not results["algo-1"][
        "peer"
    ].startswith("127.")
    assert all(r["outside"].startswith("failed") for r in results.values())
    assert images.job_networks(name) == []  # the job's network went with it
