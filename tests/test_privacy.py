"""Data-protection requests: export as JSON and erasure, from the admin UI and the CLI."""

from __future__ import annotations

import hashlib
import json

import pytest
import sqlalchemy as sa

from app.extensions import db as _db
from app.models import (
    Application,
    Candidate,
    CandidateAction,
    MailboxMessage,
    Notification,
    NState,
    OutcomeReason,
    Stage,
)
from app.notifications import links
from app.notifications.invariant import terminal_without_response
from app.notifications.send import deliver
from app.pipeline import services
from app.privacy import services as privacy
from tests import factories as f
from tests.web import Web


def _candidate(db, name="Amelia Hart"):
    c = f.candidate(name=name, email=f"{name.split()[0].lower()}@example.com")
    ended = f.application(candidate_=c, stage=Stage.INTERVIEW)
    active = f.application(candidate_=c, stage=Stage.SUBMITTED)
    db.session.commit()
    hired = services.move_stage(
        ended, Stage.HIRED, actor=None, reason=OutcomeReason.HIRED, note="Well done, Amelia!"
    )
    deliver([hired.id])
    services.log_contact(
        c, actor=ended.position.owner, channel="phone", summary="Amelia asked about pay"
    )
    return c, ended, active


def test_export_holds_everything_about_the_candidate_and_nothing_else(db):
    c, ended, active = _candidate(db)
    other, *_ = _candidate(db, name="Bob Other")
    data = privacy.export_candidate(c)
    text = json.dumps(data)
    assert data["candidate"]["email"] == "amelia@example.com"
    assert {a["id"] for a in data["applications"]} == {ended.id, active.id}
    assert any("Well done, Amelia!" in (m["body_text"] or "") for m in data["messages"])
    assert data["contacts"][0]["summary"] == "Amelia asked about pay"
    assert "Bob Other" not in text and "bob@example.com" not in text
    assert db.session.scalar(sa.select(CandidateAction.action)) == "exported"


def test_erasure_anonymises_but_keeps_proof_that_each_message_was_sent(db):
    c, ended, active = _candidate(db)
    sent = db.session.scalar(
        sa.select(Notification).where(
            Notification.candidate_id == c.id, Notification.state == NState.SENT
        )
    )
    original = sent.body_text
    old_link = links.status_token(c)
    done = privacy.erase_candidate(c)
    assert done["withdrawn"] == 1
    db.session.expire_all()
    c = db.session.get(Candidate, c.id)
    assert c.anonymised_at is not None and c.email is None and c.phone is None
    assert "Amelia" not in c.name
    proof = db.session.get(Notification, sent.id)
    assert proof.state == NState.SENT and proof.sent_at and proof.provider_message_id
    assert proof.body_text is None and proof.body_html is None and proof.to_email is None
    assert proof.context["body_sha256"] == hashlib.sha256(original.encode()).hexdigest()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(MailboxMessage)) == 0
    # The open application is withdrawn, its message settled with the reason: no debt left.
    assert db.session.get(Application, active.id).stage == Stage.WITHDRAWN
    settled = db.session.scalar(
        sa.select(Notification).where(Notification.kind == "withdrawal_ack")
    )
    assert settled.state == NState.DISCHARGED and "erased" in settled.discharge_reason
    assert db.session.scalars(terminal_without_response()).all() == []
    # No trace of the person in free text; old links are dead.
    everything = json.dumps(privacy.export_candidate(c))
    assert "Amelia" not in everything and "amelia@example.com" not in everything
    with pytest.raises(links.LinkError):
        links.read_status_token(old_link)
    with pytest.raises(privacy.PrivacyError):
        privacy.erase_candidate(c)


def test_cli_exports_and_erases(db, runner, tmp_path):
    c, *_ = _candidate(db)
    out = tmp_path / "export.json"
    result = runner.invoke(args=["privacy", "export", "amelia@example.com", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["candidate"]["id"] == c.id
    result = runner.invoke(args=["privacy", "erase", str(c.id)], input="n\n")
    assert result.exit_code != 0
    assert db.session.get(Candidate, c.id).anonymised_at is None
    result = runner.invoke(args=["privacy", "erase", str(c.id), "--yes"])
    assert result.exit_code == 0 and "Erased candidate" in result.output
    _db.session.expire_all()
    assert db.session.get(Candidate, c.id).email is None
    missing = runner.invoke(args=["privacy", "export", "nobody@example.com"])
    assert missing.exit_code != 0 and "No candidate" in missing.output


@pytest.fixture
def admin_web(app, make_app):
    f.user("admin", email="admin@agency.test", password="correct horse")
    f.user("recruiter", email="rec@agency.test", password="correct horse")
    _db.session.commit()
    return Web(make_app().test_client())


def _login(web, email):
    web.post("/login", data={"email": email, "password": "correct horse"})
    return web


def test_admin_ui_exports_and_erases(db, admin_web, make_app):
    c, *_ = _candidate(db)
    _db.session.commit()
    recruiter = _login(Web(make_app().test_client()), "rec@agency.test")
    assert recruiter.get("/admin/privacy/").status_code == 403
    web = _login(admin_web, "admin@agency.test")
    found = web.get("/admin/privacy/?q=amelia").get_data(as_text=True)
    assert "Amelia Hart" in found
    page = web.get(f"/admin/privacy/candidates/{c.id}").get_data(as_text=True)
    assert "Download JSON" in page and "ERASE" in page
    export = web.post(f"/admin/privacy/candidates/{c.id}/export")
    assert export.status_code == 200 and export.mimetype == "application/json"
    assert "attachment" in export.headers["Content-Disposition"]
    assert export.get_json()["candidate"]["name"] == "Amelia Hart"
    refused = web.post(f"/admin/privacy/candidates/{c.id}/erase", data={"confirm": "erase"})
    assert refused.status_code == 302
    _db.session.expire_all()
    assert db.session.get(Candidate, c.id).anonymised_at is None
    web.post(f"/admin/privacy/candidates/{c.id}/erase", data={"confirm": "ERASE"})
    _db.session.expire_all()
    assert db.session.get(Candidate, c.id).anonymised_at is not None
    page = web.get(f"/admin/privacy/candidates/{c.id}").get_data(as_text=True)
    assert "Amelia" not in page


def test_erasure_keeps_no_name_in_a_subject_and_the_board_card_is_inert(db, make_app):
    """Issue 17.5: a subject override may use {{ first_name }}; after erasure the kept proof
    has the hash of the subject and text that were sent and the facts, not "... for Tara".
    The erased candidate's card stays on the board, shown as erased, with nothing to open
    or move (it used to offer "Move to…" and link to a 404)."""
    from dataclasses import replace

    from app.message_templates import services as templates
    from app.models import Notification

    owner = f.user("recruiter")
    draft = templates.builtin_draft("hired")
    templates.save(
        "hired", None, replace(draft, subject="Congratulations for {{ first_name }}"), owner
    )
    c = f.candidate(name="Tara Quinn", email="tara@example.com")
    a = f.application(candidate_=c, stage=Stage.OFFER, position_=f.position(owner=owner))
    db.session.commit()
    hired = services.move_stage(a, Stage.HIRED, actor=None, reason=OutcomeReason.HIRED)
    deliver([hired.id])
    sent = db.session.get(Notification, hired.id)
    assert sent.subject == "Congratulations for Tara"
    sent_subject = sent.subject
    privacy.erase_candidate(c)
    db.session.expire_all()
    kept = db.session.get(Notification, hired.id)
    assert "Tara" not in (kept.subject or "") and "Tara" not in str(kept.context)
    assert kept.context["subject_sha256"] == hashlib.sha256(sent_subject.encode()).hexdigest()
    assert kept.kind == "hired" and kept.sent_at is not None  # the facts stay

    web = Web(make_app().test_client())
    web.post("/login", data={"email": owner.email, "password": "correct horse"})
    page = web.get(f"/positions/{a.position_id}").get_data(as_text=True)
    card = page.split('data-erased data-testid="card"')[1].split("</article>")[0]
    assert "Erased on request" in card
    assert "Move to" not in card and "href=" not in card and 'name="application_ids"' not in card
    assert f"/candidates/{c.id}" not in page
