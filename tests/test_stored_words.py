"""Text the app writes into the database for staff (task titles and details, why a message
waits or failed, the overdue report's notes, why a webhook endpoint was switched off) is
shown in the reader's language: the row keeps a code and its arguments (app/stored_words.py)
and the English beside them for rows from before, the API, webhooks and exports.

The pages are read with a German catalog put in place of the staff one, as a staff.po would
give (the same way tests/test_i18n_staff.py proves the templates), after the rows were
written in English.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_file
from babel.messages.frontend import parse_mapping_cfg

from app import clock, stored_words, template_gettext
from app.extensions import db
from app.models import Candidate, Notification, OverdueItem, Task, WebhookEndpoint
from app.outbound import services as outbound
from app.reports import overdue
from app.stored_words import WORDS, words
from tests import factories as f
from tests import py_text, test_queue
from tests.test_i18n_staff import _german
from tests.test_queue import section
from tests.test_reports_overdue import NOW, START
from tests.web import sign_in

# My queue's fixtures: one item of each kind for Riley (tests/test_queue.py).
frozen, riley_queue, web = test_queue.frozen, test_queue.riley_queue, test_queue.web

ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDER = re.compile(r"%\((\w+)\)s")

# A value for each argument name the codes use; those ARGS turns into words are codes.
SAMPLE = {
    "name": "Ana Silva",
    "client": "Acme Ltd",
    "position": "Welder",
    "kind": "offer",
    "kind_label": "offer",
    "task_kind": "send_failed",
    "date": "2026-12-04",
    "news": ["submitted", "Acme Ltd", "Welder"],
    "address": "ana@example.com",
    "reason": "550 no such user",
    "email": "someone@example.com",
    "body": "Any news?",
    "feedback": "Strong welder",
    "phone": "+44 113 496 0000",
    "cap": 3,
    "limit": 5,
    "last": "answered 500",
    "url": "https://hooks.example.com/in",
    "error": "undefined variable",
    "language": "de",
    "withdrawn": 2,
    "settled": 1,
    "role": "manager",
    "id": 7,
    "token_name": "ATS sync",
    "subject": "Sorry, {{ first_name }}",
}


def _pseudo(msgid: str) -> str:
    """A translation that keeps the placeholders: "⟦…⟧" around the English."""
    return f"⟦{msgid}⟧"


@pytest.fixture
def pseudo(monkeypatch):
    """Every stored word translated (pseudo-German), as a staff catalog would give it."""
    catalog = _german({msgid: _pseudo(msgid) for msgid in WORDS.values()})
    monkeypatch.setattr(template_gettext, "translations", lambda: catalog)
    return catalog


# -- every code ----------------------------------------------------------------------------


@pytest.mark.parametrize("code", sorted(WORDS))
def test_each_code_renders_with_its_arguments_and_no_placeholder_left(app, code):
    msgid = WORDS[code]
    args = {name: SAMPLE[name] for name in PLACEHOLDER.findall(msgid)}
    said = words(code, **args)
    with app.test_request_context():
        english = stored_words.in_english(said)
        shown = stored_words.say(said.code, said.args, english)
    assert "%(" not in english and "%(" not in shown
    assert shown == english  # no catalog: English
    for name in ("name", "client", "position", "reason", "url", "body", "feedback"):
        if name in args:
            assert str(args[name]) in english, (code, name)
    if "kind" in args:
        assert "offer update" in english  # the label, never the code
    if "role" in args:
        assert english == "role: manager"


def test_codes_translate_and_keep_their_arguments(app, pseudo):
    with app.test_request_context():
        for code, msgid in WORDS.items():
            args = {name: SAMPLE[name] for name in PLACEHOLDER.findall(msgid)}
            shown = stored_words.say(code, args, "the stored English")
            assert shown.startswith("⟦") and shown.endswith("⟧"), code
            assert "%(" not in shown


def test_missing_arguments_read_as_words():
    assert stored_words.ARGS["name"](None) == "the candidate"
    assert stored_words.ARGS["reason"](None) == "no reason given"


def test_rows_without_a_code_show_their_english(app, pseudo):
    with app.test_request_context():
        assert (
            stored_words.say(None, None, "written before the codes") == "written before the codes"
        )
        assert stored_words.say("gone.code", {}, "a code since removed") == "a code since removed"
        assert stored_words.say(None, None, None) == ""


def test_an_unknown_code_is_refused_when_written():
    with pytest.raises(KeyError):
        words("task.no_such_code")


def test_the_english_is_written_whatever_the_writers_language(app, monkeypatch):
    """A candidate's German status page opens a task: its English column stays English,
    and a German reader sees German."""
    from babel.support import NullTranslations
    from flask import g
    from flask_babel import get_locale

    german = _german({WORDS["task.update_request"]: "%(name)s bittet um Neuigkeiten"})
    monkeypatch.setattr(
        template_gettext,
        "translations",
        lambda: german if str(get_locale()) == "de" else NullTranslations(),
    )
    said = words("task.update_request", name="Ana", position="W", client="C")
    with app.test_request_context():
        g.language = "de"  # what a candidate-facing view sets
        columns = stored_words.columns("title", said)
        assert stored_words.say(said.code, said.args) == "Ana bittet um Neuigkeiten"
    assert columns["title"] == "Ana asked for an update: W at C"
    assert columns["title_code"] == "task.update_request"
    assert columns["title_args"] == {"name": "Ana", "position": "W", "client": "C"}


def test_every_msgid_is_extracted_into_the_staff_catalog():
    """`make translations` reads app/stored_words.py with babel-staff.cfg: every msgid and
    every fallback word is found there (staff.pot itself is regenerated by the lead)."""
    with (ROOT / "babel-staff.cfg").open() as fh:
        method_map, _options = parse_mapping_cfg(fh)
    path = "app/stored_words.py"
    method = next(m for pattern, m in method_map if _matches(pattern, path))
    assert method == "python"
    keywords = {**DEFAULT_KEYWORDS, "_l": None, "lazy_ngettext": (1, 2)}
    found = {
        msg[1] if isinstance(msg[1], str) else msg[1][0]
        for msg in extract_from_file(method, str(ROOT / path), keywords=keywords)
    }
    assert set(WORDS.values()) <= found
    assert {"the candidate", "no reason given", "their address", "(no text)"} <= found


def _matches(pattern: str, path: str) -> bool:
    from babel.messages.extract import pathmatch

    return pathmatch(pattern, path)


# -- pages ---------------------------------------------------------------------------------


def test_tasks_and_reasons_on_the_queue_and_the_candidate_page_are_translated(
    db, web, riley_queue, frozen, pseudo
):
    """The queue's bounced, failed and update-request tasks and the failed message's reason
    on the candidate page, written in English by the send path, the provider's bounce and the
    candidate's status page, shown in the reader's language."""
    bounced = db.session.get(Candidate, riley_queue["bounced"].candidate_id)
    task = db.session.scalar(
        sa.select(Task).where(Task.notification_id == riley_queue["bounced_n"].id)
    )
    assert task.title == "Email to Bounced Bea bounced — reach them another way"  # English kept
    assert task.title_code == "task.bounced"
    page = sign_in(web, riley_queue["riley"]).get("/queue").get_data(as_text=True)
    bounced_row = section(page, "bounced")  # the task's detail, the provider's words quoted
    assert "⟦Our client review update to " in bounced_row
    assert " bounced: 550 no such user⟧" in bounced_row
    # Nora has no address: her failed message's task says why, as the send path wrote it.
    assert "⟦No email address on file: contact the candidate by phone.⟧" in bounced_row
    failed = riley_queue["failed_n"]
    db.session.refresh(failed)
    assert failed.last_error == "No email address on file: contact the candidate by phone."
    candidate_page = web.get(f"/candidates/{failed.candidate_id}").get_data(as_text=True)
    assert "⟦No email address on file: contact the candidate by phone.⟧" in candidate_page
    bounce_page = web.get(f"/candidates/{bounced.id}").get_data(as_text=True)
    assert "⟦Email to Bounced Bea bounced — reach them another way⟧" in bounce_page
    # Ava asked from her status page: the task it opened, on her page's timeline.
    ava = web.get(f"/candidates/{riley_queue['request'].candidate_id}").get_data(as_text=True)
    assert "⟦Asking Ava asked for an update: Backend Engineer at " in ava
    assert "⟦Answer from this task before it is due;" in ava


def test_a_provider_reason_stays_quoted_data_after_a_translated_prefix(
    db, riley_queue, frozen, app, pseudo
):
    n = db.session.get(Notification, riley_queue["bounced_n"].id)
    assert n.last_error == "bounce: 550 no such user"
    assert n.last_error_args == {"reason": "550 no such user"}
    with app.test_request_context():
        assert stored_words.said(n, "last_error") == "⟦bounce: 550 no such user⟧"


def test_the_overdue_report_notes_are_translated_and_the_csv_keeps_english(app, make_app, pseudo):
    from tests.web import Web

    web = Web(make_app().test_client())
    with clock.frozen(START) as clk:
        manager = f.user("manager")
        f.application(candidate_=f.candidate(name="Silent Sam"))
        db.session.commit()
        clk.current = NOW
        overdue.refresh()
        item = db.session.scalar(sa.select(OverdueItem))
        assert (item.note, item.note_code) == ("never contacted", "note.never_contacted")
        sign_in(web, manager)
        page = web.get("/reports/overdue").get_data(as_text=True)
        assert "⟦never contacted⟧" in page
        detail = web.get(f"/reports/applications/{item.application_id}")
        assert "⟦never contacted⟧" in detail.get_data(as_text=True)
        csv_text = web.get("/reports/overdue.csv").get_data(as_text=True)
        assert csv_text.rstrip().endswith(",never contacted")  # the export's English record


def test_a_disabled_webhook_endpoint_shows_its_reason_translated(app, make_app, pseudo):
    from tests.web import Web

    admin = f.user("admin")
    db.session.commit()
    endpoint = outbound.create_endpoint(
        url="https://hooks.example.com/in",
        events=["task.opened"],
        description=None,
        actor=admin,
    )
    outbound.set_enabled(endpoint, False)
    endpoint = db.session.get(WebhookEndpoint, endpoint.id)
    assert endpoint.disabled_reason == "Disabled by an admin."  # the API's English
    web = Web(make_app().test_client())
    sign_in(web, admin)
    page = web.get(f"/admin/webhooks/{endpoint.id}").get_data(as_text=True)
    assert "⟦Disabled by an admin.⟧" in page


def test_an_erased_candidates_tasks_keep_no_name_in_their_arguments(db, riley_queue, frozen):
    from app.privacy import services as privacy

    bea = db.session.get(Candidate, riley_queue["bounced"].candidate_id)
    privacy.erase_candidate(bea, actor=None)
    tasks = db.session.scalars(sa.select(Task).where(Task.candidate_id == bea.id)).all()
    assert tasks
    for task in tasks:
        assert "Bounced Bea" not in str(task.title_args) and "Bounced Bea" not in task.title
        assert task.title_code == "task.erased" and task.detail_args is None


# -- the scanner ---------------------------------------------------------------------------


def test_no_python_writes_english_into_a_stored_text_column():
    """f"…" / "…" / _("…") written into a task's title or detail, a message's last_error,
    the report's note, an endpoint's disabled_reason: words one language forever."""
    found = [
        f"{p.relative_to(ROOT)}:{line}: {text}"
        for p in sorted((ROOT / "app").rglob("*.py"))
        if p.name != "seed.py"  # demo data: positions and names, not our sentences
        for line, text in py_text.stored_english(p.read_text())
    ]
    assert not found, "store a code (app/stored_words.py):\n" + "\n".join(found)


STORED_ENGLISH = """
def f(n, task, endpoint, x):
    outbox.open_task(kind="k", title=f"Call {x} now", dedupe_key="k")
    Task(kind="k", title=_("Call %(x)s", x=x), detail="Reach them by phone.")
    n.last_error = f"deferred: {x}"
    endpoint.disabled_at, endpoint.disabled_reason = now, "Disabled by an admin."
    sa.update(Notification).values(last_error="worker stopped while sending")
    sa.literal("never contacted", sa.String(300)).label("note")
    fail(n, "No email address on file.", "no_address")
    raise_alert("k", "key", f"{x} cannot be rendered")
    outbox.open_task(kind="k", title=words("task.reply", name=x), dedupe_key="k")
    stored_words.put(n, "last_error", words("error.deferred", reason=x))
    Task(title=x.title, detail=None)
    n.last_error = None
"""


def test_the_stored_text_scanner_finds_english_and_leaves_codes():
    assert [text for _line, text in py_text.stored_english(STORED_ENGLISH)] == [
        "f'Call  now'",
        "_('Call %(x)s')",
        "Reach them by phone.",
        "f'deferred: '",
        "Disabled by an admin.",
        "worker stopped while sending",
        "never contacted",
        "No email address on file.",
        "f' cannot be rendered'",
    ]
