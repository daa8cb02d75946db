"""Endpoints of script-mode scikit-learn models run their inference code on the image tag's framework
version (the environment training jobs use, cached); a model with EnableNetworkIsolation has no network
while the gateway still reaches it."""

from __future__ import annotations

import socket
import textwrap
import threading
import uuid

import pytest

from hosting_support import ROLE, SKLEARN_IMAGE, Hosting, tar_bytes

pytestmark = [pytest.mark.slow]

PROBE = """
import socket, sys

def model_fn(model_dir):
    return None

def input_fn(body, content_type):
    return int(body.decode() if isinstance(body, (bytes, bytearray)) else body)

def predict_fn(port, model):
    import numpy, sklearn
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            network = "connected " + sock.recv(100).decode()
    except OSError as exc:
        network = "blocked " + type(exc).__name__
    return f"sklearn={sklearn.__version__} numpy={numpy.__version__} network={network}"

def output_fn(prediction, accept):
    return prediction.encode(), "text/plain"
"""


@pytest.fixture
def listener():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    sock.settimeout(0.2)
    stop = threading.Event()

    def serve():
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


def test_sklearn_endpoint_framework_version_and_network_isolation(server, listener):
    hosting = Hosting(server)
    url = hosting.upload(
        f"fwenv/{uuid.uuid4().hex[:6]}/model.tar.gz", tar_bytes({"code/inference.py": textwrap.dedent(PROBE)})
    )
    answers = {}
    for isolated in (False, True):
        name = f"fwenv-{'iso' if isolated else 'open'}-{uuid.uuid4().hex[:6]}"
        hosting.sm.create_model(
            ModelName=name,
            ExecutionRoleArn=ROLE,
            PrimaryContainer={
                "Image": SKLEARN_IMAGE,
                "ModelDataUrl": url,
                "Environment": {
                    "SAGEMAKER_PROGRAM": "inference.py",
                    "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
                },
            },
            EnableNetworkIsolation=isolated,
        )
        hosting.config(name, [("AllTraffic", name, 1.0)])
        try:
            desc = hosting.endpoint(name, name)
            assert desc["EndpointStatus"] == "InService", desc.get("FailureReason")
            answers[isolated], _ = hosting.invoke(name, str(listener))
        finally:
            hosting.delete(name)
    for answer in answers.values():
        assert "sklearn=1.2." in answer and "numpy=1." in answer  # the 1.2-1 image's versions
    assert answers[False].endswith("network=connected hello")
    assert "network=blocked " in answers[True]
