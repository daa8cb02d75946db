"""The generated documents match the code they come from; regenerate them all with ``make docs``.

docs/coverage.md (operations per service), docs/algorithms.md (built-in algorithms),
docs/framework-versions.md (what each script-mode framework image tag installs), docs/sdk-flows.md
(SDK flows and the tests that cover them), docs/configuration.md (the settings, their variables and flags)
and examples/xgboost_end_to_end.ipynb (the example script's cells). Also: the ``sdk_flow`` markers name
known flows, and the marker reader finds what it should.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _coverage() -> str:
    from sagestack.coverage import render

    return render(markdown=True)


def _algorithms() -> str:
    from sagestack.algorithms.catalog import render_markdown

    return render_markdown()


def _framework_versions() -> str:
    from sagestack.environments.frameworks import render_markdown

    return render_markdown()


def _sdk_flows() -> str:
    from sagestack.sdk_flows import render_markdown

    return render_markdown()


def _configuration() -> str:
    from sagestack.settings import render_markdown

    return render_markdown()


def _notebook() -> str:
    from sagestack.demo import notebook_text

    return notebook_text()


GENERATED = {
    "docs/coverage.md": (_coverage, "sagestack coverage --markdown > docs/coverage.md"),
    "docs/algorithms.md": (_algorithms, "python -m sagestack.algorithms.catalog > docs/algorithms.md"),
    "docs/framework-versions.md": (
        _framework_versions,
        "python -m sagestack.environments.frameworks > docs/framework-versions.md",
    ),
    "docs/sdk-flows.md": (_sdk_flows, "python -m sagestack.sdk_flows > docs/sdk-flows.md"),
    "docs/configuration.md": (_configuration, "python -m sagestack.settings > docs/configuration.md"),
    "examples/xgboost_end_to_end.ipynb": (_notebook, "python -m sagestack.demo --write-notebook"),
}


@pytest.mark.parametrize("path", sorted(GENERATED))
def test_generated_file_is_current(path):
    render, command = GENERATED[path]
    target = ROOT / path
    current = target.read_text() if target.exists() else "(missing)"
    assert current == render(), (
        f"{path} is stale (or missing): regenerate it from the repository root with\n"
        f"    {command}\n(or `make docs`, which regenerates every generated document)"
    )


def test_sdk_flow_markers_name_known_flows():
    from sagestack import sdk_flows

    claims = sdk_flows.collect()
    assert not sdk_flows.unknown_flows(claims), sdk_flows.unknown_flows(claims)
    covered = {c.flow for c in claims}
    assert {"flow00", "flow01", "flow02", "flow03"} <= covered
    demo = [c for c in claims if c.test.startswith("tests/docs/test_demo.py::")]
    assert any(c.flow == "flow01" for c in demo)


def test_marker_reader(tmp_path):
    from sagestack import sdk_flows

    tests = tmp_path / "tests" / "sub"
    tests.mkdir(parents=True)
    (tests / "test_x.py").write_text(
        textwrap.dedent("""
        import pytest
        from pytest import mark

        pytestmark = [pytest.mark.slow, pytest.mark.sdk_flow("flow02 record_set estimators")]

        @pytest.mark.sdk_flow("flow01", "fit and deploy")
        @pytest.mark.parametrize("x", [1, 2])
        def test_a(x):
            pass

        class TestGroup:
            @mark.sdk_flow("flow07f", note="serverless")
            def test_b(self):
                pass

        def helper():
            pass
    """)
    )
    (tests / "helper.py").write_text(
        "import pytest\n@pytest.mark.sdk_flow('flow09')\ndef test_not_a_test_file(): pass\n"
    )
    claims = sdk_flows.collect(tmp_path / "tests", tmp_path)
    got = {(c.flow, c.test, c.note) for c in claims}
    assert got == {
        ("flow02", "tests/sub/test_x.py::test_a", "record_set estimators"),
        ("flow01", "tests/sub/test_x.py::test_a", "fit and deploy"),
        ("flow02", "tests/sub/test_x.py::TestGroup::test_b", "record_set estimators"),
        ("flow07f", "tests/sub/test_x.py::TestGroup::test_b", "serverless"),
    }
    table = sdk_flows.render_markdown(sdk_flows.coverage(claims))
    assert "- `tests/sub/test_x.py::TestGroup::test_b`: serverless" in table
    assert "No end-to-end test yet." in table  # e.g. flow04
    with pytest.raises(ValueError, match="unknown flow ids"):
        sdk_flows.coverage([sdk_flows.Claim("flow99", "tests/x.py::test_y")])


def test_sdk_flows_module_prints_the_document():
    out = subprocess.run(
        [sys.executable, "-m", "sagestack.sdk_flows"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        cwd=ROOT,
    ).stdout
    assert out == _sdk_flows()


def test_notebook_is_valid_and_mirrors_the_script():
    from sagestack.demo import script_cells

    script = (ROOT / "examples" / "xgboost_end_to_end.py").read_text()
    ast.parse(script)
    doc = json.loads((ROOT / "examples" / "xgboost_end_to_end.ipynb").read_text())
    assert doc["nbformat"] == 4 and doc["nbformat_minor"] >= 4
    assert doc["metadata"]["kernelspec"]["language"] == "python"
    cells = doc["cells"]
    assert [(c["cell_type"], "".join(c["source"])) for c in cells] == script_cells(script)
    for cell in cells:
        assert set(cell) >= {"cell_type", "metadata", "source", "id"}
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None
            ast.parse("".join(cell["source"]))
    assert sum(c["cell_type"] == "markdown" for c in cells) >= 8
    assert "".join(cells[0]["source"]).startswith("# XGBoost end to end on sagestack")
    try:
        import nbformat
    except ImportError:
        return
    nbformat.validate(nbformat.reads(json.dumps(doc), as_version=4))
