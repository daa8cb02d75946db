"""Shared fixtures: a real sagestack server on a random port with a temp data dir, and clients."""

from __future__ import annotations

import os
import sys

import pytest

from sagestack.local_server import ServerProcess, free_port  # noqa: F401

#: Directories whose conftest holds session fixtures that train or deploy (one worker runs them all,
#: so that the fixture runs once).
SESSION_FIXTURE_DIRS = {"production", "production2", "sdk_v3", "transform"}


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Groups for ``pytest -n N --dist loadgroup`` (``make test``): a test module runs on one worker
    (module fixtures run once), the directories in :data:`SESSION_FIXTURE_DIRS` on one worker, and the
    PostgreSQL tests — which share one database and drop its tables — on one worker. A test's own
    ``xdist_group`` marker wins."""
    for item in items:
        if item.get_closest_marker("xdist_group") is not None:
            continue
        path = item.path.relative_to(config.rootpath)
        if item.get_closest_marker("postgres") is not None:
            group = "postgres"
        elif len(path.parts) > 2 and path.parts[1] in SESSION_FIXTURE_DIRS:
            group = path.parts[1]
        else:
            group = path.as_posix()
        item.add_marker(pytest.mark.xdist_group(group))


@pytest.fixture(scope="session")
def server(tmp_path_factory) -> ServerProcess:
    """One server for the whole session (tests that restart it use ``fresh_server``).
    SAGESTACK_TEST_REMOTE_OBJECTS=1: its objects' bytes live in a second sagestack (``--objects-url``)."""
    remote = None
    extra_env = {}
    if os.environ.get("SAGESTACK_TEST_REMOTE_OBJECTS") == "1":
        remote = ServerProcess(tmp_path_factory.mktemp("remote-objects") / "data").start()
        key, secret = remote.credentials()
        extra_env = {
            "SAGESTACK_OBJECTS_URL": f"s3://sagestack-blobs/test?endpoint_url={remote.url}",
            "SAGESTACK_OBJECTS_ACCESS_KEY": key,
            "SAGESTACK_OBJECTS_SECRET_KEY": secret,
        }
    proc = ServerProcess(
        tmp_path_factory.mktemp("sagestack") / "data",
        database_url=os.environ.get("SAGESTACK_TEST_STORE_URL"),
        extra_env=extra_env,
    )
    proc.start()
    yield proc
    proc.stop()
    if remote is not None:
        remote.stop()


@pytest.fixture(scope="session")
def strict_server(tmp_path_factory) -> ServerProcess:
    """A server with SAGESTACK_STRICT_ROLES=1: only created roles (and the built-in one) exist."""
    proc = ServerProcess(
        tmp_path_factory.mktemp("strict") / "data", extra_env={"SAGESTACK_STRICT_ROLES": "1"}
    )
    proc.start()
    yield proc
    proc.stop()


@pytest.fixture
def fresh_server(tmp_path) -> ServerProcess:
    proc = ServerProcess(tmp_path / "data")
    proc.start()
    yield proc
    proc.stop()


@pytest.fixture
def sdk_env(server, monkeypatch):
    """The environment `sagestack env` prints, applied to this test process (for the SageMaker SDK)."""
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(key, raising=False)
    env = server.client_env()
    for key, value in env.items():
        if key == "PYTHONPATH":
            if value not in sys.path:
                monkeypatch.syspath_prepend(value)
        monkeypatch.setenv(key, value)
    return env
