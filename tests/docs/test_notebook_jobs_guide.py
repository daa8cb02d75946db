"""The ```python block of docs/notebook-jobs.md runs against a real server and prints what the page shows
(guide_blocks.py markers and shown output, as the other guides' tests)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from guide_blocks import RUNNABLE, missing_lines, parse

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "notebook-jobs.md"
BLOCKS = [b for b in parse(GUIDE) if b.lang in RUNNABLE]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.sdk_flow("flow06", "docs/notebook-jobs.md (NotebookJobStep guide)"),
]


def test_notebook_guide_block_runs_and_shows_its_output(server, tmp_path):
    pytest.importorskip("papermill")
    env = dict(os.environ)
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        env.pop(key, None)
    client = server.client_env()
    client["PYTHONPATH"] = os.pathsep.join(p for p in (client["PYTHONPATH"], env.get("PYTHONPATH")) if p)
    env.update(client)
    env.update(SAGEMAKER_SUPPRESS_V2_WARNING="1", PYTHONUNBUFFERED="1")
    assert len(BLOCKS) == 1 and all(b.expected for b in BLOCKS)
    for block in BLOCKS:
        script = tmp_path / f"block_{block.line}.py"
        script.write_text(block.code)
        result = subprocess.run(
            [sys.executable, str(script)], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300
        )
        output = result.stdout + result.stderr
        assert result.returncode == 0, f"{block.id}:\n{output}"
        assert not missing_lines(block.expected, result.stdout), f"{block.id}:\n{result.stdout}"
