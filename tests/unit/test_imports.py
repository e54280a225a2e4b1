"""Imports run one way: the Dagster layer (pipelines, assets, the resource) -> platforms ->
services -> model, with the pure criteria beside the model. Read from the source with ast, so a
function-level import counts as much as one at the top (that is how a cycle hides), and so does one
under `if TYPE_CHECKING:`."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("pipelines", "assets", "resources")


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


MODULES = modules()


def imports_of(name: str) -> set[str]:
    """Project modules `name` imports anywhere in its source (resolved to known modules)."""
    tree = ast.parse(MODULES[name].read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            targets = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        found |= {target for target in targets if target in MODULES and target != name}
    return found


GRAPH = {name: imports_of(name) for name in MODULES}


def layer(name: str) -> str:
    if name.startswith("resources.model"):
        return "model"
    if name.startswith("resources.criteria"):
        return "criteria"
    if name.startswith(("resources.platforms", "resources.k8s")):
        return "platforms"
    if name.startswith(("pipelines", "assets")) or name == "resources.environment":
        return "dagster"
    return "services"  # services, clients (spark, delta, cdc, alerting, hive), processes, probes


ALLOWED = {
    "model": {"model"},
    "criteria": {"model", "criteria"},
    "services": {"model", "criteria", "services"},
    "platforms": {"model", "criteria", "services", "platforms"},
    "dagster": {"model", "criteria", "services", "platforms", "dagster"},
}


def test_the_walk_sees_the_packages():
    assert {"resources.model.catalog", "resources.platforms.local", "assets.releases",
            "pipelines.definitions"} <= set(MODULES)
    assert "resources.model.errors" in GRAPH["resources.model.catalog"]


def test_no_import_cycle():
    state: dict[str, str] = {}
    path: list[str] = []

    def visit(name: str) -> None:
        state[name] = "open"
        path.append(name)
        for target in sorted(GRAPH[name]):
            if state.get(target) == "open":
                cycle = path[path.index(target):] + [target]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target)
        path.pop()
        state[name] = "done"

    for name in sorted(GRAPH):
        if name not in state:
            visit(name)


@pytest.mark.parametrize("name", sorted(GRAPH))
def test_imports_point_down_the_layers(name):
    upward = {target for target in GRAPH[name] if layer(target) not in ALLOWED[layer(name)]}
    assert not upward, f"{name} ({layer(name)}) imports {sorted(upward)} from a layer above it"


def test_nothing_under_resources_imports_assets_or_pipelines():
    offenders = {name: sorted(t for t in targets if t.startswith(("assets", "pipelines")))
                 for name, targets in GRAPH.items() if name.startswith("resources")}
    assert {name: t for name, t in offenders.items() if t} == {}


def test_the_model_imports_nothing_of_the_project_but_itself():
    for name, targets in GRAPH.items():
        if layer(name) == "model":
            assert all(layer(t) == "model" for t in targets), (name, targets)
