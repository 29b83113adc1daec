"""What a person reads in a page template, found without rendering it: the text between HTML
tags (and a few attributes people read: title, placeholder, aria-label, alt), with Jinja's
`{{ }}` / `{% %}` / `{# #}` told apart from it. tests/test_i18n.py uses it to name text a
staff template shows without marking it for translation (`{{ _("…") }}`).

It is a scanner, not a parser: enough for our templates (no `<` inside text, attributes
quoted), and it errs towards naming too much, which the allowlist in the test answers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tests.js_text import reads_as_words

# Attributes whose value a person reads (or hears, from a screen reader).
READ_ATTRIBUTES = ("title", "placeholder", "aria-label", "alt", "aria-description", "data-confirm")
# Elements whose text is code, data or script rather than words; and any element marked
# translate="no" (HTML's own word for "this is a name or a code": CSV column names).
NOT_WORDS = ("script", "style", "code", "pre", "kbd", "samp", "svg", "textarea")
_VOID = {"area", "br", "col", "hr", "img", "input", "link", "meta", "source", "wbr"}
_NO_TRANSLATE = re.compile(r"""\stranslate=["']no["']""")
_ENTITY = re.compile(r"&#?\w+;")
_WORDS = re.compile(r"[A-Za-z]{2,}")
_TAG_NAME = re.compile(r"</?\s*([A-Za-z][\w-]*)")
_ATTRIBUTE = re.compile(r"""([\w:-]+)\s*=\s*("([^"]*)"|'([^']*)')""", re.S)


@dataclass
class Token:
    kind: str  # text, expr ({{ }}), stmt ({% %}), comment ({# #} or <!-- -->), tag
    source: str
    start: int


def _jinja_end(source: str, i: int, close: str) -> int:
    """Index just past the `close` of the Jinja token opening at i, skipping quoted strings."""
    j, quote = i + 2, None
    while j < len(source):
        ch = source[j]
        if quote:
            if ch == "\\":
                j += 2
                continue
            if ch == quote:
                quote = None
        elif ch in "\"'" and close != "#}":
            quote = ch
        elif source.startswith(close, j):
            return j + 2
        j += 1
    raise ValueError(f"unclosed Jinja token at {i}")


def _tag_end(source: str, i: int) -> int:
    """Index just past the `>` of the HTML tag opening at i (quotes and Jinja skipped)."""
    j, quote = i + 1, None
    while j < len(source):
        if source.startswith(("{{", "{%", "{#"), j):
            j = _jinja_end(source, j, {"{{": "}}", "{%": "%}", "{#": "#}"}[source[j : j + 2]])
            continue
        ch = source[j]
        if quote:
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch == ">":
            return j + 1
        j += 1
    raise ValueError(f"unclosed tag at {i}")


def tokens(source: str) -> list[Token]:
    out: list[Token] = []
    i, text_start = 0, 0

    def flush(upto: int) -> None:
        if upto > text_start:
            out.append(Token("text", source[text_start:upto], text_start))

    while i < len(source):
        two = source[i : i + 2]
        if two in ("{{", "{%", "{#"):
            flush(i)
            end = _jinja_end(source, i, {"{{": "}}", "{%": "%}", "{#": "#}"}[two])
            kind = {"{{": "expr", "{%": "stmt", "{#": "comment"}[two]
            out.append(Token(kind, source[i:end], i))
            i = text_start = end
        elif source.startswith("<!--", i):
            flush(i)
            end = source.index("-->", i) + 3
            out.append(Token("comment", source[i:end], i))
            i = text_start = end
        elif two[:1] == "<" and len(two) == 2 and (two[1].isalpha() or two[1] in "/!"):
            flush(i)
            end = _tag_end(source, i)
            out.append(Token("tag", source[i:end], i))
            i = text_start = end
        else:
            i += 1
    flush(len(source))
    return out


def tag_name(tag: str) -> tuple[str, bool]:
    """(lower-case name, closing?) of a tag token."""
    found = _TAG_NAME.match(tag)
    return (found.group(1).lower() if found else "", tag.startswith("</"))


def runs(toks: list[Token]):
    """Runs of text and `{{ }}` between tags and statements: what reads as one piece of
    text. Yields lists of tokens; text inside NOT_WORDS elements, {% trans %} and `*_class`
    blocks is left out."""
    skipping: list[str] = []
    in_trans = False
    run: list[Token] = []
    for tok in toks:
        if tok.kind in ("text", "expr"):
            if not skipping and not in_trans:
                run.append(tok)
            continue
        if run:
            yield run
            run = []
        if tok.kind == "tag":
            name, closing = tag_name(tok.source)
            marked_no = not closing and name not in _VOID and _NO_TRANSLATE.search(tok.source)
            if name in NOT_WORDS or marked_no:
                if closing and skipping and skipping[-1] == name:
                    skipping.pop()
                elif not closing and not tok.source.rstrip(">").endswith("/"):
                    skipping.append(name)
        elif tok.kind == "stmt":
            words = tok.source.strip("{%-+ }").split()
            if words and words[0] == "trans":
                in_trans = True
            elif words and words[0] == "endtrans":
                in_trans = False
            # {% block main_class %}: CSS classes, not words (such blocks hold no others).
            elif len(words) > 1 and words[0] == "block" and words[1].endswith("_class"):
                in_trans = True
            elif words and words[0] == "endblock":
                in_trans = False
    if run:
        yield run


def words_of(run: list[Token]) -> str:
    """The run's own text (expressions left out), entities removed, spaces collapsed."""
    text = " ".join(t.source for t in run if t.kind == "text")
    return " ".join(_ENTITY.sub(" ", text).split())


def has_words(text: str) -> bool:
    return bool(_WORDS.search(_ENTITY.sub(" ", text)))


def read_attributes(tag: str):
    """(name, value, start, end) of each READ_ATTRIBUTES attribute of a tag token; start and
    end are the value's offsets in the tag."""
    for found in _ATTRIBUTE.finditer(tag):
        name = found.group(1).lower()
        if name in READ_ATTRIBUTES:
            group = 3 if found.group(3) is not None else 4
            yield name, found.group(group), found.start(group), found.end(group)


def unmarked(source: str) -> list[str]:
    """Text a person reads that is not inside `_()` or a trans block."""
    toks = tokens(source)
    found = [words_of(run) for run in runs(toks) if has_words(words_of(run))]
    for tok in toks:
        if tok.kind == "tag":
            for name, value, _s, _e in read_attributes(tok.source):
                plain = re.sub(r"\{\{.*?\}\}|\{%.*?%\}", " ", value, flags=re.S)
                if has_words(plain):
                    found.append(f"{name}={plain.strip()}")
    return found


# -- English inside Jinja expressions --------------------------------------------------------

_GETTEXT = {"_", "gettext", "ngettext", "pgettext", "npgettext"}
# Methods whose arguments are codes and formats, not text: {% if category.startswith('undo:') %}
_STRING_METHODS = {"startswith", "endswith", "split", "replace", "strftime", "format", "join"}
_NOT_WORDS_CONST = re.compile(
    r"^[\s\W\d]*$"  # punctuation, numbers
    r"|^%[-#0 +]?[\d.]*[A-Za-z]$"  # '%.1f'
    r"|^(%[A-Za-z][\s:,./-]*)+$"  # strftime('%d %b %H:%M')
    r"|^\{\w+\}$"  # a placeholder a script fills in (templates/_js_strings.html)
)


def _shown_consts(node, jinja_nodes):
    """String constants an expression can evaluate to (through `a if c else b`, `~`, `+`,
    `or`/`and` and the value a filter is applied to): what ends up on the page."""
    if isinstance(node, jinja_nodes.Const):
        if isinstance(node.value, str):
            yield node
    elif isinstance(node, jinja_nodes.CondExpr):
        yield from _shown_consts(node.expr1, jinja_nodes)
        if node.expr2 is not None:
            yield from _shown_consts(node.expr2, jinja_nodes)
    elif isinstance(node, jinja_nodes.Concat):
        for child in node.nodes:
            yield from _shown_consts(child, jinja_nodes)
    elif isinstance(node, jinja_nodes.Add | jinja_nodes.Or | jinja_nodes.And):
        yield from _shown_consts(node.left, jinja_nodes)
        yield from _shown_consts(node.right, jinja_nodes)
    elif isinstance(node, jinja_nodes.Filter) and node.node is not None:
        yield from _shown_consts(node.node, jinja_nodes)


def english_in_expressions(source: str, env) -> list[str]:
    """English written as a string inside `{{ }}` rather than in a marked message: what an
    expression prints in the text or in a read attribute ({{ 's' if n != 1 }},
    {{ 'agency' if x else 'client' }}), and the values given to `_()` ("%(value)s",
    value='s' if n != 1: plural fragments and phrases a translator never sees). Formats
    ('%d %b', '%.1f'), punctuation and {name} placeholders for scripts are not words; an
    expression inside a tag counts only in a read attribute (a class name is not English)."""
    from jinja2 import nodes

    def words(const) -> bool:
        return bool(re.search(r"[A-Za-z]", const.value)) and not _NOT_WORDS_CONST.match(const.value)

    def printed(expression: str) -> list[str]:
        found = []
        for output in env.parse(expression).find_all(nodes.Output):
            for child in output.nodes:
                if not isinstance(child, nodes.TemplateData):
                    found += [c.value for c in _shown_consts(child, nodes) if words(c)]
        return found

    toks = tokens(source)
    found: list[str] = []
    for run in runs(toks):
        for tok in run:
            if tok.kind == "expr":
                found += printed(tok.source)
    for tok in toks:
        if tok.kind == "tag":
            for _name, value, _s, _e in read_attributes(tok.source):
                for expr in re.findall(r"\{\{.*?\}\}", value, flags=re.S):
                    found += printed(expr)
    for call in env.parse(source).find_all(nodes.Call):
        name = call.node.name if isinstance(call.node, nodes.Name) else ""
        if isinstance(call.node, nodes.Getattr) and call.node.attr in _STRING_METHODS:
            continue
        if name in _GETTEXT:
            for kw in call.kwargs:
                found += [
                    f"{kw.key}={c.value!r}" for c in _shown_consts(kw.value, nodes) if words(c)
                ]
        elif name != "url_for":
            # A macro's title or label ({{ header(imp, "Importing…") }}); a single lower-case
            # word is taken for a code ('owed', 'hourglass-bottom'), as in tests/js_text.py.
            for arg in [*call.args, *(kw.value for kw in call.kwargs)]:
                found += [
                    f"{name}({c.value!r})"
                    for c in _shown_consts(arg, nodes)
                    if words(c) and reads_as_words(c.value)
                ]
    return found
