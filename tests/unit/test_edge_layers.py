"""AWS wording lives at the edge: the layers below the services raise domain errors and never import
the protocol's error types, the services or the gateway; the services never import the gateway."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "sagestack"

#: package → the packages it must not import (absolute names under ``sagestack``).
FORBIDDEN = {
    "store": ("sagestack.protocol", "sagestack.services", "sagestack.gateway", "sagestack.objects"),
    "objects": ("sagestack.protocol", "sagestack.services", "sagestack.gateway"),
    "services": ("sagestack.gateway",),
    # one source of truth: the console reaches data only through the operations (services/calls.py)
    "console": (
        "sagestack.gateway",
        "sagestack.store",
        "sagestack.objects",
        "sagestack.domain",
        "sagestack.reconcilers",
        "sagestack.execution",
        "sagestack.serving",
    ),
}


def _imports(path: Path) -> list[tuple[int, str]]:
    """Absolute module names imported by ``path`` (relative imports resolved), with line numbers."""
    package = ["sagestack", *path.relative_to(SRC).parent.parts]
    names = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *(node.module.split(".") if node.module else [])])
            names.append((node.lineno, module))
            names += [(node.lineno, f"{module}.{alias.name}") for alias in node.names]
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_layer_imports_point_down(package):
    offenders = []
    for path in sorted((SRC / package).rglob("*.py")):
        for line, name in _imports(path):
            if any(name == f or name.startswith(f + ".") for f in FORBIDDEN[package]):
                offenders.append(f"{path.relative_to(SRC)}:{line} imports {name}")
    assert not offenders, "\n".join(offenders)


def test_the_scan_sees_relative_imports():
    names = [name for _, name in _imports(SRC / "services" / "s3" / "common.py")]
    assert "sagestack.objects" in names and "sagestack.protocol.aws_chunked.ChunkedDecoder" in names
