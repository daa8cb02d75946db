"""Every ```python block of docs/clarify.md runs against a real server, in page order (the same rules
as the user guide's test: guide_blocks.py markers, one process per block, a shared working directory,
shown output checked)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from guide_blocks import RUNNABLE, missing_lines, parse

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "clarify.md"
BLOCKS = parse(GUIDE)

pytestmark = [pytest.mark.slow, pytest.mark.sdk_flow("clarify", "docs/clarify.md (user guide)")]


@pytest.fixture(scope="module")
def guide_env(server, tmp_path_factory) -> tuple[dict[str, str], Path]:
    env = dict(os.environ)
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        env.pop(key, None)
    client = server.client_env()
    client["PYTHONPATH"] = os.pathsep.join(p for p in (client["PYTHONPATH"], env.get("PYTHONPATH")) if p)
    env.update(client)
    env.update(SAGEMAKER_SUPPRESS_V2_WARNING="1", PYTHONUNBUFFERED="1")
    return env, tmp_path_factory.mktemp("clarify-guide")


def test_guide_blocks_all_run():
    runnable = [b for b in BLOCKS if b.lang in RUNNABLE]
    assert len(runnable) >= 4 and not [b for b in runnable if b.skip]
    assert sum(1 for b in runnable if b.expected) >= 3


@pytest.mark.parametrize("block", [b for b in BLOCKS if b.lang in RUNNABLE], ids=lambda b: b.id)
def test_block(block, guide_env):
    env, cwd = guide_env
    script = cwd / f"block_{block.line}.py"
    script.write_text(block.code)
    result = subprocess.run(
        [sys.executable, str(script)], env=env, cwd=cwd, capture_output=True, text=True, timeout=300
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{GUIDE.name}:{block.line} exited {result.returncode}:\n{output[-4000:]}"
    if block.expected:
        missing = missing_lines(block.expected, output)
        assert not missing, f"{GUIDE.name}:{block.line}: missing {missing}\n--- printed:\n{output[-4000:]}"
