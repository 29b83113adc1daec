"""Lower layers never import upward: the engine (app/notifications) is called by the
pipeline, the pages and the jobs, and knows none of them; the models know only the ORM.
Leaf modules that import nothing from the app (configuration defaults, request ids, log
and metric helpers) are allowed everywhere."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parent.parent / "app"
# Leaves: each imports nothing from the app but other leaves (checked below).
LEAVES = {
    "config",
    "tracing",
    "logs",
    "metrics",
    "languages",
    "template_gettext",
    "dates",
    "rq_jobs",  # RQ job reads and deletes that tolerate the job going meanwhile
    "collector",  # the garbage collector paused during start-up and bulk work
}
# What each lower layer may import from the app, besides itself and the leaves.
BELOW = {
    "notifications": {
        "models",
        "extensions",
        "orm",
        "clock",
        "bulk_sql",
        "redis_conn",
        "business_days",
        "labels",  # the words for codes; it knows only the models (checked below)
        "stored_words",  # the words for stored codes; it knows only labels (checked below)
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
    allowed = BELOW[layer] | {layer} | LEAVES
    upward = {
        str(path.relative_to(APP.parent)): sorted(_app_imports(path) - allowed)
        for path in sorted((APP / layer).glob("*.py"))
    }
    assert {path: names for path, names in upward.items() if names} == {}


# Single modules the lower layers use, and what each may import besides the leaves.
MODULES = {leaf: set() for leaf in LEAVES} | {
    "labels": {"models", "candidate_words"},
    "candidate_words": {"models"},  # the candidate-facing words labels.py re-exports
    "stored_words": {"labels"},
}


@pytest.mark.parametrize("module", sorted(MODULES))
def test_a_module_the_layers_use_imports_only_below_itself(module):
    path = APP / f"{module}.py"
    if not path.exists():
        path = APP / module / "__init__.py"
    assert _app_imports(path) - LEAVES - MODULES[module] == set()
