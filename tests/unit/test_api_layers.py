"""The API's packages are layers, and imports point down (ARCHITECTURE.md).

A module may import its own package and any package of a lower layer, never one
of its own layer or above: nothing below the verbs imports a verb or a router,
the contract imports nothing of the API, and nothing imports the operator.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

API = Path(__file__).resolve().parents[2] / "api" / "prazium_api"

# Bottom to top. A top-level module is a unit of its own (its name, no package).
LAYERS: list[set[str]] = [
    {"__init__", "contract", "settings"},  # the wire's shapes and errors; settings
    {"db"},  # the PostgreSQL pools
    {"cluster", "auth"},  # custom resources; credentials and limits
    {"git", "server"},  # repositories; what wraps every request
    {"streams", "previews", "exports"},  # journal streams; previews; export archives
    {"verbs"},  # what the API does, one module per resource
    {"routers", "web"},  # HTTP only; the dashboard
    {"app", "admin_cli"},  # the FastAPI app; prazium-admin
    {"main"},  # uvicorn
    {"__main__"},
]
RANK = {unit: rank for rank, units in enumerate(LAYERS) for unit in units}


def _unit(module: str) -> str:
    """prazium_api.cluster.crs -> cluster; prazium_api.app -> app; prazium_api -> __init__."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _imports(path: Path) -> list[str]:
    """Every prazium_* module the file imports (from x import y: x.y when y is a module)."""
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.append(node.module)
            if node.module == "prazium_api":
                found += [f"prazium_api.{alias.name}" for alias in node.names]
    return [name for name in found if name.split(".")[0].startswith("prazium_")]


def _modules() -> dict[str, Path]:
    return {
        "prazium_api." + ".".join(path.relative_to(API).with_suffix("").parts): path
        for path in sorted(API.rglob("*.py"))
    }


def test_every_unit_has_a_layer() -> None:
    units = {_unit(module) for module in _modules()}
    assert units <= set(RANK), f"give these a layer: {sorted(units - set(RANK))}"


@pytest.mark.parametrize("module", sorted(_modules()))
def test_imports_point_down(module: str) -> None:
    unit = _unit(module)
    climbing = []
    for imported in _imports(_modules()[module]):
        if imported.startswith("prazium_operator"):
            climbing.append(f"{imported} (the API never imports the operator)")
            continue
        if not imported.startswith("prazium_api"):
            continue
        target = _unit(imported)
        if target == "__init__" and imported != "prazium_api":
            continue  # `from prazium_api import x` is checked as prazium_api.x
        if target != unit and RANK.get(target, -1) >= RANK[unit]:
            climbing.append(f"{imported} (layer {RANK.get(target)} >= {RANK[unit]})")
    assert climbing == [], f"{module} imports upwards or sideways: {climbing}"


def test_the_check_sees_an_upward_import(tmp_path: Path) -> None:
    """The walk finds `from prazium_api import verbs` and the dotted form alike."""
    source = tmp_path / "m.py"
    source.write_text("from prazium_api import verbs\nimport prazium_api.routers.deps\n")
    assert _imports(source) == ["prazium_api", "prazium_api.verbs", "prazium_api.routers.deps"]
    assert RANK["verbs"] > RANK["cluster"] and RANK["routers"] > RANK["verbs"]
