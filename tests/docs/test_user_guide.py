"""Every ```python and ```bash block of docs/user-guide.md runs against a real server, in page order.

Each block runs in its own process (as a reader would paste it) with the environment ``sagestack env``
prints for the test server, in one working directory shared by the page's blocks; ``sagestack`` and
``aws`` resolve to this interpreter's. Shown output (``<!-- docs-test: output -->`` text blocks) must
match what the block printed. See guide_blocks.py for the markers.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from guide_blocks import RUNNABLE, check_block, page_env, parse

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "user-guide.md"
BLOCKS = parse(GUIDE)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def guide_env(server, tmp_path_factory) -> tuple[dict[str, str], Path]:
    # `sagestack env` / `sagestack serve` inside the blocks describe the test server, not 5066.
    env = page_env(server, SAGESTACK_PORT=str(server.port), SAGESTACK_DATA_DIR=str(server.data_dir))
    return env, tmp_path_factory.mktemp("guide")


def test_guide_has_runnable_blocks_and_few_skips():
    runnable = [b for b in BLOCKS if b.lang in RUNNABLE]
    skipped = [b for b in runnable if b.skip]
    assert len(runnable) >= 12
    # at most one block in five skipped (each with its reason): the guide is executable documentation
    assert len(skipped) * 5 <= len(runnable), [f"{b.id}: {b.skip}" for b in skipped]
    assert sum(1 for b in runnable if b.expected) >= 5


@pytest.mark.sdk_flow("flow00", "Session.default_bucket, upload_data, get_execution_role (user guide)")
@pytest.mark.sdk_flow("flow03", "SKLearn(entry_point, source_dir).fit (user guide)")
@pytest.mark.sdk_flow("aws-cli", "aws sts/s3/sagemaker/logs commands of the user guide")
@pytest.mark.parametrize("block", BLOCKS, ids=[b.id for b in BLOCKS])
def test_block(block, guide_env):
    if block.skip:
        pytest.skip(f"docs-test: skip — {block.skip}")
    check_block(GUIDE, block, *guide_env)
