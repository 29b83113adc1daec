"""The staff UI is ready for translation everywhere it shows words, not only in templates:
the words our JavaScript shows, the messages of exceptions that reach a page, flashes, form
validators, the staff emails (digest, client decision request), the merge-field list of the
template editor, and counted phrases (ngettext, never "candidate{{ 's' if n != 1 }}").

Each scanner is run once over the app (nothing found) and once over a small unmarked sample
(something found), so a scanner that has stopped seeing anything fails too.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from babel.messages import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from flask_babel.speaklater import LazyString

from app import template_gettext
from app.notifications import custom_templates as ct
from tests import factories as f
from tests import js_text, py_text, template_text
from tests.web import Web

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "app"
SCRIPTS = APP / "static" / "js"
TEMPLATES = APP / "templates"

# Literals of our scripts that read like words but are code.
JS_CODE = {
    "use strict",
    "Content-Type",  # a request header
    "AbortError",  # an exception's name
    "no words for ",  # strings.js: a console message for developers, never shown on a page
}


def _staff_pot() -> set[str]:
    with (APP / "translations" / "staff.pot").open("rb") as fh:
        return {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(fh) if m.id}


def _staff_templates() -> list[Path]:
    found = sorted([*TEMPLATES.rglob("*.html"), *TEMPLATES.rglob("*.txt")])
    return [p for p in found if p.relative_to(TEMPLATES).parts[0] not in ("status", "email")]


# -- 1. JavaScript ------------------------------------------------------------------------


def test_our_scripts_keep_no_words_of_their_own():
    """What a script shows comes from the page's js-strings block (templates/_js_strings.html),
    marked _() there; a literal that reads as words in a script is a string left untranslated."""
    found = {
        p.name: left
        for p in sorted(SCRIPTS.glob("*.js"))
        if (left := js_text.words_in(p.read_text(), JS_CODE))
    }
    assert not found, f"words written into scripts (move them to js_strings): {found}"
    assert len(list(SCRIPTS.glob("*.js"))) >= 7


@pytest.mark.parametrize(
    ("source", "words"),
    [
        ('state.textContent = "Saved";', ["Saved"]),
        ("box.textContent = 'Nothing to show here';", ["Nothing to show here"]),
        ("el.title = `Updating…`;", ["Updating…"]),
        ('msg = n + " rows written";', [" rows written"]),
        ('el.classList.add("card mb-3"); q("main [data-x]"); on("show.bs.dropdown");', []),
        ('// "A comment is not shown"\nwords("up_to_date");', []),
    ],
)
def test_the_script_scanner_finds_words_and_leaves_code(source, words):
    assert [t for _line, t in js_text.words_in(source)] == words


def _keys_used(script: str) -> set[str]:
    return set(re.findall(r"""(?:closeloopWords|words)\(\s*["'](\w+)["']""", script))


def _pages_loading(script: str) -> list[Path]:
    return [p for p in _staff_templates() if f"js/{script}" in p.read_text()]


def test_every_page_that_loads_a_script_renders_the_words_it_asks_for():
    """Read from the templates: a key the script asks for and the page lacks would show an
    empty text (and a console error) instead of words."""
    checked = 0
    for script in sorted(SCRIPTS.glob("*.js")):
        keys = _keys_used(script.read_text())
        if not keys or script.name == "strings.js":
            continue
        for page in _pages_loading(script.name):
            source = page.read_text()
            start = source.index("js_strings({")
            block = source[start : source.index("}) }}", start)]
            given = dict(re.findall(r'"(\w+)":\s*(\w+)\(', block))
            assert keys <= set(given), (page.name, keys - set(given))
            assert set(given.values()) <= {"_", "ngettext"}, page.name  # every text marked
            assert source.index("js_strings(") < source.index(f"js/{script.name}"), page.name
            checked += 1
    assert checked >= 3


def _german(words: dict[str, str]) -> Translations:
    catalog = Catalog(locale="de")
    for english, german in words.items():
        catalog.add(english, german)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer)


def _words_block(page: str) -> dict:
    found = re.search(r'<script type="application/json" id="js-strings">(.*?)</script>', page, re.S)
    assert found, "no js-strings block"
    return json.loads(found.group(1))


def test_the_words_block_is_rendered_translated_and_the_csp_allows_it(
    app, make_app, db, monkeypatch
):
    """Browser-free: the page renders its scripts' words through the catalog (a German one
    here, as a staff.po would give), as JSON the script reads; the block is data, so the
    CSP (script-src 'self', no inline scripts) lets it through."""
    german = _german(
        {
            "Updating…": "Wird aktualisiert…",
            "Answers: %(answers)s": "Antworten: %(answers)s",
            "%(done)s of %(total)s rows written": "%(done)s von %(total)s Zeilen geschrieben",
        }
    )
    monkeypatch.setattr(template_gettext, "translations", lambda: german)
    user = f.user("manager")
    db.session.commit()
    web = Web(make_app().test_client())
    web.post("/login", data={"email": user.email, "password": "correct horse"})
    pot = _staff_pot()

    editor = web.get("/templates/not_selected_client")
    words = _words_block(editor.get_data(as_text=True))
    assert words["updating"] == "Wird aktualisiert…"
    assert words["up_to_date"] == "Up to date"  # no German for it: the English, never a key
    assert _keys_used((SCRIPTS / "templates.js").read_text()) <= set(words)
    csp = editor.headers["Content-Security-Policy"]
    script_src = re.search(r"script-src ([^;]*)", csp).group(1)
    assert script_src == "'self'", csp  # no inline script: the block is data, not code

    docs = _words_block(web.get("/api/docs").get_data(as_text=True))
    assert docs["answers"] == "Antworten: {answers}"  # the script fills in the placeholder
    assert _keys_used((SCRIPTS / "api_docs.js").read_text()) <= set(docs)
    translated = {re.sub(r"%\((\w+)\)s", r"{\1}", t) for t in german._catalog.values()}
    for text in [*words.values(), *docs.values()]:
        assert text and "%(" not in text
        if text not in translated:  # English: the very text staff.pot holds
            assert re.sub(r"\{(\w+)\}", r"%(\1)s", text) in pot, text


def test_the_import_progress_words_are_rendered_for_its_script(app, make_app, db, monkeypatch):
    german = _german({"%(done)s of %(total)s rows written": "%(done)s von %(total)s Zeilen"})
    monkeypatch.setattr(template_gettext, "translations", lambda: german)
    from tests.test_imports import latest_import, sign_in, upload

    web = Web(make_app(IMPORT_INLINE_ROWS=1).test_client())
    user = sign_in(web)
    upload(web, "name,email\nAna Silva,ana@example.com\nBen Okafor,ben@example.com\n")
    imp = latest_import(db)
    assert web.post(f"/imports/{imp.id}/confirm").status_code == 302
    page = web.get(f"/imports/{imp.id}").get_data(as_text=True)
    words = _words_block(page)
    assert words == {
        "written": "{done} von {total} Zeilen",
        "waiting": "Waiting for a worker to start — {total} rows to write",
    }
    assert page.index('id="js-strings"') < page.index("js/strings.js") < page.index("js/imports.js")
    assert user.id


# -- 2 and 3. Exceptions that reach pages, flashes, form validators -------------------------


def _py_sources() -> dict[Path, str]:
    return {p: p.read_text() for p in sorted(APP.rglob("*.py"))}


def _page_exceptions(sources) -> set[str]:
    """Every exception whose message a page shows: our ValueError family (flash(str(exc)),
    form errors), PermissionError from the services, WTForms' ValidationError."""
    roots = {"ValueError", "PermissionError", "ValidationError"}
    internal = {"ValueError", "_TooDeep"}  # programming errors, never shown as they are
    return py_text.exception_classes(list(sources), roots) - internal


def test_messages_that_reach_a_page_from_python_are_marked():
    """raise PipelineError("…") / flash("…") / Length(message="…") with English that
    `make translations` cannot see (a plain literal, or an f-string, which _() cannot take)."""
    sources = _py_sources()
    raised = _page_exceptions(sources.values())
    assert {"PipelineError", "StaffError", "ImportRefused", "DecisionError"} <= raised
    found = [
        f"{p.relative_to(ROOT)}:{line}: {text}"
        for p, source in sources.items()
        for line, text in py_text.unmarked(source, raised)
    ]
    assert not found, "unmarked messages:\n" + "\n".join(found)


UNMARKED_PYTHON = """
from flask_babel import gettext as _
class PipelineError(ValueError): ...
class DuplicateEmail(PipelineError): ...
def f(x, form):
    if x:
        raise PipelineError("Nothing was changed here.")
    if x > 1:
        raise DuplicateEmail(f"{x} already has this email address.")
    if x > 2:
        raise PipelineError(_("This one is marked."))
    raise ValueError("an internal error for developers")
def g(x):
    flash("Saved your changes.", "success")
    flash(_("Marked: %(x)s", x=x), "success")
    flash(x or "Nothing to say today", "info")
    confirm = PasswordField(validators=[EqualTo("new_password", "The passwords differ.")])
    return Length(max=5, message=f"Keep it to {x} characters.")
"""


def test_the_python_scanner_finds_unmarked_messages():
    raised = py_text.exception_classes([UNMARKED_PYTHON], {"ValueError"}) - {"ValueError"}
    found = [text for _line, text in sorted(py_text.unmarked(UNMARKED_PYTHON, raised))]
    assert found == [
        "Nothing was changed here.",
        "f' already has this email address.'",
        "Saved your changes.",
        "Nothing to say today",
        "The passwords differ.",
        "f'Keep it to  characters.'",
    ]


def test_a_service_message_is_translated_when_it_is_raised(app, monkeypatch):
    """Marked at raise time with named placeholders, so a catalog translates the sentence
    and keeps the values: the message a recruiter sees in the flash."""
    from app.pipeline.services import PipelineError
    from app.staff.services import StaffError, check_password

    german = _german(
        {
            (
                "The password must be at least %(num)d character.",
                "The password must be at least %(num)d characters.",
            ): (
                "Das Passwort braucht mindestens %(num)d Zeichen.",
                "Das Passwort braucht mindestens %(num)d Zeichen.",
            )
        }
    )
    # Services mark with flask_babel's gettext: its domain hands out the catalog.
    monkeypatch.setattr("flask_babel.Domain.get_translations", lambda self: german)
    with app.test_request_context():
        with pytest.raises(StaffError, match=r"^Das Passwort braucht mindestens \d+ Zeichen\.$"):
            check_password("short")
    assert issubclass(StaffError, ValueError) and issubclass(PipelineError, ValueError)


def test_validators_messages_are_lazy_and_read_as_before(app):
    """fits() is called when a form class is defined (import time): its message must be
    translated when shown, not when imported."""
    from app.models import Candidate
    from app.validators import fits

    length = fits(Candidate.name)
    assert isinstance(length.message, LazyString)
    with app.test_request_context():
        assert re.fullmatch(r"Keep it to [\d,]+ characters or fewer\.", str(length.message))


# -- 4. Staff emails (the digest, the client decision request) ----------------------------


def test_staff_email_templates_are_marked_and_extracted():
    """The .txt staff emails are scanned like the pages and extracted into staff.pot
    (babel-staff.cfg reads app/templates/**.txt)."""
    texts = [p for p in _staff_templates() if p.suffix == ".txt"]
    names = {str(p.relative_to(TEMPLATES)) for p in texts}
    assert {"reports/email/digest.txt", "decisions/email.txt"} <= names
    found = {
        str(p.relative_to(TEMPLATES)): left
        for p in texts
        if (left := template_text.unmarked(p.read_text()))
    }
    assert not found, found
    pot = _staff_pot()
    assert "The full report: %(url)s" in pot and "Change or stop this email: %(url)s" in pot
    assert "On your positions, %(num)s item is overdue:" in pot
    assert template_text.unmarked("Good morning {{ user.name }},\n\n{{ _('Marked') }}") == [
        "Good morning ,"
    ]


def test_the_digest_counts_in_words_for_one_and_for_many(app):
    with app.test_request_context():
        tpl = app.jinja_env.from_string(
            '{{ ngettext("Across the agency, %(num)s item is overdue:", '
            '"Across the agency, %(num)s items are overdue:", n) }}'
        )
        assert tpl.render(n=1) == "Across the agency, 1 item is overdue:"
        assert tpl.render(n=3) == "Across the agency, 3 items are overdue:"


# -- 5. Merge fields in the template editor -----------------------------------------------


def test_merge_field_descriptions_and_part_labels_are_marked():
    """Shown in the editor's field list and its error messages; lazy, so the list built at
    import time is translated per request."""
    pot = _staff_pot()
    for field in ct.MERGE_FIELDS:
        assert isinstance(field.description, LazyString), field.name
        assert field.description._args[0] in pot, field.name
    for label in ct.PART_LABELS.values():
        assert isinstance(label, LazyString) and label._args[0] in pot


def test_template_checks_speak_through_the_catalog(app, monkeypatch):
    german = _german({"calling functions is not allowed.": "Funktionsaufrufe sind nicht erlaubt."})
    monkeypatch.setattr(template_gettext, "translations", lambda: german)
    with app.test_request_context():
        problems = ct.check_source("{{ first_name() }}", "Subject")
    assert problems == ["Subject: Funktionsaufrufe sind nicht erlaubt."]


# -- 6. Counted phrases and English inside Jinja expressions ------------------------------


def test_no_english_is_built_inside_template_expressions(app):
    """'s' if n != 1, 'agency' if x else 'client', _("…%(value)s", value='are'): English a
    translator never sees; ngettext and whole sentences instead."""
    found = {
        str(p.relative_to(TEMPLATES)): left
        for p in _staff_templates()
        if (left := template_text.english_in_expressions(p.read_text(), app.jinja_env))
    }
    assert not found, found


@pytest.mark.parametrize(
    ("source", "found"),
    [
        ("{{ n }} candidate{{ 's' if n != 1 }}", ["s"]),
        ("{{ _('%(n)s row%(value)s', n=n, value='s' if n != 1) }}", ["value='s'"]),
        ("<p>{{ 'Reopen' if x else 'Undo' }}: {{ t }}</p>", ["Reopen", "Undo"]),
        ('<p>{{ c.email or "no email" }}</p>', ["no email"]),
        ("{{ header(imp, 'Importing…') }}", ["header('Importing…')"]),
        ("<input placeholder=\"{{ 'Search here' }}\">", ["Search here"]),
        ("{{ ngettext('%(num)s row', '%(num)s rows', n) }}", []),
        ("<a class=\"{{ 'btn-danger' if x else 'btn-primary' }}\">{{ _(\"Go\") }}</a>", []),
        ("{{ d.strftime('%d %b %Y') }} {{ _('at %(t)s', t=d.strftime('%H:%M')) }}", []),
        ("{% if category.startswith('undo:') %}{{ url_for('main.dashboard') }}{% endif %}", []),
    ],
)
def test_the_expression_scanner_finds_english_and_leaves_code(app, source, found):
    assert template_text.english_in_expressions(source, app.jinja_env) == found


# A plural made by gluing an English ending on: "task{'s' if n > 1 else ''}".
PLURAL_FRAGMENT = re.compile(
    r"""(?<![\w])(['"])(s|es|is|are|was|were|has|have)\1\s+if\b"""
    r"""|\belse\s+(['"])(s|es|is|are|was|were|has|have)\3"""
)


def test_no_python_glues_an_english_plural():
    found = [
        f"{p.relative_to(ROOT)}:{n}: {line.strip()}"
        for p, source in _py_sources().items()
        for n, line in enumerate(source.splitlines(), 1)
        if PLURAL_FRAGMENT.search(line)
    ]
    assert not found, "use ngettext:\n" + "\n".join(found)
    for sample in (
        "f\"{n} open task{'s' if n > 1 else ''}\"",
        "'is' if len(names) == 1 else 'are'",
        's="" if minutes == 1 else "s"',
    ):
        assert PLURAL_FRAGMENT.search(sample), sample
    assert not PLURAL_FRAGMENT.search("kind = 'digest' if many else lead.kind")
