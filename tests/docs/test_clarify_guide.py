"""Every ```python block of docs/clarify.md runs against a real server, in page order (the same rules
as the user guide's test: guide_blocks.py markers, one process per block, a shared working directory,
shown output checked)."""

from __future__ import annotations

from pathlib import Path

import pytest

from guide_blocks import RUNNABLE, check_block, page_env, parse

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "clarify.md"
BLOCKS = parse(GUIDE)

pytestmark = [pytest.mark.slow, pytest.mark.sdk_flow("clarify", "docs/clarify.md (user guide)")]


@pytest.fixture(scope="module")
def guide_env(server, tmp_path_factory) -> tuple[dict[str, str], Path]:
    return page_env(server), tmp_path_factory.mktemp("clarify-guide")


def test_guide_blocks_all_run():
    runnable = [b for b in BLOCKS if b.lang in RUNNABLE]
    assert len(runnable) >= 4 and not [b for b in runnable if b.skip]
    assert sum(1 for b in runnable if b.expected) >= 3


@pytest.mark.parametrize("block", [b for b in BLOCKS if b.lang in RUNNABLE], ids=lambda b: b.id)
def test_block(block, guide_env):
    check_block(GUIDE, block, *guide_env)
