"""Fixtures for the production-endpoint tests (serverless, async, multi-model, pipelines): one server of
their own, with a short serverless idle period, a 5-model multi-model cache and 1 s metric flushes."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "hosting"))  # hosting_support

from production2_support import CACHE_MODELS, IDLE_SECONDS  # noqa: I001
from sagestack.local_server import ServerProcess


@pytest.fixture(scope="session")
def p2_server(tmp_path_factory) -> ServerProcess:
    proc = ServerProcess(
        tmp_path_factory.mktemp("sagestack-p2") / "data",
        extra_env={
            "SAGESTACK_SERVERLESS_IDLE_SECONDS": str(IDLE_SECONDS),
            "SAGESTACK_MME_MAX_MODELS": str(CACHE_MODELS),
            "SAGESTACK_SERVING_METRICS_INTERVAL": "1",
        },
    )
    proc.start()
    yield proc
    proc.stop()


@pytest.fixture(scope="session")
def p2_hosting(p2_server):
    from hosting_support import Hosting

    return Hosting(p2_server)


@pytest.fixture(scope="module")
def p2_sdk(p2_server, p2_hosting):
    """The SageMaker SDK v2 pointed at the p2 server through the environment (as `sagestack env` prints).
    The SDK gets a boto3 session of its own: the default one caches the first credentials it resolves, and
    other test modules talk to another server with other keys."""
    import boto3
    import sagemaker

    saved = dict(os.environ)
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        os.environ.pop(key, None)
    env = p2_server.client_env()
    os.environ.update(env)
    if env.get("PYTHONPATH") and env["PYTHONPATH"] not in sys.path:
        sys.path.insert(0, env["PYTHONPATH"])
    key, secret = p2_server.credentials()
    boto_session = boto3.Session(aws_access_key_id=key, aws_secret_access_key=secret, region_name="us-east-1")
    yield p2_hosting, sagemaker.Session(boto_session=boto_session, default_bucket=p2_hosting.bucket)
    os.environ.clear()
    os.environ.update(saved)
