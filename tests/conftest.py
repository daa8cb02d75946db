"""Shared fixtures: a real sagestack server on a random port with a temp data dir, and clients."""

from __future__ import annotations

import os

import pytest

from helpers import apply_client_env
from sagestack.local_server import ServerProcess, free_port  # noqa: F401

#: Directories whose tests run on one worker under ``make test`` (pytest-xdist): a conftest with session
#: fixtures that train or deploy (run once), or tests that start clusters or build images they share.
WHOLE_DIRECTORIES = {"containers", "multiserver", "production", "production2", "ray", "sdk_v3", "transform"}


def work_unit(nodeid: str) -> str:
    """The unit of work a pytest-xdist worker takes whole: the PostgreSQL tests (they share one database
    and drop its tables), a directory of :data:`WHOLE_DIRECTORIES`, else the test module (its module
    fixtures run once)."""
    path = nodeid.split("::", 1)[0]
    parts = path.split("/")
    if "[postgres" in nodeid or "postgres" in parts[-1]:
        return "postgres"
    if len(parts) > 2 and parts[1] in WHOLE_DIRECTORIES:
        return parts[1]
    return path


def pytest_xdist_make_scheduler(config, log):
    """``pytest -n N`` (``make test``) hands out :func:`work_unit` units. (pytest-xdist's own
    ``xdist_group`` marks do not group with pytest 9, whose node ids they can no longer rename.)"""
    from xdist.scheduler import LoadScopeScheduling

    class GroupScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

    return GroupScheduling(config, log)


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
def job_shared_dir():
    """A folder a test and its jobs both reach: outside the host's /tmp (each job has its own /tmp, see
    job_sandbox.py) and writable by the job user (``nobody``)."""
    import shutil
    import tempfile
    from pathlib import Path

    path = Path(tempfile.mkdtemp(prefix="sagestack-test-", dir="/var/tmp"))
    path.chmod(0o777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(autouse=True)
def _no_cached_boto3_session(monkeypatch):
    """Each test starts without boto3's default session (it keeps the credentials it first resolved: a
    test before this one, on this worker, may have talked to another server with other keys)."""
    import boto3

    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)


@pytest.fixture
def sdk_env(server, monkeypatch):
    """The environment `sagestack env` prints, applied to this test process (for the SageMaker SDK)."""
    return apply_client_env(monkeypatch, server)
