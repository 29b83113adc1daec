"""Words a person reads that Python code writes without marking them for translation: the
message of an exception that reaches a page (`flash(str(exc))`, a form error), a flash
message, a form validator's `message=`. tests/test_i18n_staff.py runs it over app/.

A literal counts when it has a space between words (a message, not a field name such as
"email"); an f-string always counts, since `_()` cannot take one (use `%(name)s`). Text
inside `_()`, `_l()`, `gettext()`, `ngettext()` and the like is marked; any other call
(`str(exc)`, a label function) is someone else's text and is not looked into.
"""

from __future__ import annotations

import ast
import re

MARKERS = {
    "_",
    "_l",
    "gettext",
    "ngettext",
    "lazy_gettext",
    "lazy_ngettext",
    "fast_gettext",
    "fast_ngettext",
}
# WTForms validators taking a message (by keyword or position): EqualTo("field", "…").
VALIDATORS = {
    "DataRequired", "InputRequired", "Length", "EqualTo", "FileRequired", "FileAllowed",
    "Regexp", "Email", "NumberRange", "AnyOf", "NoneOf", "URL", "Optional",
}  # fmt: skip
_MESSAGE = re.compile(r"[A-Za-z]{2,}\S*\s+\S*[A-Za-z]")


def _name(func: ast.expr) -> str:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def _english(node: ast.expr) -> str | None:
    """The unmarked English in an argument, or None: literals, f-strings, and what `+`,
    `%`, `x if c else y`, `x or y` and `"…".format()` build from them."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value if _MESSAGE.search(node.value) else None
    if isinstance(node, ast.JoinedStr):
        text = "".join(v.value for v in node.values if isinstance(v, ast.Constant))
        return "f" + repr(text) if re.search(r"[A-Za-z]{2,}", text) else None
    if isinstance(node, ast.BinOp):
        return _english(node.left) or _english(node.right)
    if isinstance(node, ast.IfExp):
        return _english(node.body) or _english(node.orelse)
    if isinstance(node, ast.BoolOp):
        return next(filter(None, map(_english, node.values)), None)
    if isinstance(node, ast.Call):
        if _name(node.func) in MARKERS:
            return None
        if isinstance(node.func, ast.Attribute) and node.func.attr == "format":
            return _english(node.func.value)
    return None


def unmarked(source: str, raised: set[str]) -> list[tuple[int, str]]:
    """(line, text) of unmarked words given to `raise X(…)` for X in `raised`, to
    `flash(…)`, to a WTForms validator, or as a `message=` argument."""
    found: list[tuple[int, str]] = []

    def check(node: ast.expr, line: int) -> None:
        text = _english(node)
        if text:
            found.append((line, text))

    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
            if _name(node.exc.func) in raised:
                for arg in [*node.exc.args, *(k.value for k in node.exc.keywords)]:
                    check(arg, node.lineno)
        elif isinstance(node, ast.Call):
            if _name(node.func) == "flash" and node.args:
                check(node.args[0], node.lineno)
            if _name(node.func) in VALIDATORS:  # the message may be given by position
                for arg in node.args:
                    check(arg, node.lineno)
            for k in node.keywords:
                if k.arg == "message":
                    check(k.value, node.lineno)
    return found


def exception_classes(sources: list[str], roots: set[str]) -> set[str]:
    """The classes among `sources` that derive (at any depth) from one of `roots`, and the
    roots themselves: every exception whose message a page may show."""
    bases: dict[str, set[str]] = {}
    for source in sources:
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.ClassDef):
                bases.setdefault(node.name, set()).update(_name(b) for b in node.bases)
    found = set(roots)
    while True:
        more = {name for name, of in bases.items() if of & found} - found
        if not more:
            return found
        found |= more


# -- text written into the database for staff (app/stored_words.py) ------------------------

# Columns holding our words for staff to read later: they store a code and its arguments.
STORED_FIELDS = {"title", "detail", "last_error", "note", "disabled_reason"}
# Calls whose keyword `<field>=` writes such a column (constructors, open_task, update values).
STORED_WRITERS = {
    "open_task", "Task", "values", "CandidateAction", "AuditEntry", "WebhookEndpoint",
    "OverdueItem", "Alert", "Notification", "record", "record_alone",
}  # fmt: skip
# Functions taking the words to store by position (index) or as `reason=` / `message=`.
STORED_ARGUMENTS = {
    "fail": 1, "hold": 2, "_release": 2, "_reschedule": 2, "raise_alert": 2,
    "record": 3, "record_alone": 3,
}  # fmt: skip


def _frozen(node: ast.expr) -> str | None:
    """English, or words marked at write time (`_("…")` stores the writer's language)."""
    if isinstance(node, ast.Call) and _name(node.func) in MARKERS and node.args:
        first = node.args[0]
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            return f"{_name(node.func)}({first.value!r})"
    if isinstance(node, ast.IfExp):
        return _frozen(node.body) or _frozen(node.orelse)
    return _english(node)


def stored_english(source: str) -> list[tuple[int, str]]:
    """(line, text) of English (or words marked when written) stored into a column staff
    read later: `title=f"…"`, `n.last_error = "…"`, `fail(n, "…")`,
    `sa.literal("…").label("note")`. A code from app/stored_words.py is what to store."""
    found: list[tuple[int, str]] = []

    def check(node: ast.expr, line: int) -> None:
        text = _frozen(node)
        if text:
            found.append((line, text))

    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            name = _name(node.func)
            if name in STORED_WRITERS:
                for k in node.keywords:
                    if k.arg in STORED_FIELDS:
                        check(k.value, node.lineno)
            if name in STORED_ARGUMENTS:
                at = STORED_ARGUMENTS[name]
                if len(node.args) > at:
                    check(node.args[at], node.lineno)
                for k in node.keywords:
                    if k.arg in ("reason", "message"):
                        check(k.value, node.lineno)
            if (
                name == "label"
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and node.args[0].value in STORED_FIELDS
                and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Call)
                and node.func.value.args
            ):
                check(node.func.value.args[0], node.lineno)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                pairs = [(target, node.value)]
                if isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple):
                    pairs = list(zip(target.elts, node.value.elts, strict=False))
                for t, value in pairs:
                    if isinstance(t, ast.Attribute) and t.attr in STORED_FIELDS:
                        check(value, node.lineno)
    return sorted(found, key=lambda item: item[0])
