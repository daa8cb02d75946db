"""Generated documentation matches the code (regenerate with `make docs`)."""

from pathlib import Path

from sagestack.coverage import render

ROOT = Path(__file__).resolve().parent.parent


def test_coverage_table_is_current():
    current = (ROOT / "docs" / "coverage.md").read_text()
    assert current == render(markdown=True), (
        "docs/coverage.md is stale: run `make docs` (sagestack coverage --markdown > docs/coverage.md)"
    )


def test_every_registered_operation_is_in_the_model():
    from sagestack.protocol import models
    from sagestack.services.registry import load_tables

    for service, table in load_tables().items():
        names = set(models.operation_names(service))
        assert set(table) <= names, f"{service}: {sorted(set(table) - names)} are not in botocore's model"
