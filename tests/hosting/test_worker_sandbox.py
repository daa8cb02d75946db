"""What a model's inference code can reach (serving/worker_sandbox.py, job_sandbox.py): with the server as
root, endpoint and batch-transform workers run as an unprivileged user with their own /tmp, and the data
dir's secrets are out of their sight; SAGESTACK_JOB_USER=root keeps the server's user."""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path

import pytest

from helpers import log_text, sandbox_tmp_entries
from hosting_support import ROLE, SKLEARN_IMAGE, Hosting, tar_bytes
from sagestack.local_server import ServerProcess

pytestmark = pytest.mark.skipif(
    os.name != "posix" or os.geteuid() != 0, reason="a worker changes user only where the server runs as root"
)

#: Reports what the inference code sees; model_fn also writes to /tmp (the worker's own).
PROBE_MODEL = r"""
import json, os, tempfile

def model_fn(model_dir):
    with open(os.path.join(model_dir, "tag.txt")) as handle:
        tag = handle.read().strip()
    with open("/tmp/written-by-model.txt", "w") as handle:
        handle.write(tag)
    return {"tag": tag, "model_dir": model_dir}

def input_fn(body, content_type):
    return json.loads(body.decode() if isinstance(body, (bytes, bytearray)) else body)

def predict_fn(probe, model):
    report = {"uid": os.getuid(), "gid": os.getgid(), "groups": os.getgroups(), "tag": model["tag"],
              "tmp": sorted(os.listdir("/tmp")), "tmpdir": os.environ.get("TMPDIR"),
              "host_marker": os.path.exists(probe["marker"]), "home": os.environ.get("HOME"),
              "server_env": sorted(k for k in os.environ if k.startswith("SAGESTACK_") and k != "SAGESTACK_IMAGE_TAG"
                                   or k in ("AWS_SECRET_ACCESS_KEY", "PGPASSWORD"))}
    for name in ("credentials", "metadata.db"):
        try:
            open(os.path.join(probe["data_dir"], name), "rb").read(1)
            report[name] = "read"
        except OSError as exc:
            report[name] = type(exc).__name__
    try:
        report["data_dir"] = sorted(os.listdir(probe["data_dir"]))
    except OSError as exc:
        report["data_dir"] = type(exc).__name__
    with tempfile.NamedTemporaryFile() as handle:
        report["tempfile"] = handle.name
    return report

def output_fn(prediction, accept):
    return json.dumps(prediction).encode(), "application/json"
"""


@pytest.fixture(scope="module")
def root_server(tmp_path_factory):
    """A server whose workers keep its user (SAGESTACK_JOB_USER=root), started with credentials of its own
    in its environment."""
    proc = ServerProcess(
        tmp_path_factory.mktemp("rootworkers") / "data",
        extra_env={
            "SAGESTACK_JOB_USER": "root",
            "AWS_SECRET_ACCESS_KEY": "the-servers-own",
            "PGPASSWORD": "pg",
        },
    )
    proc.start()
    yield proc
    proc.stop()


@pytest.fixture
def marker():
    path = Path("/tmp") / f"sagestack-host-marker-{uuid.uuid4().hex[:8]}"
    path.write_text("on the host")
    yield path
    path.unlink()


def _probe(server, marker: Path) -> str:
    return json.dumps({"data_dir": str(server.data_dir.resolve()), "marker": str(marker)})


def _endpoint_report(server, marker: Path, kind: str = "instance") -> tuple[dict, str]:
    """Deploy the probe (on an instance, serverless, or as one model of a multi-model endpoint) and
    invoke it: (its report, the endpoint's log)."""
    hosting = Hosting(server)
    name = f"sandbox-{uuid.uuid4().hex[:8]}"
    target = {}
    if kind == "multi-model":
        hosting.upload(
            f"{name}/models/probe.tar.gz", tar_bytes({"tag.txt": name, "code/inference.py": PROBE_MODEL})
        )
        hosting.sm.create_model(
            ModelName=name,
            ExecutionRoleArn=ROLE,
            PrimaryContainer={
                "Image": SKLEARN_IMAGE,
                "Mode": "MultiModel",
                "ModelDataUrl": f"s3://{hosting.bucket}/{name}/models/",
                "Environment": {
                    "SAGEMAKER_PROGRAM": "inference.py",
                    "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
                },
            },
        )
        target = {"TargetModel": "probe.tar.gz"}
    else:
        hosting.script_model(name, code=PROBE_MODEL)
    if kind == "serverless":
        hosting.sm.create_endpoint_config(
            EndpointConfigName=name,
            ProductionVariants=[
                {
                    "VariantName": "AllTraffic",
                    "ModelName": name,
                    "ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 1},
                }
            ],
        )
    else:
        hosting.config(name, [("AllTraffic", name, 1.0)])
    desc = hosting.endpoint(name, name)
    try:
        assert desc["EndpointStatus"] == "InService", desc.get("FailureReason")
        response = hosting.rt.invoke_endpoint(
            EndpointName=name, Body=_probe(server, marker), ContentType="application/json", **target
        )
        report = json.loads(response["Body"].read())
        return report, _log(server, f"/aws/sagemaker/Endpoints/{name}")
    finally:
        hosting.delete(name)


def _log(server, group: str) -> str:
    logs = server.client("logs")
    deadline = time.time() + 30
    text = ""
    while time.time() < deadline:
        text = log_text(logs, group)
        if "sagestack: " in text and "code runs as" in text:
            return text
        time.sleep(0.3)
    return text


def _assert_confined(report: dict, server) -> None:
    assert report["uid"] == 65534 and report["gid"] != 0 and report["groups"] == []  # nobody, the default
    assert set(report["tmp"]) - {"written-by-model.txt"} <= sandbox_tmp_entries(server.data_dir), report[
        "tmp"
    ]
    assert "written-by-model.txt" in report["tmp"]
    assert report["host_marker"] is False
    assert report["server_env"] == []
    assert report["tmpdir"] == "/tmp" and report["tempfile"].startswith("/tmp/")
    assert report["credentials"] in ("FileNotFoundError", "PermissionError")
    assert report["metadata.db"] in ("FileNotFoundError", "PermissionError")
    assert isinstance(report["data_dir"], str) or set(report["data_dir"]) <= {"serving"}, report["data_dir"]
    assert report["home"] and report["home"] != "/root"


@pytest.mark.slow
def test_endpoint_code_runs_as_nobody_with_its_own_tmp_and_no_secrets(server, marker):
    report, log = _endpoint_report(server, marker)
    _assert_confined(report, server)
    assert (
        not Path("/tmp/written-by-model.txt").exists()
        or Path("/tmp/written-by-model.txt").read_text() != (report["tag"])
    )
    assert "the model's code runs as the user nobody" in log


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["serverless", "multi-model"])
def test_serverless_and_multi_model_code_runs_as_nobody(server, marker, kind):
    """A serverless variant's pooled worker is confined when it is handed its model; a multi-model
    endpoint's worker reads the models the server unpacks for it later."""
    report, log = _endpoint_report(server, marker, kind)
    _assert_confined(report, server)
    assert "the model's code runs as the user nobody" in log


@pytest.mark.slow
def test_batch_transform_code_runs_as_nobody_with_its_own_tmp(server, marker):
    hosting = Hosting(server)
    name = f"sandbox-bt-{uuid.uuid4().hex[:8]}"
    hosting.script_model(name, code=PROBE_MODEL)
    hosting.upload("transform/in/probe.json", _probe(server, marker).encode())
    hosting.sm.create_transform_job(
        TransformJobName=name,
        ModelName=name,
        TransformInput={
            "DataSource": {
                "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{hosting.bucket}/transform/in"}
            },
            "ContentType": "application/json",
        },
        TransformOutput={"S3OutputPath": f"s3://{hosting.bucket}/transform/out"},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
    )
    deadline = time.time() + 120
    while True:
        desc = hosting.sm.describe_transform_job(TransformJobName=name)
        if desc["TransformJobStatus"] not in ("InProgress", "Stopping") or time.time() > deadline:
            break
        time.sleep(0.3)
    assert desc["TransformJobStatus"] == "Completed", desc.get("FailureReason")
    body = hosting.s3.get_object(Bucket=hosting.bucket, Key="transform/out/probe.json.out")["Body"].read()
    _assert_confined(json.loads(body), server)


@pytest.mark.slow
def test_setting_root_keeps_the_servers_user_for_workers(root_server, marker):
    report, log = _endpoint_report(root_server, marker)
    assert report["uid"] == 0
    assert "root (SAGESTACK_JOB_USER is root or empty)" in log
    assert report["server_env"] == []  # neither the server's settings nor its credentials
    assert report["host_marker"] is False  # /tmp is still the worker's own
    assert report["credentials"] == "FileNotFoundError"


#: Copies the model's shared_libs into /lib as SDK v3 ModelBuilder's serving code does (a container's root
#: may write there).
SHARED_LIBS_MODEL = r"""
import json, os, shutil

def model_fn(model_dir):
    shutil.copytree(os.path.join(model_dir, "shared_libs"), "/lib", dirs_exist_ok=True)
    with open("/lib/libsagestack-probe.so") as handle:
        return handle.read()

def input_fn(body, content_type):
    return body

def predict_fn(data, model):
    return {"copied": model, "uid": os.getuid()}

def output_fn(prediction, accept):
    return json.dumps(prediction).encode(), "application/json"
"""


@pytest.mark.slow
def test_a_model_with_shared_libs_copies_them_into_its_own_lib(server):
    """The worker (as nobody) gets a /lib of its own, an overlay: what it copies there stays out of the
    host's /usr/lib, whose mode and time are untouched too."""
    real = Path(os.path.realpath("/lib"))
    before = real.stat()
    hosting = Hosting(server)
    name = f"sandbox-libs-{uuid.uuid4().hex[:8]}"
    hosting.script_model(
        name, code=SHARED_LIBS_MODEL, extra={"shared_libs/libsagestack-probe.so": f"from {name}"}
    )
    hosting.config(name, [("AllTraffic", name, 1.0)])
    desc = hosting.endpoint(name, name)
    try:
        assert desc["EndpointStatus"] == "InService", desc.get("FailureReason")
        response = hosting.rt.invoke_endpoint(EndpointName=name, Body=b"{}", ContentType="application/json")
        assert json.loads(response["Body"].read()) == {"copied": f"from {name}", "uid": 65534}
        assert "/lib is writable for this model alone" in _log(server, f"/aws/sagemaker/Endpoints/{name}")
    finally:
        hosting.delete(name)
    assert not (real / "libsagestack-probe.so").exists()
    after = real.stat()
    assert (after.st_mode, after.st_uid, after.st_mtime_ns) == (
        before.st_mode,
        before.st_uid,
        before.st_mtime_ns,
    )
