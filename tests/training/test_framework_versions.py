"""Script-mode jobs run on the framework version their image tag names (built on demand, cached), with
the job's requirements.txt installed on top; EnableNetworkIsolation takes the job's network away.

The end-to-end tests build a scikit-learn 1.2 environment from the package index the first time on a
machine (seconds with uv; it is cached after, in the env cache dir every test server shares)."""

from __future__ import annotations

import json
import socket
import textwrap
import threading
import uuid

import pytest

from helpers import (
    ROLE,
    SKLEARN_IMAGE,
    processing_input,
    processing_output,
    read_tar_gz,
    tar_gz,
    wait_for,
    wait_training,
)
from sagestack.environments.frameworks import (
    UnknownFrameworkVersion,
    render_markdown,
    resolve_framework,
)

# -- the resolver (no server) ---------------------------------------------------------------------


def test_sklearn_tag_versions_resolve_to_their_release_series():
    env = resolve_framework("sklearn", "1.2")
    assert env.specs[0] == "scikit-learn==1.2.*" and "numpy<2" in env.specs
    assert env.version == "1.2" and env.notes == ()
    assert env.name.startswith("sklearn-1.2-py311-")
    assert resolve_framework("sklearn", "1.2").digest == env.digest  # the cache key is stable


def test_a_version_without_a_build_for_this_python_says_what_runs_instead():
    env = resolve_framework("sklearn", "0.23")
    assert env.specs[0] == "scikit-learn==1.1.*"
    assert env.notes == (
        "scikit-learn 0.23 has no build for Python 3.11; the job runs on scikit-learn 1.1, "
        "the nearest release that has one",
    )
    assert resolve_framework("sklearn", "0.20.0").specs[0] == "scikit-learn==1.1.*"


def test_xgboost_versions_and_aliases():
    assert resolve_framework("xgboost", "1.7").specs[0] == "xgboost==1.7.*"
    assert resolve_framework("xgboost", "1").specs[0] == "xgboost==1.7.*"
    assert resolve_framework("xgboost", "0.90").specs[0] == "xgboost==0.90.*"
    cpu = resolve_framework("xgboost", "3.0")
    assert cpu.specs[0] == "xgboost-cpu==3.0.*" and "CPU build" in cpu.notes[0]


def test_pytorch_never_installs_another_torch():
    import torch

    env = resolve_framework("pytorch", "2.1.0")
    assert env.uses_server and env.specs == ()
    assert env.notes[0].startswith(f"PyTorch 2.1.0 runs on the server's torch {torch.__version__}")


def test_unknown_versions_and_frameworks():
    with pytest.raises(
        UnknownFrameworkVersion, match=r"scikit-learn 0\.1 is not a framework version.*1\.2, 1\.4"
    ):
        resolve_framework("sklearn", "0.1")
    with pytest.raises(UnknownFrameworkVersion):
        resolve_framework("xgboost", "latest")
    assert resolve_framework("tensorflow", "2.16") is None  # the server's environment, as before


def test_the_generated_table_lists_every_tag_version():
    table = render_markdown()
    assert "| sagemaker-scikit-learn | 1.2 | `scikit-learn==1.2.*`" in table
    assert "| sagemaker-xgboost | 1.7, 1 |" in table


def _platform(tmp_path, framework_versions=True):
    from types import SimpleNamespace

    from sagestack.environments import EnvironmentCache

    cache = EnvironmentCache(tmp_path / "envs")
    settings = SimpleNamespace(framework_versions=framework_versions, env_cache_dir=tmp_path / "envs")
    return SimpleNamespace(settings=settings, component=lambda name, make: cache)


def test_job_python_decisions_without_building(tmp_path):
    from sagestack.domain.images import parse_image
    from sagestack.execution.framework_env import FrameworkUnavailable, job_python

    said = []
    torch_image = parse_image("763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.1.0-cpu-py310")
    assert job_python(_platform(tmp_path), torch_image, said.append) is None  # the server's torch
    assert said and "never installs another torch" in said[0]
    off = _platform(tmp_path, framework_versions=False)  # SAGESTACK_FRAMEWORK_VERSIONS=0
    assert job_python(off, parse_image(SKLEARN_IMAGE), said.append) is None
    tf = parse_image("763104351884.dkr.ecr.us-east-1.amazonaws.com/tensorflow-training:2.16-cpu-py310")
    assert job_python(_platform(tmp_path), tf, said.append) is None
    bad = parse_image(SKLEARN_IMAGE.replace("1.2-1", "9.9-1"))
    with pytest.raises(FrameworkUnavailable, match=r"^ClientError: image .*scikit-learn 9\.9 is not"):
        job_python(_platform(tmp_path), bad, said.append)
    assert not (tmp_path / "envs").exists()  # nothing was built


def test_requirements_install_into_a_job_layer(tmp_path, monkeypatch):
    from sagestack import environments

    monkeypatch.setattr(environments, "find_uv", lambda: "/opt/uv")
    command = environments.install_requirements_command(
        "/env/bin/python", tmp_path / "deps", tmp_path / "r.txt"
    )
    assert command[:3] == ["/opt/uv", "pip", "install"] and "--target" in command
    assert command[command.index("--python") + 1] == "/env/bin/python"
    monkeypatch.setattr(environments, "find_uv", lambda: None)
    command = environments.install_requirements_command(
        "/env/bin/python", tmp_path / "deps", tmp_path / "r.txt"
    )
    assert command[:4] == ["/env/bin/python", "-m", "pip", "install"]
    assert command[command.index("--target") + 1] == str(tmp_path / "deps")


def test_a_layered_environment_sees_the_server_packages_after_its_own(tmp_path):
    import subprocess
    import venv

    from sagestack.environments import layer_on_server, server_site_directories

    venv.EnvBuilder(symlinks=True, with_pip=False).create(tmp_path / "env")
    layer_on_server(tmp_path / "env")
    script = "import json, sys, botocore; print(json.dumps([sys.path, botocore.__file__]))"
    path, found = json.loads(
        subprocess.run(
            [str(tmp_path / "env" / "bin" / "python"), "-c", script],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    own = next(i for i, p in enumerate(path) if p.startswith(str(tmp_path)) and p.endswith("site-packages"))
    server = path.index(server_site_directories()[0])
    assert own < server  # the environment's packages win; the server's fill in
    assert found.startswith(server_site_directories()[0])


def test_a_job_venv_layered_on_a_framework_environment_sees_it_before_the_server(tmp_path):
    """A ContainerEntrypoint job's venv (job_python.environment) on a framework image: its own packages,
    then the framework environment's, then the server's."""
    import subprocess
    import venv

    from sagestack.environments import layer_on_server, server_site_directories, site_packages
    from sagestack.execution import job_python

    framework = tmp_path / "framework"
    venv.EnvBuilder(symlinks=True, with_pip=False).create(framework)
    layer_on_server(framework)
    (site_packages(framework) / "botocore.py").write_text("WHERE = 'framework'\n")  # shadows the server's
    env = job_python.environment(
        tmp_path / "job", {"PATH": "/usr/bin:/bin"}, str(framework / "bin" / "python")
    )
    assert env["PATH"].startswith(str(tmp_path / "job" / "bin"))
    script = "import json, sys, botocore; print(json.dumps([sys.path, botocore.WHERE, sys.prefix]))"
    path, where, prefix = json.loads(
        subprocess.run(["python", "-c", script], capture_output=True, text=True, check=True, env=env).stdout
    )
    assert where == "framework" and prefix == str(tmp_path / "job")
    assert path.index(str(site_packages(framework))) < path.index(server_site_directories()[0])


# -- jobs (a real server) ---------------------------------------------------------------------------

VERSIONS_SCRIPT = textwrap.dedent("""
    import os, sys
    import numpy, sklearn, tabulate
    print(f"sklearn-version: {sklearn.__version__}", flush=True)
    print(f"numpy-version: {numpy.__version__}", flush=True)
    print(f"tabulate-version: {tabulate.__version__}", flush=True)
    print(f"python: {sys.executable}", flush=True)
    with open(os.path.join(os.environ["SM_MODEL_DIR"], "versions.txt"), "w") as f:
        f.write(f"{sklearn.__version__} {tabulate.__version__}")
""")


@pytest.fixture
def bucket(server) -> str:
    """A bucket of the test's own on the shared server."""
    name = f"fwenv-{uuid.uuid4().hex[:8]}"
    server.client("s3").create_bucket(Bucket=name)
    return name


def _log_text(server, group: str, name: str) -> str:
    logs = server.client("logs")
    streams = logs.describe_log_streams(logGroupName=group, logStreamNamePrefix=f"{name}/")["logStreams"]
    text = []
    for stream in streams:
        events = logs.get_log_events(
            logGroupName=group, logStreamName=stream["logStreamName"], startFromHead=True
        )["events"]
        text += [e["message"] for e in events]
    return "\n".join(text)


@pytest.mark.slow
@pytest.mark.sdk_flow("flow03", "SKLearn(framework_version='1.2-1', source_dir with requirements.txt).fit")
def test_sklearn_job_runs_its_framework_version_with_its_requirements(server, sdk_env, tmp_path):
    import sagemaker
    from sagemaker.sklearn import SKLearn

    src = tmp_path / "src"
    src.mkdir()
    (src / "train.py").write_text(VERSIONS_SCRIPT)
    (src / "requirements.txt").write_text("tabulate==0.8.10\n")
    session = sagemaker.Session()
    train_uri = session.upload_data(str(src / "train.py"), key_prefix=f"fwenv-{uuid.uuid4().hex[:6]}/train")
    names = []
    for _ in range(2):  # the second job reuses the cached environment
        estimator = SKLearn(
            entry_point="train.py",
            source_dir=str(src),
            framework_version="1.2-1",
            py_version="py3",
            instance_type="ml.m5.large",
            instance_count=1,
            role=ROLE,
        )
        estimator.fit({"train": train_uri}, wait=False)
        name = estimator.latest_training_job.name
        desc = wait_training(server.client("sagemaker"), name, 600)
        assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")
        key = estimator.model_data.split("/", 3)[3]
        files = read_tar_gz(
            server.client("s3").get_object(Bucket=session.default_bucket(), Key=key)["Body"].read()
        )
        sklearn_version, tabulate_version = files["versions.txt"].decode().split()
        assert sklearn_version.startswith("1.2.") and tabulate_version == "0.8.10"
        names.append(name)
    first = _log_text(server, "/aws/sagemaker/TrainingJobs", names[0])
    assert "sklearn-version: 1.2." in first and "tabulate-version: 0.8.10" in first
    assert "numpy-version: 1." in first  # the scikit-learn 1.2 build's numpy, not the server's 2.x
    assert "framework environment scikit-learn 1.2 (scikit-learn==1.2.*" in first
    assert "installing requirements.txt" in first
    second = _log_text(server, "/aws/sagemaker/TrainingJobs", names[1])
    assert "reusing the cached environment" in second and "scikit-learn 1.2." in second
    assert "sklearn-version: 1.2." in second


@pytest.mark.slow
def test_an_unknown_framework_version_fails_the_job_clearly(server, bucket):
    s3 = server.client("s3")
    s3.put_object(Bucket=bucket, Key="code/sourcedir.tar.gz", Body=tar_gz({"train.py": b"print('hi')\n"}))
    name = f"fwenv-bad-{uuid.uuid4().hex[:8]}"
    sm = server.client("sagemaker")
    sm.create_training_job(
        TrainingJobName=name,
        AlgorithmSpecification={
            "TrainingImage": SKLEARN_IMAGE.replace(":1.2-1-cpu-py3", ":0.1-1-cpu-py3"),
            "TrainingInputMode": "File",
        },
        RoleArn=ROLE,
        OutputDataConfig={"S3OutputPath": f"s3://{bucket}/output"},
        ResourceConfig={"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 30},
        StoppingCondition={"MaxRuntimeInSeconds": 600},
        HyperParameters={
            "sagemaker_program": '"train.py"',
            "sagemaker_submit_directory": json.dumps(f"s3://{bucket}/code/sourcedir.tar.gz"),
        },
    )
    desc = wait_training(sm, name, 120)
    assert desc["TrainingJobStatus"] == "Failed"
    assert desc["FailureReason"].startswith("ClientError: image ")
    assert "scikit-learn 0.1 is not a framework version" in desc["FailureReason"]
    assert "sagestack runs scikit-learn 0.20, 0.23, 1.0, 1.2, 1.4" in desc["FailureReason"]


# -- ContainerEntrypoint on a framework image (the SDK v3 ModelTrainer's drivers, @remote) ----------

ENTRYPOINT_COMMAND = (  # ContainerEntrypoint members are at most 256 characters
    'python --version; python -c "import os, sklearn as s, numpy as n; '
    "print('entrypoint sklearn-version:', s.__version__, 'numpy-version:', n.__version__); "
    "open(os.environ.get('SM_MODEL_DIR', '.') + '/v.txt', 'w').write(s.__version__)\""
)


@pytest.mark.slow
def test_a_container_entrypoint_on_a_framework_image_runs_its_version(server, bucket):
    """A ContainerEntrypoint (a shell calling ``python``, as ModelTrainer's sm_train.sh does) on the
    scikit-learn 1.2-1 image runs with the tag's framework environment first on PATH, and says so."""
    s3 = server.client("s3")
    sm = server.client("sagemaker")
    name = f"fwenv-ep-{uuid.uuid4().hex[:8]}"
    sm.create_training_job(
        TrainingJobName=name,
        AlgorithmSpecification={
            "TrainingImage": SKLEARN_IMAGE,
            "TrainingInputMode": "File",
            "ContainerEntrypoint": ["/bin/bash", "-c", ENTRYPOINT_COMMAND],
        },
        RoleArn=ROLE,
        OutputDataConfig={"S3OutputPath": f"s3://{bucket}/output"},
        ResourceConfig={"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 30},
        StoppingCondition={"MaxRuntimeInSeconds": 600},
    )
    desc = wait_training(sm, name, 600)
    assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")
    body = s3.get_object(Bucket=bucket, Key=f"output/{name}/output/model.tar.gz")["Body"].read()
    assert read_tar_gz(body)["v.txt"].decode().startswith("1.2.")
    text = _log_text(server, "/aws/sagemaker/TrainingJobs", name)
    assert "entrypoint sklearn-version: 1.2." in text
    assert "numpy-version: 1." in text  # the scikit-learn 1.2 environment's numpy, not the server's 2.x
    assert "framework environment scikit-learn 1.2 (scikit-learn==1.2.*" in text


@pytest.mark.slow
def test_a_processing_entrypoint_on_a_framework_image_logs_its_version(server, bucket):
    sm = server.client("sagemaker")
    name = f"fwenv-pep-{uuid.uuid4().hex[:8]}"
    sm.create_processing_job(
        ProcessingJobName=name,
        ProcessingResources={
            "ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 30}
        },
        AppSpecification={
            "ImageUri": SKLEARN_IMAGE,
            "ContainerEntrypoint": ["/bin/bash", "-c", ENTRYPOINT_COMMAND],
        },
        RoleArn=ROLE,
    )
    wait_for(
        lambda: (
            sm.describe_processing_job(ProcessingJobName=name)["ProcessingJobStatus"]
            in ("Completed", "Failed", "Stopped")
        ),
        600,
    )
    desc = sm.describe_processing_job(ProcessingJobName=name)
    assert desc["ProcessingJobStatus"] == "Completed", desc.get("FailureReason")
    text = _log_text(server, "/aws/sagemaker/ProcessingJobs", name)
    assert "entrypoint sklearn-version: 1.2." in text and "numpy-version: 1." in text
    assert "framework environment scikit-learn 1.2 (scikit-learn==1.2.*" in text


# -- network isolation ----------------------------------------------------------------------------

CONNECT = textwrap.dedent("""
    import json, os, socket, sys
    port = int(PORT)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            reply = sock.recv(100).decode()
        result = "connected " + reply
    except OSError as exc:
        result = "blocked " + type(exc).__name__
    print("network:", result, flush=True)
    with open(os.path.join(OUT, "network.txt"), "w") as f:
        f.write(result)
""")


@pytest.fixture
def listener():
    """A TCP listener on the host's loopback that answers ``hello`` (the port chosen at run time)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    stop = threading.Event()

    def serve():
        sock.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except OSError:
                continue
            with conn:
                conn.sendall(b"hello")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield sock.getsockname()[1]
    stop.set()
    thread.join(timeout=2)
    sock.close()


def _training(server, bucket: str, port: int, isolated: bool) -> str:
    script = CONNECT.replace("PORT", str(port)).replace("OUT", 'os.environ["SM_MODEL_DIR"]')
    key = f"code/{uuid.uuid4().hex[:8]}/sourcedir.tar.gz"
    server.client("s3").put_object(Bucket=bucket, Key=key, Body=tar_gz({"train.py": script.encode()}))
    name = f"fwenv-net-{uuid.uuid4().hex[:8]}"
    server.client("sagemaker").create_training_job(
        TrainingJobName=name,
        AlgorithmSpecification={"TrainingImage": SKLEARN_IMAGE, "TrainingInputMode": "File"},
        RoleArn=ROLE,
        InputDataConfig=[
            {
                "ChannelName": "train",
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": f"s3://{bucket}/code/",
                        "S3DataDistributionType": "FullyReplicated",
                    }
                },
            }
        ],
        OutputDataConfig={"S3OutputPath": f"s3://{bucket}/output"},
        ResourceConfig={"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 30},
        StoppingCondition={"MaxRuntimeInSeconds": 600},
        HyperParameters={
            "sagemaker_program": '"train.py"',
            "sagemaker_submit_directory": json.dumps(f"s3://{bucket}/{key}"),
        },
        EnableNetworkIsolation=isolated,
    )
    return name


@pytest.mark.slow
def test_network_isolation_blocks_what_a_plain_job_reaches(server, listener, bucket):
    s3 = server.client("s3")
    sm = server.client("sagemaker")
    results = {}
    for isolated in (False, True):
        name = _training(server, bucket, listener, isolated)
        desc = wait_training(sm, name, 600)
        assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")
        assert desc["EnableNetworkIsolation"] is isolated
        body = s3.get_object(Bucket=bucket, Key=f"output/{name}/output/model.tar.gz")["Body"].read()
        results[isolated] = read_tar_gz(body)["network.txt"].decode()  # the model is written either way
        if isolated:
            text = _log_text(server, "/aws/sagemaker/TrainingJobs", name)
            assert "network isolation: the job runs in its own network namespace" in text
    assert results[False] == "connected hello"
    assert results[True].startswith("blocked ")


@pytest.mark.slow
def test_processing_job_with_network_isolation(server, listener, bucket):
    s3 = server.client("s3")
    out = "/opt/ml/processing/output/result"
    script = CONNECT.replace("PORT", str(listener)).replace("OUT", repr(out))
    script = f"import os\nos.makedirs({out!r}, exist_ok=True)\n" + script
    script += (
        "import sklearn\nopen(os.path.join(OUT, 'sklearn.txt'), 'w').write(sklearn.__version__)\n".replace(
            "OUT", repr(out)
        )
    )
    s3.put_object(Bucket=bucket, Key="code/script.py", Body=script.encode())
    sm = server.client("sagemaker")
    results = {}
    for isolated in (False, True):
        name = f"fwenv-proc-{uuid.uuid4().hex[:8]}"
        sm.create_processing_job(
            ProcessingJobName=name,
            ProcessingResources={
                "ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 30}
            },
            AppSpecification={
                "ImageUri": SKLEARN_IMAGE,
                "ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/script.py"],
            },
            RoleArn=ROLE,
            ProcessingInputs=[
                processing_input("code", f"s3://{bucket}/code/script.py", "/opt/ml/processing/input/code")
            ],
            ProcessingOutputConfig={
                "Outputs": [processing_output("result", f"s3://{bucket}/out/{name}", out)]
            },
            NetworkConfig={"EnableNetworkIsolation": isolated},
        )
        wait_for(
            lambda n=name: (
                sm.describe_processing_job(ProcessingJobName=n)["ProcessingJobStatus"]
                in ("Completed", "Failed", "Stopped")
            ),
            600,
        )
        desc = sm.describe_processing_job(ProcessingJobName=name)
        assert desc["ProcessingJobStatus"] == "Completed", desc.get("FailureReason")
        results[isolated] = (
            s3.get_object(Bucket=bucket, Key=f"out/{name}/network.txt")["Body"].read().decode()
        )
        version = s3.get_object(Bucket=bucket, Key=f"out/{name}/sklearn.txt")["Body"].read().decode()
        assert version.startswith("1.2.")  # python3 on PATH is the image's framework version
    assert results[False] == "connected hello"
    assert results[True].startswith("blocked ")
