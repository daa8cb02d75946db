"""End-to-end fixtures: the unchanged SageMaker Python SDK v2 against a real sagestack server.

The SDK sleeps 30 s before each DescribeEndpoint in ``deploy()`` and 5 s per poll in ``fit()``; these
tests call ``fit(wait=False)`` / ``deploy(wait=False)`` and poll with boto3 instead, start every job of
a module before waiting for any (the server runs them side by side), and delete every endpoint they
created when the module ends.
"""

from __future__ import annotations

import os

import pytest

from e2e_support import E2E
from helpers import apply_client_env

os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")


@pytest.fixture(scope="module")
def sdk_env(server):
    """The environment ``sagestack env`` prints, applied to this process for a whole module.

    Same as the suite-wide ``sdk_env`` (which is per test); module scope lets one training job per
    algorithm serve every test of the module. The previous environment is restored afterwards.
    """
    with pytest.MonkeyPatch.context() as patch:
        yield apply_client_env(patch, server)


@pytest.fixture(scope="module")
def e2e(server, sdk_env):
    helper = E2E(server)
    try:
        yield helper
    finally:
        helper.cleanup()
