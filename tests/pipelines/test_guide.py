"""The ```python blocks of docs/pipelines.md run against a real server, in page order, and print what
the page shows (the same harness as tests/docs/test_user_guide.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "docs"))

from guide_blocks import RUNNABLE, check_block, page_env, parse  # noqa: E402

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "pipelines.md"
BLOCKS = [b for b in parse(GUIDE) if b.lang in RUNNABLE]


@pytest.fixture(scope="module")
def guide_env(server, tmp_path_factory) -> tuple[dict[str, str], Path]:
    return page_env(server), tmp_path_factory.mktemp("pipelines-guide")


def test_guide_blocks_run_and_show_their_output(guide_env):
    env, cwd = guide_env
    assert len(BLOCKS) >= 2 and all(b.expected for b in BLOCKS)
    for block in BLOCKS:
        check_block(GUIDE, block, env, cwd)
