"""The package-level import graph of ``sagestack``: no cycles, and imports point down the layers only.

A "package" is the first name under ``sagestack`` (``services``, ``execution``, …); a top-level module
(``platform.py``, ``server.py``) is a node of its own. Every import counts — module level or inside a
function — except those under ``if TYPE_CHECKING:`` (annotations only, never executed).

Run as a script to print the graph: ``python tests/test_import_graph.py``.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "src" / "sagestack"

#: Higher ranks may import lower ones; never upward, and within a rank only as PEERS allows.
LAYERS: dict[str, int] = {
    # entry points and the composition root
    "__main__": 100,
    "cli": 95,
    "demo": 92,
    "coverage": 90,
    "sdk_flows": 90,
    "server": 88,
    "startup": 87,
    "local_server": 86,
    "client_env": 84,
    # the edge
    "gateway": 80,
    # the web console (pages + a JSON door to the operations, run through services/calls.py)
    "console": 75,
    # AWS-facing handlers: validate, record desired state, return
    "services": 70,
    # control loops (one shape: reconcilers/base.py)
    "reconcilers": 60,
    # what the loops act through
    "execution": 50,
    "serving": 50,
    # per resource family: type, status machine, transitions, plans
    "domain": 40,
    # what a running server reports about itself (sagestack status, GET /_sagestack/status)
    "status": 36,
    # the composition root's object (settings + store + components)
    "platform": 35,
    # storage
    "objects": 32,
    "store": 30,
    # built-in algorithms, script-mode frameworks, codecs
    "algorithms": 25,
    # the Model Monitor analyzer (what the sagemaker-model-monitor-analyzer image runs)
    "monitoring": 25,
    "frameworks": 25,
    # SageMaker Clarify: bias metrics, SHAP, partial dependence (the Clarify image, the online explainer)
    "clarify": 25,
    "formats": 20,
    # framework environments (venvs built on demand): used by serving, later by execution
    "environments": 20,
    # container engines (podman, docker) through their command line: bring-your-own-container images
    "containers": 20,
    # leaves
    "protocol": 10,
    "settings": 10,
    "memory": 10,
    "pidfile": 10,
    # what a job's or worker's process does to isolate itself (network namespaces)
    "sandbox": 10,
    "job_sandbox": 10,
    "__init__": 0,
}

#: Same-rank packages that may import each other in this direction only.
PEERS: set[tuple[str, str]] = set()

#: Edges known to be wrong, each with the change that removes it. ``test_known_exceptions_still_needed``
#: fails once an edge is gone, so that the entry is deleted with it.
KNOWN_EXCEPTIONS: dict[tuple[str, str], str] = {}


def _node(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "sagestack":
        return None
    return parts[1] if len(parts) > 1 else "__init__"


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _is_module(name: str) -> bool:
    path = ROOT.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def _imports(path: Path) -> list[tuple[str, int]]:
    """(absolute module imported, line) for every executed import in the file."""
    tree = ast.parse(path.read_text(), str(path))
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[tuple[str, int]] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.extend((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            # ``from pkg import name``: the submodule pkg.name where there is one, else pkg itself
            for alias in node.names:
                submodule = f"{target}.{alias.name}"
                found.append((submodule if _is_module(submodule) else target, node.lineno))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def import_graph(exceptions: bool = False) -> dict[str, dict[str, list[str]]]:
    """package → imported package → ["path:line", …] (edges within a package left out, and the
    KNOWN_EXCEPTIONS unless ``exceptions``)."""
    graph: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for path in sorted(ROOT.rglob("*.py")):
        source = _node(_module_name(path))
        for target, line in _imports(path):
            node = _node(target)
            if node is None or node == source or (not exceptions and (source, node) in KNOWN_EXCEPTIONS):
                continue
            graph[source][node].append(f"{path.relative_to(ROOT.parent)}:{line}")
    return graph


def find_cycles(graph: dict[str, dict[str, list[str]]]) -> list[list[str]]:
    """One cycle per strongly connected component with more than one package (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def strongconnect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, {}):
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                components.append(component)

    for v in sorted(graph):
        if v not in index:
            strongconnect(v)
    cycles = []
    for component in components:
        members = set(component)
        start = min(component)
        # shortest path back to start through the component (BFS)
        parents = {start: None}
        queue = [start]
        cycle = None
        while queue and cycle is None:
            v = queue.pop(0)
            for w in sorted(graph.get(v, {})):
                if w == start:
                    path = [v]
                    while parents[path[-1]] is not None:
                        path.append(parents[path[-1]])
                    cycle = list(reversed(path)) + [start]
                    break
                if w in members and w not in parents:
                    parents[w] = v
                    queue.append(w)
        cycles.append(cycle or sorted(component))
    return cycles


def _describe(graph, cycle: list[str]) -> str:
    lines = [" → ".join(cycle)]
    for a, b in zip(cycle, cycle[1:]):
        lines.append(f"  {a} → {b}: " + ", ".join(graph[a][b][:5]) + (" …" if len(graph[a][b]) > 5 else ""))
    return "\n".join(lines)


def layer_violations(graph) -> list[str]:
    problems = []
    for source, targets in sorted(graph.items()):
        for target, where in sorted(targets.items()):
            if source not in LAYERS or target not in LAYERS:
                problems.append(f"{source} → {target}: add the package to LAYERS ({where[0]})")
                continue
            rank, other = LAYERS[source], LAYERS[target]
            if other > rank or (other == rank and (source, target) not in PEERS):
                problems.append(
                    f"{source} (rank {rank}) imports {target} (rank {other}): " + ", ".join(where[:5])
                )
    return problems


def test_no_package_import_cycles():
    graph = import_graph()
    cycles = find_cycles(graph)
    assert not cycles, "package-level import cycles:\n" + "\n".join(_describe(graph, c) for c in cycles)


def test_imports_point_down_the_layers():
    graph = import_graph()
    problems = layer_violations(graph)
    assert not problems, "imports against the layer order:\n" + "\n".join(problems)


def test_known_exceptions_still_needed():
    graph = import_graph(exceptions=True)
    gone = [edge for edge in KNOWN_EXCEPTIONS if edge[1] not in graph.get(edge[0], {})]
    assert not gone, f"these imports are gone: delete them from KNOWN_EXCEPTIONS: {gone}"


def test_every_package_has_a_layer():
    names = {
        p.stem if p.is_file() else p.name
        for p in ROOT.iterdir()
        if (p.is_file() and p.suffix == ".py") or (p.is_dir() and (p / "__init__.py").exists())
    }
    assert names <= set(LAYERS), f"give these a rank in LAYERS: {sorted(names - set(LAYERS))}"


def test_the_checker_sees_cycles():
    graph = {"a": {"b": ["a.py:1"]}, "b": {"c": ["b.py:2"]}, "c": {"a": ["c.py:3"]}, "d": {"a": ["d.py:1"]}}
    assert find_cycles(graph) == [["a", "b", "c", "a"]]
    assert layer_violations({"store": {"services": ["store/x.py:3"]}})


if __name__ == "__main__":
    graph = import_graph()
    for source in sorted(graph):
        print(f"{source} → {', '.join(sorted(graph[source]))}")
    for cycle in find_cycles(graph):
        print("CYCLE", _describe(graph, cycle))
    for problem in layer_violations(graph):
        print("LAYER", problem)
