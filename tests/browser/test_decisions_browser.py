"""A client's hiring manager walks through their decision page in a real browser: first
"need more time" (the candidate's still-deciding update reaches the local SendGrid stand-in
with the new date), then "decline" (the recruiter confirms it from My queue after reading the
exact email, and the candidate gets exactly one outcome)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from app import clock
from app.decisions import links
from app.extensions import db
from app.models import Application, Notification, Stage
from app.notifications.send import deliver
from app.pipeline import services
from devtools.sendgrid_stub import SendGridStub
from tests import factories as f
from tests.browser.conftest import DESKTOP, SCREENSHOTS, new_tab, screenshot, sign_in

pytestmark = pytest.mark.browser
TUESDAY = datetime(2026, 11, 17, 10, 0, tzinfo=UTC)


def _send_owed() -> None:
    db.session.rollback()  # see what the server's requests wrote
    ids = db.session.scalars(
        sa.select(Notification.id).where(
            Notification.state.in_(("pending", "queued")), Notification.due_at <= clock.now()
        )
    ).all()
    db.session.commit()  # SQLite: an open read would hold up the server's writes
    if ids:
        deliver(list(ids))


def _kinds(stub, email: str) -> list[tuple[str, str]]:
    return [
        (m["categories"][0], m.get("text") or "") for m in stub.messages() if m["to"] == [email]
    ]


def test_a_client_asks_for_time_then_declines_and_the_recruiter_confirms(app, live_server, browser):
    with clock.frozen(TUESDAY) as frozen, SendGridStub(api_key="k") as stub:
        app.config.update(
            EMAIL_BACKEND="sendgrid", SENDGRID_API_KEY="k", SENDGRID_API_HOST=stub.url
        )
        riley = f.user(name="Riley Chen", email="riley@agency.example")
        position = f.position(owner=riley, title="Data Platform Engineer")
        position.contact_name, position.contact_email = "Hannah Cole", "hannah@client.example"
        anna = f.application(
            candidate_=f.candidate(name="Anna Ortiz", email="anna@example.com"),
            position_=position,
            stage=Stage.CLIENT_REVIEW,
        )
        db.session.commit()
        services.record_interview(
            anna,
            actor=riley,
            interview_at=TUESDAY - timedelta(hours=2),
            interviewers="Hannah Cole",
            promised_response_at=TUESDAY + timedelta(days=2),
            client_contact="Hannah Cole",
            next_step=None,
        )
        frozen.advance(minutes=5)
        _send_owed()
        url = f"{live_server}/decide/{links.token(position)}"
        db.session.commit()

        client = new_tab(browser, DESKTOP)
        client.goto(url)
        card = client.get_by_test_id("candidate").filter(has_text="Anna Ortiz")
        card.get_by_role("radio", name="I need more time").check()
        card.get_by_label("If you need more time: I will decide by").fill("2026-11-26")
        card.get_by_role("button", name="Send my decision").click()
        client.get_by_text("the candidate will hear by your new date").wait_for()
        screenshot(client, path=str(SCREENSHOTS / "decision-page-more-time.png"), full_page=True)

        _send_owed()
        updates = [t for kind, t in _kinds(stub, "anna@example.com") if kind == "still_deciding"]
        assert len(updates) == 1 and "26 November 2026" in updates[0]

        card = client.get_by_test_id("candidate").filter(has_text="Anna Ortiz")
        card.get_by_role("radio", name="Decline").check()
        card.get_by_label("If you decline: reason (optional)").fill("Another candidate fits")
        card.get_by_role("button", name="Send my decision").click()
        client.get_by_text("your recruiter will confirm this").wait_for()
        assert client.get_by_test_id("decided").count() == 1

        _send_owed()
        assert not [k for k, _ in _kinds(stub, "anna@example.com") if k == "not_selected_client"]

        recruiter = new_tab(browser, DESKTOP)
        sign_in(recruiter, live_server, "riley@agency.example", "correct horse")
        recruiter.goto(f"{live_server}/queue")
        row = recruiter.get_by_test_id("row-decision").filter(has_text="Anna Ortiz")
        row.get_by_role("link", name="See the email").click()
        assert "client" in recruiter.get_by_test_id("preview-subject").inner_text()
        screenshot(recruiter, path=str(SCREENSHOTS / "decision-confirm.png"), full_page=True)
        recruiter.get_by_role("button", name="Confirm").click()
        recruiter.get_by_text("Confirmed").first.wait_for()

        db.session.rollback()
        assert db.session.get(Application, anna.id).stage == Stage.REJECTED.value
        db.session.commit()
        frozen.advance(hours=1)  # past the undo window
        _send_owed()
        # Her third status email that day (the interview's, "still deciding"): the daily cap
        # of two holds the outcome for the next morning, it is never dropped.
        assert not [k for k, _ in _kinds(stub, "anna@example.com") if k == "not_selected_client"]
        db.session.rollback()
        held = db.session.scalar(
            sa.select(Notification).where(Notification.kind == "not_selected_client")
        )
        assert held.state == "pending"
        leaves = held.due_at.replace(tzinfo=None)
        assert leaves > clock.now().replace(tzinfo=None) + timedelta(hours=6)  # next morning
        db.session.commit()
        frozen.advance(days=1)
        _send_owed()
        _send_owed()
        outcomes = [k for k, _ in _kinds(stub, "anna@example.com") if k == "not_selected_client"]
        assert outcomes == ["not_selected_client"]
