"""Every ```python and ```bash block of docs/remote-functions.md runs against a real server, in page order
(the same markers and shape as test_user_guide.py).

One difference: a Python block runs under a wrapper that gives ``sagemaker.session`` a clock whose sleeps
are short but count in full (see tests/remote_function/conftest.py), so the SDK's fixed 10 s log polling
and 30 s describe interval do not make each call take 45 s (and RemoteExecutor's polling intervals are
shortened). The blocks themselves run unchanged.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from guide_blocks import RUNNABLE, missing_lines, parse

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "remote-functions.md"
BLOCKS = parse(GUIDE)

pytestmark = pytest.mark.slow

FAST_SDK_WAIT = """
import runpy, sys, time
import sagemaker.session


class FastClock:
    def __init__(self):
        self.offset = 0.0

    def time(self):
        return time.time() + self.offset

    def sleep(self, seconds):
        real = min(seconds, 0.2)
        time.sleep(real)
        self.offset += seconds - real

    def __getattr__(self, name):
        return getattr(time, name)


sagemaker.session.time = FastClock()
from sagemaker.remote_function import client

client._API_CALL_LIMIT.update(SubmittingIntervalInSecs=0.1, MinBatchPollingIntervalInSecs=0.5, PollingIntervalInSecs=0.2)
runpy.run_path(sys.argv[1], run_name="__main__")
"""


@pytest.fixture(scope="module")
def guide_env(server, tmp_path_factory) -> tuple[dict[str, str], Path]:
    env = dict(os.environ)
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        env.pop(key, None)
    client = server.client_env()
    client["PYTHONPATH"] = os.pathsep.join(p for p in (client["PYTHONPATH"], env.get("PYTHONPATH")) if p)
    env.update(client)
    env.update(
        SAGEMAKER_SUPPRESS_V2_WARNING="1",
        PYTHONUNBUFFERED="1",
        PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
    )
    cwd = tmp_path_factory.mktemp("remote-functions-guide")
    (cwd / "_fast_sdk_wait.py").write_text(FAST_SDK_WAIT)
    return env, cwd


def test_guide_has_runnable_blocks():
    runnable = [b for b in BLOCKS if b.lang in RUNNABLE]
    assert len(runnable) >= 5 and not [b for b in runnable if b.skip]
    assert sum(1 for b in runnable if b.expected) >= 4


@pytest.mark.sdk_flow("remote-function", "@remote, RemoteExecutor.map, dependencies (remote-functions guide)")
@pytest.mark.parametrize("block", BLOCKS, ids=[b.id for b in BLOCKS])
def test_block(block, guide_env):
    if block.skip:
        pytest.skip(f"docs-test: skip — {block.skip}")
    env, cwd = guide_env
    if block.lang == "python":
        script = cwd / f"block_{block.line}.py"
        script.write_text(block.code)
        cmd = [sys.executable, str(cwd / "_fast_sdk_wait.py"), str(script)]
    else:
        cmd = ["bash", "-e", "-c", block.code]
    result = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{GUIDE.name}:{block.line} exited {result.returncode}:\n{output[-4000:]}"
    if block.expected:
        missing = missing_lines(block.expected, output)
        assert not missing, f"{GUIDE.name}:{block.line}: missing {missing}\n--- printed:\n{output[-4000:]}"
