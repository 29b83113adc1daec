"""Every message kind, for candidates with awkward data, in HTML and plain text; digests;
headers; and nothing about anyone else."""

from __future__ import annotations

import base64
import itertools
import json
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app import clock
from app.models import MailboxMessage, Notification, Stage
from app.notifications import outbox
from app.notifications.backends import OutgoingEmail
from app.notifications.kinds import KINDS
from app.notifications.render import RenderError, render, render_email
from app.notifications.send import deliver
from app.notifications.sendgrid_backend import SendGridBackend
from app.pipeline import services
from tests import factories as f

_seq = itertools.count(1)
AWKWARD = {
    "html": "<b>Zoë</b> <script>alert(1)</script>",
    "long": "Maximiliana-Theodora-Evangelina-Konstantinopoulou-Wolfeschlegelsteinhausen" * 2,
    "non_ascii": "Łukasz Żółć-Brontë 山田",
    "no_phone": "Ana Pérez",
}
# Context a kind's wording may rely on, as the services would store it.
CONTEXT = {
    "still_deciding": lambda now: {
        "promised_response_at": (now - timedelta(days=1)).isoformat(),
        "new_expected_at": (now + timedelta(days=2)).isoformat(),
    },
    "interview_scheduled": lambda now: {
        "interview_at": (now + timedelta(days=2)).isoformat(),
        "promised_response_at": (now + timedelta(days=5)).isoformat(),
        "interviewers": "Dr <i>Imran</i> Qureshi & team",
        "client_contact": "Hannah Cole",
        "next_step": "A 60-minute video call",
    },
    "after_interview": lambda now: {
        "interview_at": (now - timedelta(hours=3)).isoformat(),
        "promised_response_at": (now + timedelta(days=3)).isoformat(),
    },
}
REASONS = {
    "position_cancelled": "budget_cut",
    "position_filled": "filled_internally",
    "not_selected_client": "client_declined",
}


def _owed(db, kind: str, name: str, *, phone=True):
    i = next(_seq)
    owner = f.user(name="Riley <Chen>", email=f"riley{i}@agency.test")
    owner.phone = "+44 113 496 0000" if phone else None
    client = f.client(f"Brontë & Söhne <GmbH> {i}")
    position = f.position(owner=owner, client_=client, title="Nurse <em>Nights</em>")
    c = f.candidate(name=name, phone=None if not phone else "+44 7700 900000")
    a = f.application(position_=position, candidate_=c, stage=Stage.INTERVIEW)
    a.stage_entered_at = clock.now()
    db.session.commit()
    context = CONTEXT.get(kind, lambda now: {})(clock.now())
    n = outbox.owe(a, kind, reason=REASONS.get(kind), context=context, note="Call me <any> time")
    db.session.commit()
    return n


def _decode_token(url: str) -> dict:
    token = url.rsplit("/", 1)[-1].split("#")[0]
    payload = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("who", sorted(AWKWARD))
def test_every_kind_renders_for_awkward_candidates(db, kind, who):
    name = AWKWARD[who]
    n = _owed(db, kind, name, phone=who != "no_phone")
    r = render(n)
    first = name.split()[0]
    # Subject: what it is about and for which position/client, on one line.
    assert "\n" not in r.subject and len(r.subject) <= 300
    if kind == "status_link":
        assert "Closeloop Staffing" in r.subject
    else:
        assert "Nurse <em>Nights</em>" in r.subject and "Brontë & Söhne <GmbH>" in r.subject
    # Plain text: verbatim, all four answers, the recruiter to contact.
    assert f"Hello {first}," in r.text
    assert "What happens next:" in r.text and "When you will hear from us:" in r.text
    owner = n.application.position.owner
    assert owner.email in r.text and "Riley <Chen>" in r.text
    assert ("+44 113 496 0000" in r.text) is (who != "no_phone")
    assert "Call me <any> time" in r.text
    # HTML: everything escaped, CSS inlined, the same answers.
    html = r.html
    assert "<script" not in html and "<b>Zoë" not in html and "<em>Nights" not in html
    assert "&lt;b&gt;Zoë&lt;/b&gt;" in html if who == "html" else first in html
    assert "Riley &lt;Chen&gt;" in html
    assert ("Brontë &amp; Söhne &lt;GmbH&gt;" in html) is (kind != "status_link")
    assert 'style="' in html and ".content {" not in html  # rules inlined, not left in <style>
    assert "What happens next" in html and "When you will hear from us" in html
    assert f"mailto:{owner.email}" in html
    assert ("tel:+441134960000" in html) is (who != "no_phone")
    # The signed link: in both parts, never containing the address.
    urls = re.findall(r"http://127\.0\.0\.1:5000/status/[^\s\"<#)]+", r.text)
    assert urls and all(u in html for u in urls)
    assert n.candidate.email not in r.text.split("--")[-1] and "@" not in str(
        _decode_token(urls[0])
    )
    # One-click unsubscribe only on optional updates.
    if KINDS[kind].category == "optional":
        assert r.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert re.fullmatch(
            r"<http://127\.0\.0\.1:5000/status/unsubscribe/\S+>", r.headers["List-Unsubscribe"]
        )
    else:
        assert r.headers == {}


def test_wording_answers_the_four_questions(db):
    n = _owed(db, "after_interview", "Amelia Hart")
    r = render(n)
    promised = n.context["promised_response_at"]
    assert "will decide by" in r.text and "We will write to you by then either way" in r.text
    assert str(clock.now().year) in r.text or promised[:4] in r.text
    cancelled = render(_owed(db, "position_cancelled", "Oliver Bennett"))
    assert "budget" in cancelled.text and "not a judgement of you" in cancelled.text


def test_agency_name_logo_and_signature_come_from_configuration(app, db):
    app.config.update(
        AGENCY_NAME="Brightside Talent",
        AGENCY_LOGO_TEXT="BRIGHTSIDE",
        AGENCY_SIGNATURE="The Brightside team\\n1 High Street, Leeds",
    )
    r = render(_owed(db, "submitted", "Amelia Hart"))
    assert "BRIGHTSIDE" in r.html
    assert "The Brightside team\n1 High Street, Leeds" in r.text
    assert "The Brightside team<br>1 High Street, Leeds" in r.html
    assert "through Brightside Talent" in r.text


def test_a_digest_names_every_position_and_client(db):
    c = f.candidate(name="Priya Raman")
    a = f.application(candidate_=c, stage=Stage.SUBMITTED)
    b = f.application(candidate_=c, stage=Stage.INTERVIEW)
    db.session.commit()
    first = services.move_stage(a, Stage.CLIENT_REVIEW, actor=None)
    second = services.move_stage(b, Stage.OFFER, actor=None)
    r = render_email([first, second])
    for app_ in (a, b):
        assert app_.position.client.name in r.subject
        assert f"== {app_.position.title} at {app_.position.client.name} ==" in r.text
    assert r.text.count("Hello Priya,") == 1
    assert "is now reviewing your profile" in r.text and "would like to offer you" in r.text


def test_a_message_never_shows_another_candidates_data(db):
    other = f.candidate(name="Secret Person", email="secret@example.test")
    theirs = f.application(candidate_=other)
    n = _owed(db, "submitted", "Amelia Hart")
    r = render(n)
    for text in (r.subject, r.text, r.html):
        assert "Secret Person" not in text and "secret@example.test" not in text
    stray = outbox.owe(theirs, "submitted")
    with pytest.raises(RenderError):
        render_email([n, stray])  # one email is only ever about one candidate


def test_headers_reach_the_mailbox_and_sendgrid(db):
    n = _owed(db, "still_deciding", "Amelia Hart")
    assert deliver([n.id])["sent"] == 1
    mail = db.session.scalar(sa.select(MailboxMessage))
    assert mail.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    backend = SendGridBackend("key", from_email="updates@closeloop.example")
    message = OutgoingEmail(
        1,
        "a@example.test",
        "A",
        "s",
        "t",
        "<p>h</p>",
        "digest",
        headers=dict(mail.headers),
        member_ids=(2, 3),
    )
    payload = backend._payload([message])
    p = payload["personalizations"][0]
    assert p["headers"] == mail.headers
    assert p["custom_args"] == {"notification_id": "1", "digest_ids": "2,3"}


def test_rendered_email_is_stored_for_the_audit_trail(db):
    n = _owed(db, "offer", "Amelia Hart")
    deliver([n.id])
    n = db.session.get(Notification, n.id)
    assert n.body_html.startswith("<!DOCTYPE html>") and "Nurse &lt;em&gt;Nights" in n.body_html
