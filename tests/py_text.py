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
