"""Fixtures of the container tests: the BYOC test image (built once, cached) and a server of their own
whose container engine is podman with the machine's containers.conf (runc; rlimits it allows)."""

from __future__ import annotations

import shutil
import sys

import pytest

from sagestack.local_server import ServerProcess

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))

import images  # noqa: E402
from helpers import apply_client_env  # noqa: E402


@pytest.fixture(scope="session")
def byoc_image() -> str:
    if not shutil.which("podman"):
        pytest.skip("podman is not installed (.ci/podman.sh installs it): the container tests need it")
    return images.byoc_image()


@pytest.fixture(scope="session")
def mme_image(byoc_image) -> str:
    """The multi-model test image (its ``serve`` is byoc/mme-serve), built FROM the same base."""
    return images.mme_image()


@pytest.fixture(scope="session")
def podman_server(tmp_path_factory, byoc_image) -> ServerProcess:
    proc = ServerProcess(
        tmp_path_factory.mktemp("podman") / "data",
        extra_env={**images.engine_env(), "SAGESTACK_CONTAINER_ENGINE": "podman"},
    )
    proc.start()
    yield proc
    proc.stop()


@pytest.fixture
def podman_sdk_env(podman_server, monkeypatch):
    """The environment `sagestack env` prints for the podman server, applied to this test process."""
    return apply_client_env(monkeypatch, podman_server)


@pytest.fixture
def podman_bucket(podman_server) -> str:
    import uuid

    name = f"byoc-{uuid.uuid4().hex[:10]}"
    podman_server.client("s3").create_bucket(Bucket=name)
    return name
