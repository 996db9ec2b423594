"""The import lines of the architecture hold: each area imports only the areas below it."""

from __future__ import annotations

import ast
from pathlib import Path

PORTAL = Path(__file__).parent.parent / "portal"

# Area -> the areas of `portal` it may import (its own included). `commands` and `cli` sit on
# top and may import anything; nothing imports `cli` but `__main__` (`python -m portal`).
ALLOWED = {
    "catalog": {"catalog"},
    "deadlines": set(),
    "docs": {"docs", "catalog", "proof"},
    "cases": {"cases", "catalog", "deadlines", "proof"},
    "mail": {"cases", "catalog", "proof"},
    "migrations": {"cases", "proof"},
    "proof": {"proof"},
    "testing": set(),
    "web": {"web", "cases", "catalog", "mail", "proof"},
}


def _area(path: Path) -> str:
    return path.relative_to(PORTAL).parts[0].removesuffix(".py")


def _imported_areas(path: Path) -> set[str]:
    areas = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "portal" and len(parts) > 1:
                areas.add(parts[1])
    return areas


def test_areas_import_only_what_the_architecture_allows() -> None:
    broken = []
    for path in sorted(PORTAL.rglob("*.py")):
        area = _area(path)
        imported = _imported_areas(path) - {"__init__"}
        if "cli" in imported and area != "__main__":
            broken.append(f"{path.relative_to(PORTAL)} imports portal.cli")
        if area in ALLOWED:
            extra = imported - ALLOWED[area]
            if extra:
                broken.append(f"{path.relative_to(PORTAL)} imports {sorted(extra)}")
    assert broken == []


def test_every_area_is_known() -> None:
    """A new top-level module must say where it sits, here."""
    areas = {_area(p) for p in PORTAL.rglob("*.py")} - {"__init__"}
    assert areas <= set(ALLOWED) | {"commands", "cli", "__main__"}, areas - set(ALLOWED)
