"""Views stay short: parse the request, call a service, redirect or render. A route module
that commits (or adds, deletes, flushes) writes business rules where no service, job or API
can reuse them, so no module that registers a view may do it. The modules are found from
the app's own view functions: a new blueprint is checked without anyone listing it."""

from __future__ import annotations

import ast
import inspect
import sys

from app import create_app

# Session writes that belong in a service. `.commit(` is refused on any object
# (db.session, outbox, a connection); the rest only on a session.
ANY_OBJECT = {"commit"}
ON_A_SESSION = {"add", "add_all", "delete", "flush", "merge", "bulk_save_objects"}


def route_modules(app) -> set[str]:
    names = set()
    for view in app.view_functions.values():
        view = inspect.unwrap(view)
        module = getattr(view, "__module__", "") or ""
        if module == "app" or module.startswith("app."):
            names.add(module)
    return names


def writes_in(source: str) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        name, owner = node.func.attr, node.func.value
        on_session = (isinstance(owner, ast.Attribute) and owner.attr == "session") or (
            isinstance(owner, ast.Name) and owner.id == "session"
        )
        if name in ANY_OBJECT or (name in ON_A_SESSION and on_session):
            found.append((node.lineno, ast.unparse(node.func)))
    return found


def test_the_scan_sees_a_commit_wherever_it_is_written():
    source = (
        "def view():\n"
        "    db.session.add(x)\n"
        "    db.session.commit()\n"
        "    outbox.commit()\n"
        "    seen.add(1)\n"  # a set, not a session
        "    session.flush()\n"
    )
    assert [what for _, what in writes_in(source)] == [
        "db.session.add",
        "db.session.commit",
        "outbox.commit",
        "session.flush",
    ]


def test_no_route_module_writes_to_the_database(base_config):
    app = create_app(base_config)
    modules = route_modules(app)
    # Every area's views are found (the positions' board lives in its own module).
    assert {"app.positions.routes", "app.positions.board", "app.reports.routes"} <= modules
    offenders = []
    for name in sorted(modules):
        module = sys.modules[name]
        for line, what in writes_in(inspect.getsource(module)):
            offenders.append(f"{module.__file__}:{line}: {what}(...)")
    assert offenders == [], "move these writes into a service:\n" + "\n".join(offenders)
