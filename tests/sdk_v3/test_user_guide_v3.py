"""Every ```python and ```bash block of docs/sdk-v3.md runs with SDK v3 (.venv-sdkv3) against the v3 test
server, in page order, in one working directory (as tests/docs/test_user_guide.py does for the user
guide with SDK v2). Shown output must match (tests/docs/guide_blocks.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "docs"))
from guide_blocks import RUNNABLE, missing_lines, parse  # noqa: E402

PAGE = Path(__file__).resolve().parents[2] / "docs" / "sdk-v3.md"
BLOCKS = parse(PAGE)

pytestmark = [pytest.mark.slow, pytest.mark.sdk_flow("flow12", "SDK v3 user guide (docs/sdk-v3.md)")]


@pytest.fixture(scope="module")
def page_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("sdk-v3-page")


def test_page_has_runnable_blocks():
    runnable = [b for b in BLOCKS if b.lang in RUNNABLE and not b.skip]
    assert len(runnable) >= 3 and sum(1 for b in runnable if b.expected) >= 3


@pytest.mark.parametrize("block", BLOCKS, ids=[b.id for b in BLOCKS])
def test_block(block, run_v3, page_dir):
    if block.skip:
        pytest.skip(f"docs-test: skip — {block.skip}")
    env = run_v3.env(page_dir)
    env["PATH"] = f"{run_v3.python.parent}:{env.get('PATH', '')}"
    if block.lang == "python":
        script = page_dir / f"block_{block.line}.py"
        script.write_text(block.code)
        cmd = [str(run_v3.python), str(script)]
    else:
        cmd = ["bash", "-e", "-c", block.code]
    result = subprocess.run(cmd, env=env, cwd=page_dir, capture_output=True, text=True, timeout=400)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{PAGE.name}:{block.line} exited {result.returncode}:\n{output[-4000:]}"
    assert not (page_dir / "network.log").exists(), (page_dir / "network.log").read_text()
    if block.expected:
        missing = missing_lines(block.expected, output)
        assert not missing, f"{PAGE.name}:{block.line}: missing {missing}\n--- printed:\n{output[-4000:]}"
