"""Edited message wording: precedence, the sandbox, the editor pages and what gets sent."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from app.extensions import db as _db
from app.message_templates import services as svc
from app.models import MailboxMessage, MessageTemplate, OutcomeReason, Stage
from app.notifications import custom_templates as ct
from app.notifications import outbox
from app.notifications.kinds import KINDS
from app.notifications.render import render, render_email
from app.notifications.send import deliver
from app.pipeline import preview, services
from tests import factories as f
from tests.web import Web

PASSWORD = "correct horse"


def _draft(happened="{{ client_name }} said no to {{ first_name }}.", **kw):
    return ct.Draft(
        subject=kw.get("subject", "News about {{ position_title }}"),
        text={"happened": happened, "next": kw.get("next", "Nothing."), "when": "Never again."},
        html=kw.get("html", dict.fromkeys(ct.PARTS, "")),
    )


def _rejected(db, client=None, name="Ada Lovelace", candidate=None):
    position = f.position(client_=client) if client else f.position()
    a = f.application(
        position_=position,
        stage=Stage.INTERVIEW,
        candidate_=candidate or f.candidate(name=name),
    )
    db.session.commit()
    n = services.move_stage(a, Stage.REJECTED, actor=None, reason=OutcomeReason.CLIENT_DECLINED)
    return a, n


@pytest.fixture
def manager(db):
    u = f.user("manager")
    db.session.commit()
    return u


def _login(client, user):
    web = Web(client)
    r = web.post("/login", data={"email": user.email, "password": PASSWORD})
    assert r.status_code == 302
    return web


# -- precedence in real emails ------------------------------------------------------------


def test_client_override_beats_agency_override_beats_built_in(db, manager):
    acme, other = f.client("Acme"), f.client("Globex")
    _, builtin = _rejected(db, other)
    assert "has decided not to move forward" in render(builtin).text  # the built-in file

    svc.save("not_selected_client", None, _draft("AGENCY wording for {{ first_name }}."), manager)
    svc.save("not_selected_client", acme, _draft("ACME wording, {{ client_name }}."), manager)
    _, at_acme = _rejected(db, acme)
    _, elsewhere = _rejected(db, other)

    r = render(at_acme)
    assert "ACME wording, Acme." in r.text and "ACME wording, Acme." in r.html
    assert "AGENCY" not in r.text
    r = render(elsewhere)
    assert "AGENCY wording for Ada." in r.text and "has decided not to move" not in r.text
    assert r.subject == f"News about {elsewhere.application.position.title}"
    # The layout still carries what every message must: contact, status link, signature.
    assert elsewhere.application.position.owner.email in r.text
    assert "See all your applications: http" in r.text and "Hello Ada," in r.text

    svc.reset("not_selected_client", None)
    assert "has decided not to move forward" in render(elsewhere).text


def test_an_edited_optional_update_keeps_its_unsubscribe(db, manager):
    svc.save("still_deciding", None, _draft("Still waiting on {{ client_name }}."), manager)
    a = f.application(stage=Stage.CLIENT_REVIEW)
    db.session.commit()
    r = render(outbox.owe(a, "still_deciding"))
    assert "Still waiting on" in r.text
    assert "Stop optional updates like this one: http" in r.text
    assert r.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_a_digest_uses_each_clients_own_wording(db, manager):
    acme, globex = f.client("Acme"), f.client("Globex")
    svc.save("client_review", acme, _draft("Acme is looking at it."), manager)
    svc.save("client_review", globex, _draft("Globex is looking at it."), manager)
    c = f.candidate(name="Priya Raman")
    a = f.application(position_=f.position(client_=acme), candidate_=c)
    b = f.application(position_=f.position(client_=globex), candidate_=c)
    db.session.commit()
    first = services.move_stage(a, Stage.CLIENT_REVIEW, actor=None)
    second = services.move_stage(b, Stage.CLIENT_REVIEW, actor=None)
    r = render_email([first, second])
    acme_block, globex_block = r.text.split("== ")[1:3]
    assert "Acme is looking at it." in acme_block and "Globex" not in acme_block
    assert "Globex is looking at it." in globex_block
    assert r.subject.startswith("Updates on your applications")  # digests keep their subject


def test_html_part_escapes_merge_fields_but_keeps_the_authors_markup(db, manager):
    html = {"happened": "<strong>{{ candidate_name }}</strong>, sorry.", "next": "", "when": ""}
    svc.save("not_selected_client", None, _draft(html=html), manager)
    _, n = _rejected(db, name="<script>alert(1)</script> Smith")
    r = render(n)
    assert "<script>" not in r.html
    assert "<strong>&lt;script&gt;alert(1)&lt;/script&gt; Smith</strong>, sorry." in r.html
    assert "Nothing." in r.html  # an empty HTML part falls back to the plain text, escaped
    assert "<script>alert(1)</script> Smith said no" not in r.html


def test_a_sent_message_uses_the_override(db, manager):
    svc.save("offer", None, _draft(subject="Sorry, {{ first_name }}"), manager)
    a = f.application(stage=Stage.INTERVIEW, candidate_=f.candidate(name="Ada Lovelace"))
    db.session.commit()
    n = services.move_stage(a, Stage.OFFER, actor=None)  # an update: leaves at once
    assert deliver([n.id])["sent"] == 1
    mail = db.session.scalars(sa.select(MailboxMessage)).one()
    assert mail.subject == "Sorry, Ada"
    assert "said no to Ada." in mail.body_text and "said no to Ada." in mail.body_html


def test_overrides_load_once_for_many_emails(db, manager):
    svc.save("not_selected_client", None, _draft(), manager)
    rows = [_rejected(db)[1] for _ in range(5)]
    statements = []
    listen = sa.event.listen
    engine = _db.engine

    def count(*_args):
        statements.append(_args[2])

    ct.invalidate()
    listen(engine, "before_cursor_execute", count)
    try:
        for n in rows:
            render(n)
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    assert sum("message_templates" in s for s in statements) == 1


def test_only_one_agency_wide_override_per_kind(db, manager):
    svc.save("offer", None, _draft(), manager)
    db.session.add(MessageTemplate(kind="offer", subject="x", body_text="y"))
    with pytest.raises(sa.exc.IntegrityError):
        db.session.flush()
    db.session.rollback()
    svc.save("offer", None, _draft("Second wording."), manager)  # replaces, never duplicates
    assert db.session.scalars(sa.select(MessageTemplate.body_text)).one().count("Second") == 1


# -- the sandbox, at save -----------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__ }}",
        "{{ cycler.__init__ }}",
        "{{ self }}",
        "{{ first_name.__class__.__mro__ }}",
        "{{ first_name.upper() }}",
        "{% for x in first_name %}{{ x }}{% endfor %}",
        "{{ range(10) }}",
        "{% include 'email/message.txt' %}",
        "{{ first_name|attr('__class__') }}",
    ],
)
def test_the_sandbox_refuses_internals_at_save(db, manager, source):
    with pytest.raises(ct.TemplateInvalid) as err:
        svc.save("not_selected_client", None, _draft(source), manager)
    assert err.value.errors["text_happened"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(MessageTemplate)) == 0


def test_the_sandbox_refuses_internals_at_render_too():
    tpl = ct.TEXT_ENV.from_string("{{ x.__class__ }}")
    with pytest.raises(Exception, match="unsafe|__class__"):
        tpl.render(x="a")


def test_unknown_merge_field_is_rejected_with_a_clear_message(db, manager):
    with pytest.raises(ct.TemplateInvalid) as err:
        svc.save("not_selected_client", None, _draft(next="Call {{ recuiter_name }}"), manager)
    (message,) = err.value.errors["text_next"]
    assert 'unknown merge field "recuiter_name"' in message
    assert "What happens next (plain text)" in message
    assert "recruiter_name" in message and "first_name" in message  # the valid ones listed


def test_syntax_errors_name_the_line(db, manager):
    with pytest.raises(ct.TemplateInvalid) as err:
        svc.save("not_selected_client", None, _draft("Fine\n{% if first_name %}oops"), manager)
    assert "line 2" in err.value.errors["text_happened"][0]


def test_every_built_in_wording_is_a_valid_starting_point(app):
    for kind in KINDS:
        ct.validate(svc.builtin_draft(kind))


# -- missing fields block bulk sends ------------------------------------------------------


def test_missing_fields_reports_an_empty_field_the_template_uses(db, manager):
    text = (
        "{{ client_name }} wants {{ next_step }}."
        "{% if interviewers %} {{ interviewers }}{% endif %}"
    )
    svc.save("not_selected_client", None, _draft(text), manager)
    a = f.application(stage=Stage.INTERVIEW)
    db.session.commit()
    p = preview.preview_move(a, Stage.REJECTED, actor=None, reason=OutcomeReason.CLIENT_DECLINED)
    assert p.blocked
    assert p.problems == ["Missing the next step the recruiter wrote: add it before sending."]
    a.next_step = "A call on Monday"
    p = preview.preview_move(a, Stage.REJECTED, actor=None, reason=OutcomeReason.CLIENT_DECLINED)
    assert not p.blocked  # interviewers is guarded by its {% if %}: empty is fine


# -- pages --------------------------------------------------------------------------------


def _form(**overrides):
    data = {
        "subject": "Sorry, {{ first_name }}",
        "text_happened": "{{ client_name }} said no.",
        "text_next": "We keep looking.",
        "text_when": "This is the last message.",
        "html_happened": "<strong>{{ client_name }}</strong> said no.",
        "html_next": "",
        "html_when": "",
    }
    return {**data, **overrides}


def test_manager_saves_from_the_editor_and_sees_it_listed(db, client, manager):
    web = _login(client, manager)
    page = web.get("/templates/not_selected_client").get_data(as_text=True)
    assert "has decided not to move forward" in page and "This is the built-in wording" in page
    r = web.post("/templates/not_selected_client", data=_form())
    assert r.status_code == 302
    row = db.session.scalars(sa.select(MessageTemplate)).one()
    assert row.client_id is None and row.updated_by_id == manager.id
    assert "<strong>{{ client_name }}</strong>" in row.body_html
    listing = web.get("/templates").get_data(as_text=True)
    assert 'data-testid="agency-override"' in listing
    page = web.get("/templates/not_selected_client").get_data(as_text=True)
    assert "Reset to the built-in wording" in page

    assert web.post("/templates/not_selected_client/reset").status_code == 302
    assert db.session.scalar(sa.select(sa.func.count()).select_from(MessageTemplate)) == 0


def test_client_override_from_the_editor(db, client, manager):
    acme = f.client("Acme")
    svc.save("not_selected_client", None, _draft("AGENCY wording."), manager)
    web = _login(client, manager)
    page = web.get(f"/templates/not_selected_client?client={acme.id}").get_data(as_text=True)
    assert "Acme uses the agency's wording today" in page and "AGENCY wording." in page
    r = web.post(f"/templates/not_selected_client?client={acme.id}", data=_form())
    assert r.status_code == 302
    rows = db.session.scalars(sa.select(MessageTemplate).order_by(MessageTemplate.id)).all()
    assert [row.client_id for row in rows] == [None, acme.id]
    page = web.get(f"/templates/not_selected_client?client={acme.id}").get_data(as_text=True)
    assert "Acme has its own wording" in page and "Reset to the agency wording" in page
    listing = web.get("/templates").get_data(as_text=True)
    assert 'data-testid="client-override"' in listing and "Acme" in listing
    assert web.get("/templates/not_selected_client?client=999").status_code == 404
    assert web.get("/templates/no_such_kind").status_code == 404


def test_invalid_save_rerenders_with_errors_and_keeps_what_was_typed(db, client, manager):
    web = _login(client, manager)
    r = web.post(
        "/templates/not_selected_client",
        data=_form(text_next="Ask {{ favourite_colour }} please", text_when=""),
    )
    assert r.status_code == 400
    page = r.get_data(as_text=True)
    assert "unknown merge field &#34;favourite_colour&#34;" in page
    assert "When they will hear from us (plain text): this part cannot be empty." in page
    assert "Ask {{ favourite_colour }} please" in page  # what they typed is kept
    assert db.session.scalar(sa.select(sa.func.count()).select_from(MessageTemplate)) == 0


def test_an_error_only_in_the_html_opens_the_editor_on_the_html_tab(db, client, manager):
    web = _login(client, manager)
    bad_html = web.post("/templates/not_selected_client", data=_form(html_next="{{ nope }}"))
    assert bad_html.status_code == 400
    page = bad_html.get_data(as_text=True)
    assert 'class="nav-link active" id="tab-html"' in page
    assert 'class="tab-pane fade show active" id="pane-html"' in page
    assert 'class="nav-link" id="tab-text"' in page
    # With an error in the plain text too, the plain text (the first tab) stays open.
    both = web.post(
        "/templates/not_selected_client", data=_form(html_next="{{ nope }}", text_next="")
    ).get_data(as_text=True)
    assert 'class="nav-link active" id="tab-text"' in both
    assert 'class="nav-link" id="tab-html"' in both


def test_preview_endpoint_renders_the_sample_candidate(db, client, manager):
    web = _login(client, manager)
    r = web.post("/templates/not_selected_client/preview", json=_form())
    body = r.get_json()
    assert body["ok"] and body["subject"] == "Sorry, Priya"
    assert "Northwind Logistics said no." in body["text"]
    assert "<strong>Northwind Logistics</strong> said no." in body["html"]
    assert "Hello Priya," in body["text"]  # the layout around the parts
    bad = web.post("/templates/not_selected_client/preview", json=_form(subject="{{ nope }}"))
    assert bad.get_json()["ok"] is False
    assert 'unknown merge field "nope"' in bad.get_json()["errors"]["subject"][0]


def test_recruiters_can_view_and_preview_but_not_save(db, client):
    recruiter = f.user("recruiter")
    _db.session.commit()
    web = _login(client, recruiter)
    assert "Read only" in web.get("/templates").get_data(as_text=True)
    page = web.get("/templates/offer").get_data(as_text=True)
    assert 'data-testid="save"' not in page and "readonly" in page
    assert web.post("/templates/offer/preview", json=_form()).get_json()["ok"]
    assert web.post("/templates/offer", data=_form()).status_code == 403
    assert web.post("/templates/offer/reset").status_code == 403
    assert db.session.scalar(sa.select(sa.func.count()).select_from(MessageTemplate)) == 0


def test_anonymous_goes_to_login(client):
    for url in ("/templates", "/templates/offer"):
        r = client.get(url)
        assert r.status_code == 302 and "/login" in r.headers["Location"]
    r = client.post("/templates/offer", data=_form())
    assert r.status_code == 302 and "/login" in r.headers["Location"]


def test_csrf_is_required(db, make_app, manager):
    web = Web(make_app(WTF_CSRF_ENABLED=True).test_client())
    page = web.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    login = {"email": manager.email, "password": PASSWORD, "csrf_token": token}
    assert web.post("/login", data=login).status_code == 302
    assert web.post("/templates/not_selected_client", data=_form()).status_code == 400
    assert web.post("/templates/not_selected_client/preview", json=_form()).status_code == 400
    page = web.get("/templates/not_selected_client").get_data(as_text=True)
    token = re.search(r'data-csrf="([^"]+)"', page).group(1)
    ok = web.post(
        "/templates/not_selected_client/preview", json=_form(), headers={"X-CSRFToken": token}
    )
    assert ok.get_json()["ok"]
    saved = web.post("/templates/not_selected_client", data={**_form(), "csrf_token": token})
    assert saved.status_code == 302


@pytest.mark.parametrize(
    ("lang", "promised", "interview", "stage"),
    [
        ("en", "Friday 4 December 2026", "Tuesday 1 December 2026 at 14:00 (GMT)", "reviewed"),
        ("de", "Freitag, 4. Dezember 2026", "Dienstag, 1. Dezember 2026 um 14:00 Uhr (GMT)", None),
        ("es", "viernes 4 de diciembre de 2026", "martes 1 de diciembre de 2026 a las 14:00", None),
    ],
)
def test_the_preview_writes_the_sample_dates_in_the_previewed_language(
    db, client, manager, lang, promised, interview, stage
):
    """The German and Spanish tabs show the sample candidate's dates as a German or Spanish
    email would write them, not the English examples of the field list."""
    web = _login(client, manager)
    draft = _form(text_happened="{{ promised_date }} / {{ interview_at }} / {{ stage_label }}")
    body = web.post(f"/templates/not_selected_client/preview?lang={lang}", json=draft).get_json()
    assert body["ok"], body
    assert promised in body["text"] and interview in body["text"]
    if lang != "en":
        assert "December" not in body["text"] and "Friday" not in body["text"]
    if stage:
        assert "being reviewed by the client" in body["text"]
    else:
        assert "being reviewed by the client" not in body["text"]
