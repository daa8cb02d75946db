"""Every ```python and ```bash block of docs/lambda-sqs-scheduler.md runs against a real server, in page
order, as tests/docs/test_user_guide.py runs the user guide's (same markers, see guide_blocks.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from guide_blocks import RUNNABLE, missing_lines, parse

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "lambda-sqs-scheduler.md"
BLOCKS = parse(GUIDE)

pytestmark = pytest.mark.slow


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
    return env, tmp_path_factory.mktemp("services-guide")


def test_guide_has_runnable_blocks():
    runnable = [b for b in BLOCKS if b.lang in RUNNABLE]
    assert len(runnable) >= 4 and sum(1 for b in runnable if b.expected) >= 3
    assert sum(1 for b in runnable if b.skip) <= 1


@pytest.mark.parametrize("block", BLOCKS, ids=[b.id for b in BLOCKS])
def test_block(block, guide_env):
    if block.skip:
        pytest.skip(f"docs-test: skip — {block.skip}")
    env, cwd = guide_env
    if block.lang == "python":
        script = cwd / f"block_{block.line}.py"
        script.write_text(block.code)
        cmd = [sys.executable, str(script)]
    else:
        cmd = ["bash", "-e", "-c", block.code]
    result = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{GUIDE.name}:{block.line} exited {result.returncode}:\n{output[-4000:]}"
    if block.expected:
        missing = missing_lines(block.expected, output)
        assert not missing, f"{GUIDE.name}:{block.line}: missing {missing}\n--- printed:\n{output[-4000:]}"
