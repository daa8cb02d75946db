"""What a job's code can reach (job_sandbox.py): with the server as root, training and processing
jobs run as an unprivileged user with their own /tmp, and the data dir's secrets are out of their sight;
SAGESTACK_JOB_USER=root keeps the server's user."""

from __future__ import annotations

import gzip
import json
import os
import uuid
from pathlib import Path

import pytest

from helpers import (
    ROLE,
    SKLEARN_IMAGE,
    processing_input,
    processing_output,
    read_tar_gz,
    sandbox_tmp_entries,
    script_training_job,
    tar_gz,
    wait_for,
    wait_training,
)
from sagestack.local_server import ServerProcess

pytestmark = pytest.mark.skipif(
    os.name != "posix" or os.geteuid() != 0, reason="a job changes user only where the server runs as root"
)

PROBE = r"""
import json, os, sys
data_dir = os.environ["PROBE_DATA_DIR"]
report = {"uid": os.getuid(), "gid": os.getgid(), "groups": os.getgroups(), "home": os.environ.get("HOME"),
          "tmpdir": os.environ.get("TMPDIR"), "tmp": sorted(os.listdir("/tmp")),
          "host_marker": os.path.exists(os.environ["PROBE_MARKER"])}
for name in ("credentials", "metadata.db"):
    try:
        open(os.path.join(data_dir, name), "rb").read(1)
        report[name] = "read"
    except OSError as exc:
        report[name] = type(exc).__name__
try:
    report["data_dir"] = sorted(os.listdir(data_dir))
except OSError as exc:
    report["data_dir"] = type(exc).__name__
for key, path in (("jobs", ""), ("region_jobs", "000000000000/us-east-1")):
    try:
        report[key] = sorted(os.listdir(os.path.join(os.environ["PROBE_JOBS"], path)))
    except OSError as exc:
        report[key] = type(exc).__name__
with open(os.path.join("/tmp", os.environ["PROBE_TMP_FILE"]), "w") as f:
    f.write("left in /tmp")
import tempfile
with tempfile.NamedTemporaryFile(dir=None) as f:
    report["tempfile"] = f.name
os.makedirs("/opt/ml/output/data", exist_ok=True)
open("/opt/ml/output/data/out.txt", "w").write("output")
json.dump(report, open("/opt/ml/model/report.json", "w"))
print("probe", json.dumps(report), flush=True)
"""


@pytest.fixture(scope="module")
def root_server(tmp_path_factory):
    """A server whose jobs keep its user (SAGESTACK_JOB_USER=root)."""
    proc = ServerProcess(
        tmp_path_factory.mktemp("rootjobs") / "data", extra_env={"SAGESTACK_JOB_USER": "root"}
    )
    proc.start()
    yield proc
    proc.stop()


def _run_probe(server, script: str = PROBE, expect: str = "Completed") -> tuple[dict, dict, str, Path]:
    s3, sm = server.client("s3"), server.client("sagemaker")
    bucket = f"sandbox-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="data/train/a.csv", Body=b"1,2\n")
    s3.put_object(Bucket=bucket, Key="code/sourcedir.tar.gz", Body=tar_gz({"train.py": script.encode()}))
    marker = Path("/tmp") / f"sagestack-host-marker-{uuid.uuid4().hex[:8]}"
    marker.write_text("on the host")
    tmp_file = f"sagestack-job-file-{uuid.uuid4().hex[:8]}"
    name = f"sandbox-{uuid.uuid4().hex[:10]}"
    data_dir = server.data_dir.resolve()
    try:
        sm.create_training_job(
            **script_training_job(name, bucket, "code/sourcedir.tar.gz"),
            Environment={
                "PROBE_DATA_DIR": str(data_dir),
                "PROBE_JOBS": str(data_dir / "jobs" / "training"),
                "PROBE_MARKER": str(marker),
                "PROBE_TMP_FILE": tmp_file,
            },
        )
        desc = wait_training(sm, name)
        assert desc["TrainingJobStatus"] == expect, desc.get("FailureReason")
    finally:
        marker.unlink()
    if expect != "Completed":
        return {}, desc, "", Path("/tmp") / tmp_file
    model = read_tar_gz(s3.get_object(Bucket=bucket, Key=f"output/{name}/output/model.tar.gz")["Body"].read())
    output = read_tar_gz(
        s3.get_object(Bucket=bucket, Key=f"output/{name}/output/output.tar.gz")["Body"].read()
    )
    assert output["out.txt"] == b"output"
    logs = server.client("logs")
    stream = wait_for(
        lambda: logs.describe_log_streams(
            logGroupName="/aws/sagemaker/TrainingJobs", logStreamNamePrefix=name
        )["logStreams"],
        message="log stream",
    )[0]["logStreamName"]
    events = logs.get_log_events(
        logGroupName="/aws/sagemaker/TrainingJobs", logStreamName=stream, startFromHead=True
    )["events"]
    log = "\n".join(e["message"] for e in events)
    return json.loads(model["report.json"]), desc, log, Path("/tmp") / tmp_file


def test_job_code_runs_as_nobody_with_its_own_tmp_and_no_secrets(server):
    report, _, log, host_file = _run_probe(server)
    assert report["uid"] != 0 and report["gid"] != 0 and report["groups"] == []
    assert report["uid"] == 65534  # the default SAGESTACK_JOB_USER, nobody
    assert "runs as the user nobody" in log
    # /tmp: the job's own, empty at start but for the folders leading to what it needs; gone afterwards.
    assert set(report["tmp"]) <= sandbox_tmp_entries(server.data_dir), report["tmp"]
    assert report["host_marker"] is False
    assert report["tmpdir"] == "/tmp" and report["tempfile"].startswith("/tmp/")
    assert not host_file.exists()
    # The data dir: no key pair, no store, no other job's directory.
    assert report["credentials"] in ("FileNotFoundError", "PermissionError")
    assert report["metadata.db"] in ("FileNotFoundError", "PermissionError")
    assert set(report["data_dir"]) <= {"client", "jobs"}, report["data_dir"]
    assert report["jobs"] == ["000000000000"]
    assert report["home"] and report["home"] != "/root"


def test_other_jobs_directories_are_not_visible(server):
    _, first, _, _ = _run_probe(server)
    report, second, _, _ = _run_probe(server)
    # The second job sees the path down to its own directory only, not the first job's beside it.
    assert report["region_jobs"] == [second["TrainingJobName"]]
    region = server.data_dir / "jobs" / "training" / "000000000000" / "us-east-1"
    assert (region / first["TrainingJobName"]).exists()  # on the host both are there


def test_setting_root_keeps_the_servers_user(root_server):
    report, _, log, host_file = _run_probe(root_server)
    assert report["uid"] == 0
    assert "root (SAGESTACK_JOB_USER is root or empty)" in log
    # /tmp is still the job's own.
    assert report["host_marker"] is False and not host_file.exists()
    assert report["credentials"] == "FileNotFoundError"


PROCESSING_PROBE = r"""
import json, os
report = {"uid": os.getuid(), "tmp_marker": os.path.exists(os.environ["PROBE_MARKER"]),
          "credentials": os.path.exists(os.path.join(os.environ["PROBE_DATA_DIR"], "credentials"))}
open(os.path.join("/tmp", os.environ["PROBE_TMP_FILE"]), "w").write("scratch")
os.makedirs("/opt/ml/processing/out", exist_ok=True)
json.dump(report, open("/opt/ml/processing/out/report.json", "w"))
"""


def test_processing_job_runs_as_nobody_with_its_own_tmp(server):
    s3, sm = server.client("s3"), server.client("sagemaker")
    bucket = f"sandbox-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    marker = Path("/tmp") / f"sagestack-host-marker-{uuid.uuid4().hex[:8]}"
    marker.write_text("on the host")
    name = f"sandbox-proc-{uuid.uuid4().hex[:8]}"
    tmp_file = f"sagestack-job-file-{uuid.uuid4().hex[:8]}"
    s3.put_object(Bucket=bucket, Key="code/probe.py", Body=PROCESSING_PROBE.encode())
    try:
        sm.create_processing_job(
            ProcessingJobName=name,
            RoleArn=ROLE,
            AppSpecification={
                "ImageUri": SKLEARN_IMAGE,
                "ContainerEntrypoint": ["python3", "/opt/ml/processing/code/probe.py"],
            },
            ProcessingResources={
                "ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 1}
            },
            ProcessingInputs=[processing_input("code", f"s3://{bucket}/code", "/opt/ml/processing/code")],
            ProcessingOutputConfig={
                "Outputs": [processing_output("out", f"s3://{bucket}/out", "/opt/ml/processing/out")]
            },
            Environment={
                "PROBE_MARKER": str(marker),
                "PROBE_DATA_DIR": str(server.data_dir.resolve()),
                "PROBE_TMP_FILE": tmp_file,
            },
        )
        desc = wait_for(
            lambda: (
                (d := sm.describe_processing_job(ProcessingJobName=name))["ProcessingJobStatus"]
                in ("Completed", "Failed", "Stopped")
                and d
            ),
            timeout=120,
            message="processing job",
        )
        assert desc["ProcessingJobStatus"] == "Completed", desc.get("FailureReason")
    finally:
        marker.unlink()
    report = json.loads(s3.get_object(Bucket=bucket, Key="out/report.json")["Body"].read())
    assert report == {"uid": 65534, "tmp_marker": False, "credentials": False}
    assert not (Path("/tmp") / tmp_file).exists()


LINKER = r"""
import os, sys
secret = os.path.join(os.environ["PROBE_DATA_DIR"], "credentials")
os.makedirs("/opt/ml/output/data", exist_ok=True)
os.symlink(secret, "/opt/ml/model/creds")
os.symlink(secret, "/opt/ml/output/data/creds")
open("/opt/ml/model/report.json", "w").write("{}")
open("/opt/ml/output/data/out.txt", "w").write("output")
if os.environ.get("PROBE_FAIL"):
    os.remove("/opt/ml/output/failure") if os.path.exists("/opt/ml/output/failure") else None
    os.symlink(secret, "/opt/ml/output/failure")
    sys.exit(3)
"""


def test_links_a_job_leaves_are_not_followed_by_the_server(server):
    """The job cannot read the key pair; links to it in what the server (root) uploads or reads stay
    links: model.tar.gz and output.tar.gz hold no copy, the FailureReason does not quote it."""
    _, secret = server.credentials()
    s3 = server.client("s3")
    _, desc, _, _ = _run_probe(server, LINKER)
    bucket = desc["OutputDataConfig"]["S3OutputPath"].split("/")[2]
    name = desc["TrainingJobName"]
    for key in (f"output/{name}/output/model.tar.gz", f"output/{name}/output/output.tar.gz"):
        raw = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        assert secret.encode() not in gzip.decompress(raw)
        assert "creds" not in read_tar_gz(raw)
    failing = LINKER.replace('os.environ.get("PROBE_FAIL")', "True")
    _, desc, _, _ = _run_probe(server, failing, expect="Failed")
    assert secret not in desc["FailureReason"]
