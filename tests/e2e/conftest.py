"""End-to-end fixtures: the unchanged SageMaker Python SDK v2 against a real sagestack server.

The SDK sleeps 30 s before each DescribeEndpoint in ``deploy()`` and 5 s per poll in ``fit()``; these
tests call ``fit(wait=False)`` / ``deploy(wait=False)`` and poll with boto3 instead, start every job of
a module before waiting for any (the server runs them side by side), and delete every endpoint they
created when the module ends.
"""

from __future__ import annotations

import os
import sys

import pytest

from e2e_support import E2E

os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")


@pytest.fixture(scope="module")
def sdk_env(server):
    """The environment ``sagestack env`` prints, applied to this process for a whole module.

    Same as the suite-wide ``sdk_env`` (which is per test); module scope lets one training job per
    algorithm serve every test of the module. The previous environment is restored afterwards.
    """
    saved_env, saved_path = dict(os.environ), list(sys.path)
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        os.environ.pop(key, None)
    env = server.client_env()
    for key, value in env.items():
        if key == "PYTHONPATH" and value not in sys.path:
            sys.path.insert(0, value)
        os.environ[key] = value
    yield env
    os.environ.clear()
    os.environ.update(saved_env)
    sys.path[:] = saved_path


@pytest.fixture(scope="module")
def e2e(server, sdk_env):
    helper = E2E(server)
    try:
        yield helper
    finally:
        helper.cleanup()
