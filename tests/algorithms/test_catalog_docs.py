"""docs/algorithms.md is generated from the algorithms' SPECs and must not go stale."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sagestack.algorithms import catalog, registry

DOC = Path(__file__).resolve().parents[2] / "docs" / "algorithms.md"


def test_docs_algorithms_md_is_up_to_date():
    expected = catalog.render_markdown()
    current = DOC.read_text() if DOC.exists() else ""
    assert current == expected, (
        f"{DOC} is stale (an algorithm's SPEC changed). Regenerate it from the repository root with:\n"
        f"    {catalog.REGENERATE_COMMAND}"
    )


def test_catalog_covers_every_repository():
    entries = catalog.build_catalog()
    available = {repo for e in entries if e.available for repo in e.image_repositories}
    missing = {repo for e in entries if not e.available for repo in e.image_repositories}
    assert available == set(registry.ALGORITHM_PACKAGES)
    assert available | missing == set(registry.KNOWN_REPOSITORIES)
    assert not available & missing
    for entry in entries:
        if entry.available:
            assert entry.channels and entry.hyperparameters and entry.request_content_types
            assert any(c.name == "train" and c.required for c in entry.channels)


def test_render_shows_each_algorithm_and_its_formats():
    text = catalog.render_markdown()
    for entry in catalog.build_catalog():
        assert entry.title in text
        for repo in entry.image_repositories:
            assert f"`{repo}`" in text
    assert "`validation:auc`" in text and "`test:msd`" in text
    assert catalog.REGENERATE_COMMAND in text


def test_allowed_values_text():
    from sagestack.algorithms.base import Hyperparameter

    assert catalog.allowed_values(Hyperparameter("a", "float", low=0, high=1, low_open=True)) == "(0, 1]"
    assert catalog.allowed_values(Hyperparameter("b", "int", low=1)) == ">= 1"
    assert catalog.allowed_values(Hyperparameter("c", "str", choices=("x", "y"))) == "x, y"
    assert catalog.allowed_values(Hyperparameter("d", "bool")) == "true, false"


def test_module_entry_point_prints_the_document():
    out = subprocess.run(
        [sys.executable, "-m", "sagestack.algorithms.catalog"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    assert out == catalog.render_markdown()
