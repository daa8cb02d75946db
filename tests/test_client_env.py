"""`sagestack env`: what it prints, and that the unchanged SDK reaches the server and never AWS."""

import json
import subprocess
import sys

import pytest


def test_env_prints_exports(server):
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "sagestack",
            "env",
            "--data-dir",
            str(server.data_dir),
            "--port",
            str(server.port),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert f"export AWS_ENDPOINT_URL=http://127.0.0.1:{server.port}" in out
    assert "export BOTOCORE_EXPERIMENTAL__PLUGINS=sagestack=sagestack_botocore_plugin" in out
    # The SDK's remote functions get a default image whatever the client's Python.
    assert (
        "export SAGEMAKER_INTERNAL_IMAGE_URI="
        "081325390199.dkr.ecr.us-east-1.amazonaws.com/sagemaker-base-python-310:1.0" in out
    )
    values = json.loads(
        subprocess.run(
            [
                sys.executable,
                "-m",
                "sagestack",
                "env",
                "--data-dir",
                str(server.data_dir),
                "--port",
                str(server.port),
                "--json",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    key, secret = server.credentials()
    assert values["AWS_ACCESS_KEY_ID"] == key and values["AWS_SECRET_ACCESS_KEY"] == secret
    assert (server.data_dir / "credentials").stat().st_mode & 0o777 == 0o600


def test_sdk_reaches_server_not_aws(server, sdk_env, monkeypatch):
    import requests
    import sagemaker
    from sagemaker.telemetry import telemetry_logging
    from sagemaker.telemetry.constants import Feature

    calls = []
    monkeypatch.setattr(requests, "get", lambda *a, **k: calls.append(a) or pytest.fail("telemetry sent"))
    session = sagemaker.Session()
    assert session.default_bucket() == "sagemaker-us-east-1-000000000000"  # STS redirected to the server
    assert sagemaker.get_execution_role() == "arn:aws:iam::000000000000:role/SageStackExecutionRole"

    class Holder:
        sagemaker_session = session

    emitted = telemetry_logging._telemetry_emitter(Feature.SDK_DEFAULTS_V2, "probe")(lambda self: 42)
    assert emitted(Holder()) == 42
    assert calls == []


def test_model_builder_telemetry_is_silenced(server, sdk_env):
    """ModelBuilder's own telemetry sender (sagemaker.serve, in SDK v2 and v3) becomes a no-op too."""
    import boto3
    from sagemaker.serve.utils import telemetry_logger

    boto3.client("s3")  # any client: the plugin runs
    assert telemetry_logger._send_telemetry("1", 1, None) is None
    assert telemetry_logger._send_telemetry.__name__ == "_no_telemetry"
