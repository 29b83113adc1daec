"""Rendering a fan-out without laying out 10,000 emails: one layout per shape, per job.

A send job renders hundreds of single messages that differ only in whom they are for (a
cancelled position: same kind, position, client, recruiter and wording for everyone). Each
such email is rendered once with placeholders standing for the recipient's own values (the
PERSONAL fields below); the result, CSS already inlined, is the stencil. Every other email
with the same everything-else gets the stencil with its own values put in: escaped exactly
as Jinja's autoescape escapes them (markupsafe.escape) in the HTML, as they are in the text
and subject. Digests, and anything the checks below cannot vouch for, are rendered in full.

What keeps one candidate's data out of another's email:
- the cache lives for one job (`Stencils` is made per batch) and its key is every value of
  the message's context except the PERSONAL ones, plus the kind and the client (an edited
  template is per kind and client) and whether each PERSONAL value is empty;
- a stencil never contains a PERSONAL value, only placeholders, and filling is one pass over
  it with this email's values only;
- PERSONAL values may only be printed as they are (`{{ first_name }}`) or tested for being
  empty (`{% if unsubscribe_url %}`) by the templates involved: a filter, a comparison or
  any other use, in the layout, the kind's file or an edited template, means full renders
  (checked on the templates' syntax trees);
- values with untidy whitespace go the full way (parts and subjects are stripped and
  collapsed, which a placeholder would not see);
- the first email of a shape is rendered in full (most jobs outside a fan-out send one email
  of each shape); when a second comes, the stencil is made and filled with the first
  email's values it must reproduce that full render (apart from how CSS inlining
  re-serialises HTML entities), or the shape is rendered in full for the rest of the job.
  The first email then goes with the rest of its shape (`Stencils.upgrades`).
"""

from __future__ import annotations

import html as htmllib
import logging
import re
import secrets
from dataclasses import dataclass

from flask import current_app
from jinja2 import nodes
from markupsafe import escape

from app.models import Notification
from app.notifications import render
from app.notifications.backends import SharedBody

log = logging.getLogger(__name__)

# Values that differ from one recipient to the next in a fan-out.
PERSONAL = (
    "first_name",
    "candidate_name",
    "status_url",
    "preferences_url",
    "unsubscribe_url",
    "application_id",
)
_PERSONAL = frozenset(PERSONAL)
_PLAIN = frozenset({str, int, float, bool, type(None)})
LAYOUTS = ("email/message.html", "email/message.txt")
# Random per process: a value can never be mistaken for a placeholder, nor forge one.
_NONCE = secrets.token_hex(8)
_TOKEN = re.compile(f"zq{_NONCE}q([0-9]+)qz")
_UNSAFE = object()


def _token(index: int) -> str:
    return f"zq{_NONCE}q{index}qz"


def _text_tag(slot: int) -> str:
    return f"-cl{_NONCE}t{slot}-"


def _html_tag(slot: int) -> str:
    return f"-cl{_NONCE}h{slot}-"


@dataclass(frozen=True)
class _Stencil:
    subject: tuple[list[str], list[int]]
    text: tuple[list[str], list[int]]
    html: tuple[list[str], list[int]]
    shared: SharedBody

    @classmethod
    def cut(cls, key: str, subject: str, text: str, html: str) -> _Stencil:
        text_parts, html_parts = _split(text), _split(html)
        # The provider's copy: the same layout with its substitution tags in the slots.
        shared = SharedBody(
            key=key,
            text=_join(text_parts, [_text_tag(i) for i in range(len(PERSONAL))]),
            html=_join(html_parts, [_html_tag(i) for i in range(len(PERSONAL))]),
        )
        return cls(_split(subject), text_parts, html_parts, shared)

    def fill(self, values: list[str]) -> tuple[str, str, str, SharedBody, dict[str, str]]:
        escaped = [_escaped(v) for v in values]
        fills = {_text_tag(i): values[i] for i in set(self.text[1])}
        fills.update({_html_tag(i): escaped[i] for i in set(self.html[1])})
        return (
            _join(self.subject, values),
            _join(self.text, values),
            _join(self.html, escaped),
            self.shared,
            fills,
        )


_ESCAPED_CHARS = re.compile("[&<>\"']")


def _escaped(value: str) -> str:
    """str(markupsafe.escape(value)), without building a Markup for the (usual) values
    that have nothing to escape."""
    return str(escape(value)) if _ESCAPED_CHARS.search(value) else value


def _split(rendered: str) -> tuple[list[str], list[int]]:
    pieces = _TOKEN.split(rendered)
    return pieces[0::2], [int(i) for i in pieces[1::2]]


def _join(stencil: tuple[list[str], list[int]], values: list[str]) -> str:
    static, slots = stencil
    if not slots:
        return static[0]
    out = [static[0]]
    for slot, after in zip(slots, static[1:], strict=True):
        out.append(values[slot])
        out.append(after)
    return "".join(out)


@dataclass(frozen=True)
class _First:
    """The only email of its shape so far: rendered in full, kept to check a stencil with."""

    lead_id: int
    values: list
    full: tuple[str, str, str]


class Stencils:
    """The stencils of one send job. Not shared between jobs, threads or processes."""

    def __init__(self):
        self._stencils: dict[tuple, object] = {}
        self._safe: dict[tuple[str, int | None, str], bool] = {}
        # Emails rendered in full whose shape got a stencil afterwards: lead notification
        # id -> (shared layout, their fills), so they can join that shape's request.
        self.upgrades: dict[int, tuple[SharedBody, dict[str, str]]] = {}
        self.hits = 0  # emails filled in from a stencil
        self.full = 0  # emails rendered in full
        self.made = 0  # stencils made

    def compose(self, rows: list[Notification], envelope: dict, contexts: list[dict]) -> tuple:
        """What render.compose returns for these rows, plus the layout the email shares with
        others and its own values for it (None and {} when rendered in full)."""
        if len(rows) != 1:
            return self._full(rows, envelope, contexts)
        n, ctx = rows[0], contexts[0]
        values = [ctx.get(name) for name in PERSONAL]
        if not all(_fillable(v) for v in values):
            return self._full(rows, envelope, contexts)
        client_id = n.application.position.client_id
        language = ctx.get("language") or "en"
        # Names and values of everything else, in the context's own order (another order
        # can only miss the cache, never hit a wrong entry).
        key = (
            n.kind,
            client_id,
            tuple(v if not v else True for v in values),  # empty, and which kind of empty
            tuple(
                (k, type(v), v if type(v) in _PLAIN else _freeze(v))  # True is not 1
                for k, v in ctx.items()
                if k not in _PERSONAL
            ),
        )
        stencil = self._stencils.get(key)
        if stencil is None:
            # The first email of a shape is rendered in full: a stencil costs a second
            # render and pays off only from the next email of the shape (most jobs outside
            # a fan-out send one email of each).
            result = self._full(rows, envelope, contexts)
            self._stencils[key] = _First(n.id, values, result[:3])
            return result
        if isinstance(stencil, _First):
            stencil = self._make(n, (client_id, language), envelope, ctx, values, stencil)
            self._stencils[key] = stencil
        if stencil is _UNSAFE:
            return self._full(rows, envelope, contexts)
        self.hits += 1
        return stencil.fill(_strings(values))

    def _full(self, rows, envelope, contexts):
        self.full += 1
        return (*render.compose(rows, envelope, contexts), None, {})

    def _make(self, n: Notification, where, envelope: dict, ctx: dict, values, first):
        """A stencil from this email's shape, checked against the first email's full
        render: filled with the first's values it must reproduce it exactly. `where`:
        (client id, language), which pick the wording."""
        client_id, language = where
        if not self._templates_safe(n.kind, client_id, language):
            return _UNSAFE
        slots = enumerate(zip(PERSONAL, values, strict=True))
        marks = {name: _token(i) for i, (name, v) in slots if v}
        marked_envelope = {k: marks.get(k, v) for k, v in envelope.items()}
        marked = {k: marks.get(k, v) for k, v in ctx.items()}
        self.made += 1
        key = f"layout-{self.made}"
        stencil = _Stencil.cut(key, *render.compose([n], marked_envelope, [marked]))
        # A difference means a use of a value the checks above did not foresee: this shape
        # is then rendered in full for the rest of the job.
        subject, text, html = first.full
        got = stencil.fill(_strings(first.values))
        if got[:2] != (subject, text) or not _same_html(got[2], html):
            log.warning("stencil for %s (client %s) differs from a full render", n.kind, client_id)
            return _UNSAFE
        self.upgrades[first.lead_id] = (stencil.shared, got[4])
        return stencil

    def _templates_safe(self, kind: str, client_id: int | None, language: str) -> bool:
        key = (kind, client_id, language)
        if key not in self._safe:
            self._safe[key] = all(
                checked_template(env, t) for env, t in _templates(kind, client_id, language)
            )
        return self._safe[key]


def _templates(kind: str, client_id: int | None, language: str = "en"):
    """(environment, template) for every template an email of this kind renders: the
    layouts and the kind's file in the language, or the agency's edited template (Draft)."""
    from app.notifications import custom_templates

    env = current_app.jinja_env
    for name in LAYOUTS:
        yield env, env.get_template(name)
    override = custom_templates.active(kind, client_id, language)
    if override is None:
        yield env, env.get_template(render.builtin_file(kind, language))
    else:
        yield None, override.draft


# Template (or Draft) -> is it safe; the object is kept so its id is never reused. A file
# edited on disk is reloaded by Jinja as a new Template, an edited override is a new Draft.
_CHECKED: dict[int, tuple[object, bool]] = {}


def checked_template(env, template) -> bool:
    """May `template` be stencilled (see plain_uses_only)? Answered once per template."""
    entry = _CHECKED.get(id(template))
    if entry is not None and entry[0] is template:
        return entry[1]
    if env is None:  # an agency's Draft: subject and parts, text or HTML
        from app.notifications import custom_templates

        safe = all(
            plain_uses_only(
                (custom_templates.HTML_ENV if is_html else custom_templates.TEXT_ENV).parse(src),
                PERSONAL,
            )
            for src, _label, is_html in template.sources().values()
            if src.strip()
        )
    else:
        source = env.loader.get_source(env, template.name)[0]
        safe = plain_uses_only(env.parse(source), PERSONAL)
    if len(_CHECKED) > 1000:
        _CHECKED.clear()
    _CHECKED[id(template)] = (template, safe)
    return safe


def plain_uses_only(tree: nodes.Node, names, parent: nodes.Node | None = None) -> bool:
    """True if `names` appear in the template only printed as they are (`{{ x }}`,
    `{{ item.x }}`, `{{ item["x"] }}`) or as the whole test of an `{% if %}`."""
    if _mentions(tree, names, parent) and not (
        isinstance(parent, nodes.Output)
        or (isinstance(parent, nodes.If) and parent.test is tree)
        or (isinstance(parent, nodes.Getitem) and parent.arg is tree)
    ):
        return False
    return all(plain_uses_only(child, names, tree) for child in tree.iter_child_nodes())


def _mentions(node: nodes.Node, names, parent) -> bool:
    if isinstance(node, nodes.Name):
        return node.name in names
    if isinstance(node, nodes.Getattr):
        return node.attr in names
    if isinstance(node, nodes.Getitem):
        return isinstance(node.arg, nodes.Const) and node.arg.value in names
    if isinstance(node, nodes.Const):
        # map(attribute="first_name"), {% if "first_name" in item %}, …
        return isinstance(node.value, str) and node.value in names
    return False


def _strings(values: list) -> list[str]:
    return [str(v) if v else "" for v in values]


def _fillable(value) -> bool:
    """Empty, or a value a placeholder can stand for: a string or number whose whitespace
    is already tidy (parts are stripped and subjects collapsed before the value is in)."""
    if value is None or value == "":
        return True
    if isinstance(value, bool) or not isinstance(value, str | int):
        return False
    text = str(value)
    return text == " ".join(text.split())


def _freeze(value):
    """A hashable stand-in for a context value; equal only for values that print the same."""
    if isinstance(value, dict):
        return (dict, tuple((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, set | frozenset):
        return (type(value), tuple(sorted((_freeze(v) for v in value), key=repr)))
    if isinstance(value, list | tuple):
        return (type(value), tuple(_freeze(v) for v in value))
    return (type(value), value)


def _same_html(ours: str, inlined: str) -> bool:
    """Equal, or equal once entities are decoded: CSS inlining re-serialises the document
    (`&#39;` comes back as `'`), while a stencil carries markupsafe's escaping."""
    return ours == inlined or htmllib.unescape(ours) == htmllib.unescape(inlined)
