"""One server for the production-endpoint tests, configured the way an operator shortens the feedback
loop on a single machine: serving metrics written every second, and target tracking alarms of
10-second periods (2 breaching periods to scale out, 2 to scale in) instead of AWS's 60 s × 3 / × 15.
Everything else — alarm periods, cooldowns, wait intervals — is set through the APIs' own parameters."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "hosting"))

from hosting_support import Hosting
from sagestack.local_server import ServerProcess

ENV = {"SAGESTACK_SERVING_METRICS_INTERVAL": "1", "SAGESTACK_TARGET_TRACKING_ALARMS": "10,2,2"}


@pytest.fixture(scope="session")
def production_server(tmp_path_factory) -> ServerProcess:
    proc = ServerProcess(tmp_path_factory.mktemp("production") / "data", extra_env=ENV)
    proc.start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def hosting(production_server) -> Hosting:
    return Hosting(production_server)
