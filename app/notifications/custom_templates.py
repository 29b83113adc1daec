"""Agency-edited wording for message kinds, rendered in a sandbox.

An override replaces what the built-in file templates/email/kinds/<kind>.txt says: the
subject and the three parts every message answers (what happened, what happens next, when
they will hear from us), each in plain text and optionally HTML. The layout around them
(greeting, whom to contact, status link, unsubscribe, signature) is never editable, so an
edited message still keeps every promise.

Stored in MessageTemplate: body_text and body_html hold the parts as Jinja blocks, the same
shape as the built-in files. Resolution: client override > agency override > built-in.

Templates are written by staff but rendered for candidates, so they get a deliberately
small language: merge fields (plain strings), `{% if field %}`, and a few text filters.
Anything else (attribute access, calls, loops, includes, `self`) is refused at save.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass

import nh3
import sqlalchemy as sa
from flask import current_app
from jinja2 import StrictUndefined, TemplateSyntaxError, nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup, escape

from app import labels
from app.extensions import db
from app.models import MessageTemplate
from app.template_gettext import fast_gettext as _
from app.template_gettext import lazy_gettext as _l

PARTS = ("happened", "next", "when")
PART_LABELS = {
    "happened": _l("What happened"),
    "next": _l("What happens next"),
    "when": _l("When they will hear from us"),
}


@dataclass(frozen=True)
class MergeField:
    name: str
    description: str
    # Words are marked (the editor shows them in the page's language); a date's example is
    # "" here and written when shown (message_templates.services.SAMPLE_MOMENTS).
    example: str
    # A field holding a code, for conditions only ({% if reason == "budget_cut" %}): the
    # codes it can hold and their words, shown to whoever writes the condition.
    codes: Mapping[str, str] | None = None


MERGE_FIELDS: tuple[MergeField, ...] = (
    MergeField("first_name", _l("The candidate's first name"), "Priya"),
    MergeField("candidate_name", _l("The candidate's full name"), "Priya Sharma"),
    MergeField("position_title", _l("The position's title"), _l("Senior Data Engineer")),
    MergeField("client_name", _l("The client's name"), "Northwind Logistics"),
    MergeField("agency_name", _l("Our agency's name"), "Closeloop Staffing"),
    MergeField("recruiter_name", _l("The recruiter who owns the position"), "Sam Carter"),
    MergeField("recruiter_email", _l("The recruiter's email address"), "sam@agency.example"),
    MergeField("recruiter_phone", _l("The recruiter's phone number"), "+44 20 7946 0000"),
    MergeField("stage_label", _l("Where the application stands"),
               _l("being reviewed by the client")),
    MergeField("interview_at", _l("Interview date and time, in their time zone"), ""),
    MergeField("interviewers", _l("Who will interview them"), _l("Dana Lee and Omar Haddad")),
    MergeField("client_contact", _l("Their contact at the client on the day"), "Dana Lee"),
    MergeField("next_step", _l("The next step the recruiter wrote"),
               _l("A short technical exercise.")),
    MergeField("promised_date", _l("The date the client promised a decision by"), ""),
    MergeField("new_expected_date", _l("The new expected date (role on hold, still deciding)"),
               ""),
    MergeField("expected_date", _l("When we expect the next news"), ""),
    MergeField("expected_what", _l("What we expect then: interview, decision or update"),
               "decision"),
    MergeField("reason", _l("Why it ended, to test in a condition"), "budget_cut",
               codes=labels.REASONS),
    MergeField("link_expires", _l("The date their status link stops working"), ""),
)  # fmt: skip
FIELD_NAMES = tuple(f.name for f in MERGE_FIELDS)
# What a check renders with; the editor's sample candidate (message_templates.services)
# adds the dates, written in the language being previewed.
SAMPLE_VALUES = {f.name: f.example for f in MERGE_FIELDS}
ALLOWED_FILTERS = ("upper", "lower", "title", "capitalize", "trim")

# Only these node types may appear in an edited template; everything else is refused. None of
# them can make a small template produce a large text or take long to render: no arithmetic,
# repetition or concatenation, no item access, no calls, no loops.
_ALLOWED_NODES = (
    nodes.Template,
    nodes.Output,
    nodes.TemplateData,
    nodes.Name,
    nodes.If,
    nodes.Filter,
    nodes.Not,
    nodes.And,
    nodes.Or,
    nodes.Compare,  # {% if reason == "budget_cut" %}: strings only, nothing to reach through
    nodes.Operand,
    nodes.Const,
)
_BLOCK_TAG = re.compile(r"\{%-?\s*(end)?(block|raw)\b")
_STORED_BLOCK = re.compile(r"\{% block (happened|next|when) %\}(.*?)\{% endblock %\}", re.S)
# Longest part or subject accepted (the editor's fields are bounded the same way).
MAX_SOURCE_CHARS = 5000
MAX_SUBJECT_CHARS = 300
# Deepest nesting of {% if %} blocks, brackets or operators; real wording needs two or three.
MAX_NESTING = 12
_OPENERS = {"(": ")", "[": "]", "{": "}"}


class _MessageSandbox(ImmutableSandboxedEnvironment):
    """The sandbox staff wording renders in. Arithmetic is refused when the template runs,
    and so also when Jinja's optimizer would fold constants at compile time (it skips
    intercepted operators): `'z' * 200000000` can never be built, even from a row saved
    before the checks below existed."""

    intercepted_binops = frozenset({"+", "-", "*", "/", "//", "%", "**"})
    intercepted_unops = frozenset({"+", "-"})

    def call_binop(self, context, operator, left, right):
        raise SecurityError(f"arithmetic ({operator}) is not allowed in message wording")

    def call_unop(self, context, operator, arg):
        raise SecurityError(f"arithmetic ({operator}) is not allowed in message wording")


def _env(autoescape: bool) -> ImmutableSandboxedEnvironment:
    env = _MessageSandbox(autoescape=autoescape, undefined=StrictUndefined)
    env.globals.clear()  # no range, cycler, joiner, namespace, lipsum, dict
    env.filters = {name: env.filters[name] for name in ALLOWED_FILTERS}
    env.tests = {}
    return env


log = logging.getLogger(__name__)
TEXT_ENV = _env(autoescape=False)
HTML_ENV = _env(autoescape=True)


class TemplateInvalid(Exception):
    """Validation failed; `errors` maps a form field ("subject", "text_next", …) to messages."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__("; ".join(m for ms in errors.values() for m in ms))
        self.errors = errors


@dataclass(frozen=True)
class Draft:
    """What an override edits: a subject and the three parts, in text and (optionally) HTML."""

    subject: str
    text: dict[str, str]
    html: dict[str, str]

    def sources(self) -> dict[str, tuple[str, str, bool]]:
        """form field -> (source, label, is_html)"""
        out = {"subject": (self.subject, _("Subject"), False)}
        for p in PARTS:
            out[f"text_{p}"] = (
                self.text.get(p, ""),
                _("%(part)s (plain text)", part=PART_LABELS[p]),
                False,
            )
            out[f"html_{p}"] = (
                self.html.get(p, ""),
                _("%(part)s (HTML)", part=PART_LABELS[p]),
                True,
            )
        return out

    @property
    def body_text(self) -> str:
        return _join_blocks(self.text)

    @property
    def body_html(self) -> str | None:
        return _join_blocks(self.html) if any(self.html.get(p, "").strip() for p in PARTS) else None

    @classmethod
    def from_row(cls, row: MessageTemplate) -> Draft:
        return cls(row.subject, split_blocks(row.body_text), split_blocks(row.body_html or ""))


def _join_blocks(parts: dict[str, str]) -> str:
    return "\n".join(f"{{% block {p} %}}{parts.get(p, '').strip()}{{% endblock %}}" for p in PARTS)


def split_blocks(body: str) -> dict[str, str]:
    found = dict(_STORED_BLOCK.findall(body or ""))
    return {p: found.get(p, "").strip() for p in PARTS}


# -- checking what staff wrote ------------------------------------------------------------


def prepare(draft: Draft) -> Draft:
    """The draft as it would be saved (HTML sanitised), or TemplateInvalid naming every
    problem. Saving and previewing both go through here."""
    draft = sanitize_draft(draft)
    validate(draft)
    return draft


def validate(draft: Draft) -> None:
    """Raise TemplateInvalid naming every problem, or return when the draft is safe to save."""
    errors = problems(draft)
    if errors:
        raise TemplateInvalid(errors)
    try:
        render_draft(draft, {name: str(v) for name, v in SAMPLE_VALUES.items()})
    except Exception as exc:  # noqa: BLE001 - the sandbox's refusal, reported to the editor
        problem = _("The template cannot be rendered: %(problem)s", problem=exc)
        raise TemplateInvalid({"subject": [problem]}) from exc


def problems(draft: Draft) -> dict[str, list[str]]:
    """form field -> what is wrong with it; nothing is compiled or rendered."""
    errors: dict[str, list[str]] = {}
    for name, (source, label, is_html) in draft.sources().items():
        required = name == "subject" or name.startswith("text_")
        if not source.strip():
            if required:
                errors.setdefault(name, []).append(
                    _("%(part)s: this part cannot be empty.", part=label)
                )
            continue
        limit = MAX_SUBJECT_CHARS if name == "subject" else MAX_SOURCE_CHARS
        found = check_source(source, label, HTML_ENV if is_html else TEXT_ENV, limit)
        if is_html and not found and _jinja_inside_a_tag(sanitize_html(source)):
            found = [
                _(
                    "%(part)s: merge fields and {%% if %%} go in the text, not inside an HTML "
                    'tag or attribute (like href="…").',
                    part=label,
                )
            ]
        if found:
            errors[name] = found
    return errors


# -- HTML parts: sanitised on save and again when loaded -------------------------------------

_JINJA_TAG = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)
_MARK, _END = "\ue000", "\ue001"  # private-use characters: never in real wording
_MARKED = re.compile(f"{_MARK}(\\d+){_END}")
_MARK_IN_TAG = re.compile(f"<[^<>]*{_MARK}")


def sanitize_html(source: str) -> str:
    """The manager's HTML with everything unsafe for an email removed by nh3 (ammonia):
    scripts, styles, event handlers, `javascript:` links, forms, frames. Merge fields and
    {% if %} tags are set aside first, so the sanitiser sees them as text and leaves them
    (and comparisons such as `a < b` inside them) exactly as written."""
    tags: list[str] = []

    def hide(match: re.Match) -> str:
        tags.append(match.group(0))
        return f"{_MARK}{len(tags) - 1}{_END}"

    hidden = _JINJA_TAG.sub(hide, source.replace(_MARK, "").replace(_END, ""))
    cleaned = nh3.clean(hidden)
    return _MARKED.sub(lambda m: tags[int(m.group(1))], cleaned)


def _jinja_inside_a_tag(source: str) -> bool:
    """A merge field in an attribute could carry a `javascript:` link past the sanitiser."""
    return bool(_MARK_IN_TAG.search(_JINJA_TAG.sub(_MARK, source)))


def sanitize_draft(draft: Draft) -> Draft:
    html = {p: sanitize_html(s) if s.strip() else s for p, s in draft.html.items()}
    return Draft(draft.subject, dict(draft.text), html)


def check_source(source: str, label: str, env=TEXT_ENV, limit: int = MAX_SOURCE_CHARS) -> list[str]:
    """What is wrong with one part, from a fresh parse that nothing has compiled or
    optimised yet; nothing is compiled or rendered here, so no input can make it slow."""
    if len(source) > limit:
        return [
            _(
                "%(part)s: at most %(limit)s characters (this has %(length)s).",
                part=label,
                limit=format(limit, ","),
                length=format(len(source), ","),
            )
        ]
    if _BLOCK_TAG.search(source):
        return [_("%(part)s: {%% block %%} and {%% raw %%} tags are not allowed.", part=label)]
    try:
        if _nesting(env, source) > MAX_NESTING:
            return [_too_deep(label)]
        ast = env.parse(source)
    except TemplateSyntaxError as exc:
        return [
            _(
                "%(part)s, line %(line)s: %(problem)s",
                part=label,
                line=exc.lineno,
                problem=exc.message,
            )
        ]
    except RecursionError:
        return [_too_deep(label)]
    except ValueError as exc:  # e.g. a number literal too long to convert
        return [_("%(part)s: cannot be read (%(problem)s).", part=label, problem=exc)]
    problems: list[str] = []
    stack = [(ast, 0)]
    while stack:  # iteratively: a deep tree must not overflow the checker either
        node, depth = stack.pop()
        if depth > 4 * MAX_NESTING:
            return [_too_deep(label)]
        problem = _refused(node)
        if problem and (isinstance(node, nodes.Name), problem) not in problems:
            problems.append((isinstance(node, nodes.Name), problem))
        stack.extend((child, depth + 1) for child in node.iter_child_nodes())
    # An unknown merge field (a typo, most likely) is named first.
    ordered = sorted(problems, key=lambda p: not p[0])
    return [_("%(part)s: %(problem)s", part=label, problem=problem) for _n, problem in ordered]


def _too_deep(label: str) -> str:
    return _(
        "%(part)s: nested too deeply (at most %(levels)s levels of {%% if %%} or brackets).",
        part=label,
        levels=MAX_NESTING,
    )


def _nesting(env, source: str) -> int:
    """Deepest nesting of {% if %} blocks and brackets, from the tokens alone: the parser
    recurses once per level, so this is measured before it runs."""
    depth = deepest = 0
    after_block_begin = False
    for _lineno, kind, value in env.lexer.tokeniter(source, None):
        if kind == "operator" and value in _OPENERS:
            depth += 1
        elif kind == "operator" and value in _OPENERS.values():
            depth -= 1
        elif after_block_begin and kind == "name":
            depth += {"if": 1, "endif": -1}.get(value, 0)
        deepest = max(deepest, depth)
        after_block_begin = kind == "block_begin"
    return deepest


def _refused(node: nodes.Node) -> str | None:
    if isinstance(node, nodes.Name):
        if node.name not in FIELD_NAMES:
            return _(
                'unknown merge field "%(name)s". Valid fields are: %(fields)s.',
                name=node.name,
                fields=", ".join(FIELD_NAMES),
            )
        return None
    if isinstance(node, nodes.Filter):
        if node.name not in ALLOWED_FILTERS or node.args or node.kwargs:
            return _(
                'the filter "%(name)s" is not allowed (use %(filters)s).',
                name=node.name,
                filters=", ".join(ALLOWED_FILTERS),
            )
        return None
    if isinstance(node, nodes.Const):
        if node.value is not None and not isinstance(node.value, str | bool):
            return _("numbers are not allowed: merge fields are text; compare them with words.")
        return None
    if isinstance(node, _ALLOWED_NODES):
        return None
    if isinstance(node, nodes.Getattr | nodes.Getitem | nodes.Slice):
        return _("attribute and item access (like .name or [0]) is not allowed; use merge fields.")
    if isinstance(node, nodes.Call):
        return _("calling functions is not allowed.")
    if isinstance(node, nodes.BinExpr | nodes.UnaryExpr | nodes.Concat):
        return _("arithmetic and joining (+, -, *, /, ~ …) are not allowed; write the words out.")
    return _(
        "%(construct)s is not allowed. Use merge fields like {{ first_name }}, "
        "{%% if field %%}…{%% endif %%} and simple filters.",
        construct=type(node).__name__.lower(),
    )


def fields_needed(draft: Draft) -> set[str]:
    """Merge fields printed outside an `{% if field %}` that guards them: they must be filled."""
    needed: set[str] = set()
    for source, _label, is_html in draft.sources().values():
        if source.strip():
            env = HTML_ENV if is_html else TEXT_ENV
            _collect_needed(env.parse(source), frozenset(), needed)
    return needed


def _collect_needed(node: nodes.Node, guarded: frozenset, needed: set[str]) -> None:
    if isinstance(node, nodes.If):
        names = [node.test, *node.test.find_all(nodes.Name)]  # find_all skips the node itself
        tested = frozenset(n.name for n in names if isinstance(n, nodes.Name))
        for child in node.body:
            _collect_needed(child, guarded | tested, needed)
        for child in (*node.elif_, *node.else_):
            _collect_needed(child, guarded, needed)
        return
    if isinstance(node, nodes.Name) and node.name not in guarded:
        needed.add(node.name)
    for child in node.iter_child_nodes():
        _collect_needed(child, guarded, needed)


# -- rendering -----------------------------------------------------------------------------


def merge_values(ctx: dict) -> dict[str, str]:
    """Only plain strings reach a sandboxed template, never ORM objects."""
    return {name: "" if ctx.get(name) is None else str(ctx[name]) for name in FIELD_NAMES}


@dataclass(frozen=True)
class Compiled:
    subject: object
    text: dict
    html: dict
    draft: Draft
    needed: frozenset  # fields_needed(draft), worked out once per load


def compile_draft(draft: Draft) -> Compiled:
    html = {p: HTML_ENV.from_string(s) for p, s in draft.html.items() if s.strip()}
    return Compiled(
        subject=TEXT_ENV.from_string(draft.subject),
        text={p: TEXT_ENV.from_string(draft.text[p]) for p in PARTS},
        html=html,
        draft=draft,
        needed=frozenset(fields_needed(draft)),
    )


def render_compiled(tpl: Compiled, values: dict[str, str]) -> dict:
    """The parts as render._render_parts returns them, plus "html" parts and the "subject"."""
    text = {p: tpl.text[p].render(values).strip() for p in PARTS}
    # HTML parts come out of an autoescaping environment: merge fields are already escaped,
    # and the markup left is the manager's own wording.
    html = {
        p: Markup(tpl.html[p].render(values).strip())  # noqa: S704 - escaped above
        if p in tpl.html
        else escape(text[p])
        for p in PARTS
    }
    subject = " ".join(tpl.subject.render(values).split())
    return {**text, "html": html, "subject": subject}


def render_draft(draft: Draft, values: dict[str, str]) -> dict:
    return render_compiled(compile_draft(draft), values)


# -- which override applies, cached ------------------------------------------------------

_lock = threading.Lock()
_generation = 0  # bumped on every save: every app in this process reloads


def invalidate() -> None:
    global _generation
    with _lock:
        _generation += 1


class TemplateRefused(Exception):
    """A saved override that fails today's checks (saved before they existed, or written to
    the database by hand): never compiled, so it cannot run; its messages stay owed and the
    render alert tells an admin to save it again."""


@dataclass(frozen=True)
class Refused:
    draft: Draft
    problems: tuple[str, ...]


def active(kind: str, client_id: int | None, language: str = "en") -> Compiled | None:
    """The override that applies in this language: client's, else the agency's, else None
    (the built-in wording in that language)."""
    overrides = _overrides()
    found = overrides.get((kind, client_id, language)) or overrides.get((kind, None, language))
    if isinstance(found, Refused):
        if (kind, client_id, language) not in overrides:
            refusal = _(
                "the agency-wide wording for this message fails the template checks "
                "(%(problem)s); open it under Templates and save it again",
                problem=found.problems[0],
            )
        else:
            refusal = _(
                "this client's wording for this message fails the template checks "
                "(%(problem)s); open it under Templates and save it again",
                problem=found.problems[0],
            )
        raise TemplateRefused(refusal)
    return found


def _load(row: MessageTemplate) -> Compiled | Refused:
    # Checked before anything is compiled: compiling is where Jinja folds constants.
    draft = sanitize_draft(Draft.from_row(row))
    found = [m for ms in problems(draft).values() for m in ms]
    if found:
        log.warning("message template %s refused: %s", row.id, "; ".join(found))
        return Refused(draft, tuple(found))
    return compile_draft(draft)


def _overrides() -> dict[tuple[str, int | None, str], Compiled | Refused]:
    """All overrides (a few dozen rows at most) loaded in one query and kept for a short
    while: a 10,000-email fan-out costs one query, not one per email. Other processes
    (workers) pick up an edit within MESSAGE_TEMPLATE_CACHE_SECONDS."""
    store = current_app.extensions.setdefault("message_templates_cache", {})
    ttl = current_app.config.get("MESSAGE_TEMPLATE_CACHE_SECONDS", 30)
    loaded = store.get("loaded")
    if (
        loaded is not None
        and store.get("generation") == _generation
        and time.monotonic() - loaded < ttl
    ):
        return store["overrides"]
    generation = _generation
    rows = db.session.scalars(sa.select(MessageTemplate)).all()
    overrides = {(r.kind, r.client_id, r.language): _load(r) for r in rows}
    store.update(overrides=overrides, loaded=time.monotonic(), generation=generation)
    return overrides


def render_override(
    kind: str, client_id: int | None, ctx: dict, language: str = "en"
) -> dict | None:
    tpl = active(kind, client_id, language)
    return render_compiled(tpl, merge_values(ctx)) if tpl else None


def required_fields(kind: str, client_id: int | None, language: str = "en") -> set[str]:
    try:
        tpl = active(kind, client_id, language)
    except TemplateRefused:
        return set()  # rendering says what is wrong
    return set(tpl.needed) if tpl else set()
