"""A run is four stages, each importing only the ones before it: the stack file read and validated
(components/settings.py's reader, components/config.py), the checks against what the stack deployed last
(components/lifecycle.py), its capacity plan (components/capacity.py), the resources (every other component).
No module of the program imports one that imports it back, at the top of a file, inside a function, or
relatively."""
from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter

from harness import ROOT

STAGES = ("components.settings", "components.config", "components.lifecycle", "components.capacity")


def program_imports() -> dict[str, set[str]]:
    """Module -> the program's modules it imports, wherever in the file the import is."""
    modules = {f"components.{p.stem}": p for p in (ROOT / "components").glob("*.py") if p.stem != "__init__"}
    modules["__main__"] = ROOT / "__main__.py"
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        imported = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                # `from . import x` and `from .x import y` inside components/ name components.x
                module = ".".join(filter(None, ["components" if node.level else "", node.module or ""]))
                imported |= {module} | {f"{module}.{a.name}" for a in node.names}
            elif isinstance(node, ast.Import):
                imported |= {a.name for a in node.names}
        graph[name] = imported & modules.keys()
    return graph


def test_the_program_has_no_circle_of_imports():
    try:
        order = list(TopologicalSorter(program_imports()).static_order())
    except CycleError as e:
        raise AssertionError(f"a circle of imports: {' -> '.join(e.args[1])}") from None
    assert order[-1] == "__main__"


def test_each_stage_imports_only_the_stages_before_it():
    graph = program_imports()
    for i, stage in enumerate(STAGES):
        later = set(STAGES[i + 1:]) | {"__main__"}
        assert graph[stage] & later == set(), f"{stage} imports a later stage"
    components = {m for m in graph if m not in (*STAGES, "__main__", "components.live_changes", "components.upstream")}
    for stage in STAGES:
        assert graph[stage] & components == set(), f"{stage} imports a component that builds resources"


def test_main_runs_the_stages_in_order():
    source = (ROOT / "__main__.py").read_text()
    calls = ["config.read(", "lifecycle.check_against_deployed(", "capacity.enforce("]
    positions = [source.find(call) for call in calls]
    assert -1 not in positions and positions == sorted(positions), calls
    assert source.find("cluster = build_cluster(") > positions[-1]
