"""The ```python blocks of docs/pipelines.md run against a real server, in page order, and print what
the page shows (the same harness as tests/docs/test_user_guide.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "docs"))

from guide_blocks import RUNNABLE, missing_lines, parse  # noqa: E402

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "pipelines.md"
BLOCKS = [b for b in parse(GUIDE) if b.lang in RUNNABLE]


@pytest.fixture(scope="module")
def guide_env(server, tmp_path_factory) -> tuple[dict[str, str], Path]:
    env = dict(os.environ)
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        env.pop(key, None)
    client = server.client_env()
    client["PYTHONPATH"] = os.pathsep.join(p for p in (client["PYTHONPATH"], env.get("PYTHONPATH")) if p)
    env.update(client)
    env.update(SAGEMAKER_SUPPRESS_V2_WARNING="1", PYTHONUNBUFFERED="1")
    return env, tmp_path_factory.mktemp("pipelines-guide")


def test_guide_blocks_run_and_show_their_output(guide_env):
    env, cwd = guide_env
    assert len(BLOCKS) >= 2 and all(b.expected for b in BLOCKS)
    for block in BLOCKS:
        script = cwd / f"block_{block.line}.py"
        script.write_text(block.code)
        result = subprocess.run(
            [sys.executable, str(script)], env=env, cwd=cwd, capture_output=True, text=True, timeout=300
        )
        output = result.stdout + result.stderr
        assert result.returncode == 0, f"{block.id}:\n{output}"
        assert not missing_lines(block.expected, result.stdout), f"{block.id}:\n{result.stdout}"
