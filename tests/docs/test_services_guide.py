"""Every ```python and ```bash block of docs/lambda-sqs-scheduler.md runs against a real server, in page
order, as tests/docs/test_user_guide.py runs the user guide's (same markers, see guide_blocks.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from guide_blocks import RUNNABLE, check_block, page_env, parse

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "lambda-sqs-scheduler.md"
BLOCKS = parse(GUIDE)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def guide_env(server, tmp_path_factory) -> tuple[dict[str, str], Path]:
    return page_env(server), tmp_path_factory.mktemp("services-guide")


def test_guide_has_runnable_blocks():
    runnable = [b for b in BLOCKS if b.lang in RUNNABLE]
    assert len(runnable) >= 4 and sum(1 for b in runnable if b.expected) >= 3
    assert sum(1 for b in runnable if b.skip) <= 1


@pytest.mark.parametrize("block", BLOCKS, ids=[b.id for b in BLOCKS])
def test_block(block, guide_env):
    if block.skip:
        pytest.skip(f"docs-test: skip — {block.skip}")
    check_block(GUIDE, block, *guide_env)
