"""TensorFlow Serving endpoints: ``tensorflow-inference`` images with a SavedModel and no script.

The SavedModel is made by TensorFlow itself, in the TensorFlow environment the server serves it with
(``sagestack.environments``: the test asks the same cache for it, so the suite needs no TensorFlow of its
own; the first run builds it with pip, later runs and the server find it built; where no package index is
reachable, the tests that need it are skipped).
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
import time
from pathlib import Path

import pytest

from hosting_support import ROLE, Hosting, tar_bytes
from sagestack.local_server import ServerProcess

pytestmark = pytest.mark.slow

TF_VERSION = "2.19"  # what the SDK's image_uris knows; sagestack serves it with its pinned TensorFlow 2.x

MAKE_MODEL = """
import json, sys
import numpy as np
import tensorflow as tf


class Model(tf.Module):
    def __init__(self):
        super().__init__()
        self.w = tf.Variable([[1.0], [2.0], [3.0]])
        self.b = tf.Variable([0.5])

    @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32, name="x")])
    def serve(self, x):
        return {"y": tf.matmul(x, self.w) + self.b}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="a"),
                                  tf.TensorSpec([None], tf.float32, name="b")])
    def add(self, a, b):
        return {"sum": a + b, "product": a * b}

    def _features(self, serialized):
        spec = {"x1": tf.io.FixedLenFeature([], tf.float32), "x2": tf.io.FixedLenFeature([], tf.float32)}
        f = tf.io.parse_example(serialized, spec)
        return f["x1"], f["x2"]

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="inputs")])
    def classify(self, serialized):
        x1, x2 = self._features(serialized)
        p = tf.sigmoid(x1 - x2)
        return {"classes": tf.tile([["neg", "pos"]], [tf.shape(p)[0], 1]), "scores": tf.stack([1 - p, p], axis=1)}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="inputs")])
    def regress(self, serialized):
        x1, x2 = self._features(serialized)
        return {"outputs": tf.expand_dims(x1 + 2 * x2, 1)}


model = Model()
tf.saved_model.save(model, sys.argv[1], signatures={
    "serving_default": model.serve, "add": model.add, "classify": model.classify, "regress": model.regress})
loaded = tf.saved_model.load(sys.argv[1])  # what the model itself answers, to compare with the endpoint's
x = np.array([[1, 2, 3], [0.5, -1, 0.25]], dtype=np.float32)
a, b = np.array([1.0, 2.0], np.float32), np.array([3.0, 4.0], np.float32)
ex = tf.train.Example(features=tf.train.Features(feature={
    "x1": tf.train.Feature(float_list=tf.train.FloatList(value=[1.0])),
    "x2": tf.train.Feature(float_list=tf.train.FloatList(value=[0.25]))})).SerializeToString()
print(json.dumps({
    "x": x.tolist(),
    "y": loaded.signatures["serving_default"](x=tf.constant(x))["y"].numpy().tolist(),
    "add": {k: v.numpy().tolist() for k, v in loaded.signatures["add"](a=tf.constant(a), b=tf.constant(b)).items()},
    "scores": loaded.signatures["classify"](inputs=tf.constant([ex]))["scores"].numpy().tolist(),
    "regress": loaded.signatures["regress"](inputs=tf.constant([ex]))["outputs"].numpy().tolist(),
}))
"""


def tf_image(version: str = TF_VERSION) -> str:
    from sagemaker import image_uris

    return image_uris.retrieve(
        "tensorflow", "us-east-1", version=version, image_scope="inference", instance_type="ml.m5.large"
    )


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory) -> tuple[bytes, dict]:
    """(model.tar.gz bytes in the TF Serving layout, the model's own answers)."""
    from sagestack.environments import EnvironmentBuildError, EnvironmentCache, default_cache_dir, resolve
    from sagestack.settings import Settings

    cache = EnvironmentCache(Settings.from_env().env_cache_dir or default_cache_dir())
    try:
        python = cache.ensure(resolve("tensorflow", TF_VERSION))
    except EnvironmentBuildError as exc:  # no package index here: nothing to serve with
        pytest.skip(f"the TensorFlow environment cannot be built here: {exc}: {exc.tail}")
    root = tmp_path_factory.mktemp("tfs")
    (root / "make_model.py").write_text(textwrap.dedent(MAKE_MODEL))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    proc = subprocess.run(
        [str(python), str(root / "make_model.py"), str(root / "model" / "my_model" / "1")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    expected = json.loads(proc.stdout.strip().splitlines()[-1])
    files = {
        str(p.relative_to(root / "model")): p.read_bytes()
        for p in sorted((root / "model").rglob("*"))
        if p.is_file()
    }
    return tar_bytes(files), expected


def _deploy(hosting: Hosting, name: str, data: bytes, timeout: float = 300.0, **config) -> dict:
    url = hosting.upload(f"tfs/{name}/model.tar.gz", data)
    hosting.sm.create_model(
        ModelName=name, ExecutionRoleArn=ROLE, PrimaryContainer={"Image": tf_image(), "ModelDataUrl": url}
    )
    hosting.config(name, [("AllTraffic", name, 1.0)], **config)
    hosting.sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    return hosting.wait(name, timeout)


def _invoke(hosting: Hosting, endpoint: str, body, content_type: str = "application/json", **kwargs):
    data = body if isinstance(body, str) else json.dumps(body)
    response = hosting.rt.invoke_endpoint(
        EndpointName=endpoint, Body=data, ContentType=content_type, **kwargs
    )
    assert response["ContentType"] == "application/json"
    return json.loads(response["Body"].read())


def _close(actual, expected) -> None:
    import numpy as np

    np.testing.assert_allclose(np.asarray(actual, dtype=float), np.asarray(expected, dtype=float), rtol=1e-6)


def test_tfs_predict_rest_api(hosting, saved_model):
    data, expected = saved_model
    desc = _deploy(hosting, "tfs-predict", data)
    assert desc["EndpointStatus"] == "InService", desc.get("FailureReason")
    x = expected["x"]
    # Row format and columnar format, the default signature: what the model itself answers.
    _close(_invoke(hosting, "tfs-predict", {"instances": x})["predictions"], expected["y"])
    _close(_invoke(hosting, "tfs-predict", {"inputs": x})["outputs"], expected["y"])
    _close(_invoke(hosting, "tfs-predict", {"inputs": {"x": x}})["outputs"], expected["y"])
    # signature_name: named inputs per instance; several outputs → one object per instance.
    rows = _invoke(
        hosting,
        "tfs-predict",
        {"signature_name": "add", "instances": [{"a": 1.0, "b": 3.0}, {"a": 2.0, "b": 4.0}]},
    )
    assert [sorted(r) for r in rows["predictions"]] == [["product", "sum"]] * 2
    _close([r["sum"] for r in rows["predictions"]], expected["add"]["sum"])
    columns = _invoke(hosting, "tfs-predict", {"signature_name": "add", "inputs": {"a": [1, 2], "b": [3, 4]}})
    _close(columns["outputs"]["product"], expected["add"]["product"])
    # Other bodies become instances, as the SageMaker TFS container converts them: CSV rows, a plain JSON
    # list (what TensorFlowPredictor.predict(list) sends), one row, JSON Lines.
    csv = "\n".join(",".join(str(v) for v in row) for row in x)
    _close(_invoke(hosting, "tfs-predict", csv, "text/csv")["predictions"], expected["y"])
    _close(_invoke(hosting, "tfs-predict", x)["predictions"], expected["y"])
    _close(_invoke(hosting, "tfs-predict", x[0])["predictions"], expected["y"][:1])
    lines = "\n".join(json.dumps(row) for row in x)
    _close(_invoke(hosting, "tfs-predict", lines, "application/jsonlines")["predictions"], expected["y"])
    # classify / regress over tf.Example feature dicts (CustomAttributes tfs-method).
    examples = {"signature_name": "classify", "examples": [{"x1": 1.0}], "context": {"x2": 0.25}}
    results = _invoke(hosting, "tfs-predict", examples, CustomAttributes="tfs-method=classify")["results"]
    assert [c for c, _ in results[0]] == ["neg", "pos"]
    _close([s for _, s in results[0]], expected["scores"][0])
    regress = dict(examples, signature_name="regress")
    results = _invoke(hosting, "tfs-predict", regress, CustomAttributes="tfs-method=regress")["results"]
    _close(results, [expected["regress"][0][0]])
    hosting.delete("tfs-predict")


def test_tfs_errors_are_tf_serving_errors(hosting, saved_model):
    data, _ = saved_model
    assert _deploy(hosting, "tfs-errors", data)["EndpointStatus"] == "InService"
    cases = [
        ('{"instances": [[1, 2, 3]', "JSON Parse error"),
        ({"instances": [[1.0, 2.0]]}, "Input x: shape [1, 2] does not match the signature's shape [-1, 3]"),
        ({"signature_name": "nope", "instances": [[1, 2, 3]]}, 'Serving signature name: "nope" not found'),
        ({"rows": [[1, 2, 3]]}, "input tensor alias not found in signature: rows"),
    ]
    for body, message in cases:
        with pytest.raises(hosting.rt.exceptions.ModelError) as caught:
            _invoke(hosting, "tfs-errors", body)
        error = caught.value.response
        assert error["OriginalStatusCode"] == 400, error
        assert message in json.loads(error["OriginalMessage"])["error"]
        assert "Received client error (400)" in error["Error"]["Message"]
    with pytest.raises(hosting.rt.exceptions.ModelError) as caught:
        _invoke(hosting, "tfs-errors", "x", "application/x-npy")
    assert caught.value.response["OriginalStatusCode"] == 415
    assert json.loads(caught.value.response["OriginalMessage"]) == {
        "error": "Unsupported Media Type: application/x-npy"
    }
    hosting.delete("tfs-errors")


def test_tfs_layouts_and_missing_model(hosting, saved_model, tmp_path):
    """A SavedModel at the root of model.tar.gz is served too; a tarball without one fails at creation."""
    import io
    import tarfile

    data, expected = saved_model
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        flat = {
            m.name.split("/", 2)[2]: archive.extractfile(m).read() for m in archive.getmembers() if m.isfile()
        }
    assert _deploy(hosting, "tfs-flat", tar_bytes(flat))["EndpointStatus"] == "InService"
    _close(_invoke(hosting, "tfs-flat", {"instances": expected["x"]})["predictions"], expected["y"])
    hosting.delete("tfs-flat")
    desc = _deploy(hosting, "tfs-empty", tar_bytes({"README.txt": "no model here"}))
    assert desc["EndpointStatus"] == "Failed"
    assert "No SavedModel (saved_model.pb) found in the model data" in desc["FailureReason"]


@pytest.mark.sdk_flow(
    "flow07a",
    "TensorFlowModel(model_data).deploy(data_capture_config), predict, "
    "update_data_capture_config, disable_data_capture (TensorFlow Serving)",
)
def test_sdk_tensorflow_model_data_capture(server, saved_model, monkeypatch):
    """The SDK's test_data_capture_config.py on a TensorFlow Serving endpoint: deploy with capture, predict,
    capture files in S3 hold the request and response; update and disable the capture config."""
    import sagemaker
    import sagemaker.session
    from sagemaker.model_monitor import DataCaptureConfig
    from sagemaker.tensorflow import TensorFlowModel

    for key, value in server.client_env().items():
        monkeypatch.setenv(key, value)
    wait_until = sagemaker.session._wait_until  # the SDK's update waits poll every 30 s; poll faster
    monkeypatch.setattr(sagemaker.session, "_wait_until", lambda fn, poll=5: wait_until(fn, 0.2))
    hosting = Hosting(server)
    session = sagemaker.Session(default_bucket=hosting.bucket)
    data, expected = saved_model
    model_data = hosting.upload("tfs-sdk/model.tar.gz", data)
    model = TensorFlowModel(
        model_data=model_data, role=ROLE, framework_version=TF_VERSION, sagemaker_session=session
    )
    destination = f"s3://{hosting.bucket}/tfs-sdk/capture"
    predictor = model.deploy(
        initial_instance_count=1,
        instance_type="ml.m5.large",
        wait=False,
        data_capture_config=DataCaptureConfig(
            enable_capture=True,
            sampling_percentage=100,
            destination_s3_uri=destination,
            sagemaker_session=session,
        ),
    )
    endpoint = predictor.endpoint_name
    desc = hosting.wait(endpoint, 300)
    assert desc["EndpointStatus"] == "InService", desc.get("FailureReason")
    assert hosting.sm.describe_model(ModelName=model.name)["PrimaryContainer"]["Image"] == tf_image()
    result = predictor.predict({"instances": expected["x"]})  # TensorFlowPredictor: JSON both ways
    _close(result["predictions"], expected["y"])

    deadline, records = time.time() + 20, []
    while time.time() < deadline and not records:
        listing = hosting.s3.list_objects_v2(
            Bucket=hosting.bucket, Prefix=f"tfs-sdk/capture/{endpoint}/AllTraffic/"
        )
        for item in listing.get("Contents", []):
            text = hosting.s3.get_object(Bucket=hosting.bucket, Key=item["Key"])["Body"].read().decode()
            records += [json.loads(line) for line in text.splitlines() if line]
        time.sleep(0.3)
    assert len(records) == 1, "no capture record appeared"
    capture = records[0]["captureData"]
    assert capture["endpointInput"]["observedContentType"] == "application/json"
    assert capture["endpointInput"]["encoding"] == "JSON"
    assert json.loads(capture["endpointInput"]["data"]) == {"instances": expected["x"]}
    assert capture["endpointOutput"]["encoding"] == "JSON"
    _close(json.loads(capture["endpointOutput"]["data"])["predictions"], expected["y"])

    predictor.update_data_capture_config(
        data_capture_config=DataCaptureConfig(
            enable_capture=True,
            sampling_percentage=10,
            destination_s3_uri=destination + "/custom",
            capture_options=["REQUEST"],
            csv_content_types=["text/csvtype1", "text/csvtype2"],
            json_content_types=["application/jsontype1", "application/jsontype2"],
            sagemaker_session=session,
        )
    )
    desc = hosting.sm.describe_endpoint(EndpointName=endpoint)
    assert desc["EndpointStatus"] == "InService"
    config = hosting.sm.describe_endpoint_config(EndpointConfigName=desc["EndpointConfigName"])[
        "DataCaptureConfig"
    ]
    assert config["EnableCapture"] and config["InitialSamplingPercentage"] == 10
    assert config["CaptureOptions"] == [{"CaptureMode": "Input"}]
    assert config["CaptureContentTypeHeader"]["JsonContentTypes"] == [
        "application/jsontype1",
        "application/jsontype2",
    ]
    _close(predictor.predict({"instances": expected["x"]})["predictions"], expected["y"])  # still serving

    predictor.disable_data_capture()
    desc = hosting.sm.describe_endpoint(EndpointName=endpoint)
    config = hosting.sm.describe_endpoint_config(EndpointConfigName=desc["EndpointConfigName"])[
        "DataCaptureConfig"
    ]
    assert desc["EndpointStatus"] == "InService" and not config["EnableCapture"]
    predictor.delete_endpoint()


def test_environment_build_failure_fails_the_endpoint(tmp_path):
    """No package index reachable: the endpoint fails with the image, the version and pip's own words."""
    empty = tmp_path / "no-wheels"
    empty.mkdir()
    proc = ServerProcess(
        tmp_path / "data",
        extra_env={
            "SAGESTACK_ENV_CACHE_DIR": str(tmp_path / "envs"),
            "PIP_CONFIG_FILE": os.devnull,
            "PIP_NO_INDEX": "1",
            "PIP_FIND_LINKS": str(empty),
            "PIP_INDEX_URL": "",
            "PIP_EXTRA_INDEX_URL": "",
        },
    )
    proc.start()
    try:
        hosting = Hosting(proc)
        started = time.monotonic()
        desc = _deploy(
            hosting, "tfs-nobuild", tar_bytes({"my_model/1/saved_model.pb": b"never loaded"}), timeout=240
        )
        assert desc["EndpointStatus"] == "Failed"
        reason = desc["FailureReason"]
        print(f"FailureReason: {reason}")
        assert f"Could not build the TensorFlow environment for image {tf_image()}" in reason
        assert f"TensorFlow {TF_VERSION} requested" in reason
        assert "pip install -r tensorflow.txt failed" in reason
        assert "No matching distribution found for" in reason, reason
        assert time.monotonic() - started < 240
        assert not any(
            p.name.startswith("tensorflow-") and p.is_dir() for p in Path(tmp_path / "envs").iterdir()
        )
    finally:
        proc.stop()


def test_first_deploy_builds_the_environment_while_creating(tmp_path, saved_model):
    """An empty environment cache: the endpoint stays Creating while the TensorFlow environment is built
    (other endpoints come up meanwhile), then serves; the environment is kept for the next endpoint."""
    from hosting_support import ECHO_MODEL

    proc = ServerProcess(tmp_path / "data", extra_env={"SAGESTACK_ENV_CACHE_DIR": str(tmp_path / "envs")})
    proc.start()
    try:
        hosting = Hosting(proc)
        started = time.monotonic()
        url = hosting.upload("tfs/first/model.tar.gz", saved_model[0])
        hosting.sm.create_model(
            ModelName="tfs-first",
            ExecutionRoleArn=ROLE,
            PrimaryContainer={"Image": tf_image(), "ModelDataUrl": url},
        )
        hosting.config("tfs-first", [("AllTraffic", "tfs-first", 1.0)])
        hosting.sm.create_endpoint(EndpointName="tfs-first", EndpointConfigName="tfs-first")
        hosting.script_model("echo-meanwhile", code=ECHO_MODEL)
        hosting.config("echo-meanwhile", [("AllTraffic", "echo-meanwhile", 1.0)])
        assert hosting.endpoint("echo-meanwhile", "echo-meanwhile")["EndpointStatus"] == "InService"
        assert hosting.sm.describe_endpoint(EndpointName="tfs-first")["EndpointStatus"] == "Creating"
        desc = hosting.wait("tfs-first", 900)
        assert desc["EndpointStatus"] == "InService", desc.get("FailureReason")
        print(f"first TensorFlow Serving deploy, environment built: {time.monotonic() - started:.0f}s")
        # (the echo endpoint's scikit-learn image has an environment of its own in the same cache)
        built = [p for p in (tmp_path / "envs").iterdir() if p.is_dir() and p.name.startswith("tensorflow-")]
        assert len(built) == 1 and (built[0] / "sagestack-environment.json").exists()
        _close(
            _invoke(hosting, "tfs-first", {"instances": saved_model[1]["x"]})["predictions"],
            saved_model[1]["y"],
        )
    finally:
        proc.stop()


def _tf_workers(endpoint: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0") if entry.name.isdigit() else []
        except OSError:
            continue
        if (
            any(a.endswith(b"tfserving.py") for a in args)
            and b"--endpoint" in args
            and args[args.index(b"--endpoint") + 1].decode() == endpoint
        ):
            pids.append(int(entry.name))
    return pids


def test_tfs_worker_is_restarted_after_a_crash(hosting, saved_model):
    import signal

    data, expected = saved_model
    assert _deploy(hosting, "tfs-crash", data)["EndpointStatus"] == "InService"
    (pid,) = _tf_workers("tfs-crash")
    os.kill(pid, signal.SIGKILL)
    # The listening socket stays with the controller: the request waits for the restarted worker.
    _close(_invoke(hosting, "tfs-crash", {"instances": expected["x"]})["predictions"], expected["y"])
    (new_pid,) = _tf_workers("tfs-crash")
    assert new_pid != pid
    assert hosting.sm.describe_endpoint(EndpointName="tfs-crash")["EndpointStatus"] == "InService"
    hosting.delete("tfs-crash")
    deadline = time.time() + 15
    while _tf_workers("tfs-crash") and time.time() < deadline:
        time.sleep(0.2)
    assert not _tf_workers("tfs-crash")  # DeleteEndpoint stops the TensorFlow worker
