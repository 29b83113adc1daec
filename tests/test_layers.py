"""Lower layers never import upward: the engine (app/notifications) is called by the
pipeline, the pages and the jobs, and knows none of them; the models know only the ORM."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parent.parent / "app"
# What each lower layer may import from the app, besides itself.
BELOW = {
    "notifications": {
        "models",
        "extensions",
        "orm",
        "clock",
        "bulk_sql",
        "redis_conn",
        "business_days",
    },
    "models": {"extensions", "orm", "clock"},
}


def _app_imports(path: Path) -> set[str]:
    """The `app.<name>` packages and modules a file imports, wherever the import stands."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "app" and len(parts) > 1:
                found.add(parts[1])
    return found


@pytest.mark.parametrize("layer", sorted(BELOW))
def test_a_lower_layer_imports_nothing_above_it(layer):
    allowed = BELOW[layer] | {layer}
    upward = {
        str(path.relative_to(APP.parent)): sorted(_app_imports(path) - allowed)
        for path in sorted((APP / layer).glob("*.py"))
    }
    assert {path: names for path, names in upward.items() if names} == {}
