"""The candidate profile's one timeline: stage changes, messages with their content and
delivery events, logged contacts and the candidate's own requests, newest first."""

from __future__ import annotations

import html
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from app import clock
from app.models import Contact, Notification, NState, Stage, Task
from app.notifications.events import apply_events
from app.notifications.send import deliver
from app.pipeline import services
from app.status import services as status_services
from tests import factories as f
from tests.web import Web, sign_in

PASSWORD = "correct horse"
START = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


@pytest.fixture
def web(app, make_app):
    return Web(make_app().test_client())


def bounce(n: Notification, at: datetime) -> dict:
    return {
        "email": n.to_email,
        "timestamp": int(at.timestamp()),
        "event": "bounce",
        "type": "bounce",
        "reason": "550 5.1.1 mailbox does not exist",
        "sg_event_id": uuid.uuid4().hex,
        "notification_id": str(n.id),
    }


@pytest.fixture
def story(db):
    """Submitted, told by email, the email bounced, a phone call, then an update request."""
    riley = f.user(name="Riley Chen")
    c = f.candidate(name="Amelia Hart", email="amelia@example.com")
    position = f.position(owner=riley, title="Data Engineer")
    with clock.frozen(START) as frozen:
        application = services.add_to_position(c, position, actor=riley)
        frozen.advance(minutes=10)
        n = services.move_stage(application, Stage.SUBMITTED, actor=riley, note="Strong CV")
        frozen.advance(minutes=1)
        assert deliver([n.id])["sent"] == 1
        frozen.advance(hours=1)
        apply_events([bounce(n, frozen.current)])
        frozen.advance(hours=1)
        db.session.commit()
        yield {"riley": riley, "candidate": c, "application": application, "n": n, "clock": frozen}


def test_timeline_merges_everything_newest_first(db, web, story):
    riley, c, application, frozen = (
        story[k] for k in ("riley", "candidate", "application", "clock")
    )
    sign_in(web, riley)
    response = web.post(
        f"/candidates/{c.id}/contacts",
        data={
            "channel": "phone",
            "summary": "Called: the email bounced, told her she is with the client.",
            "application_id": application.id,
        },
    )
    assert response.status_code == 302
    frozen.advance(hours=2)
    status_services.request_update(c, application.id)

    page = web.get(f"/candidates/{c.id}").get_data(as_text=True)
    markers = [
        "Asked for an update",  # newest
        "Task resolved: Email to Amelia Hart bounced",  # the contact's effect, same instant
        "Called: the email bounced",
        "550 5.1.1 mailbox does not exist",  # the delivery event, inside the message entry
        "Strong CV",  # the submitted stage change
        "Added to the pipeline at",  # oldest
    ]
    positions = [page.find(html.escape(m, quote=False)) for m in markers]
    assert all(p >= 0 for p in positions), dict(zip(markers, positions, strict=True))
    assert positions == sorted(positions)
    # The message: kind, state badge, subject, and what was sent, in a sandboxed frame.
    assert "Submission update" in page
    assert 'data-testid="state-badge">Bounced<' in page
    sent = story["n"]
    db.session.refresh(sent)
    assert html.escape(sent.subject, quote=False) in page
    assert 'sandbox=""' in page and "srcdoc=" in page
    assert html.escape(sent.body_text.splitlines()[0], quote=False) in page
    assert 'srcdoc="&lt;' in page  # the email's HTML is escaped into the frame, not run here


def test_the_contact_flash_says_what_it_settled(db, web, story):
    riley, c, application = story["riley"], story["candidate"], story["application"]
    sign_in(web, riley)
    response = web.post(
        f"/candidates/{c.id}/contacts",
        data={"channel": "phone", "summary": "Spoke to her", "application_id": application.id},
    )
    page = web.get(response.headers["Location"]).get_data(as_text=True)
    assert "Contact with Amelia Hart logged." in page
    assert "This also settles the bounced submission update and 1 open task." in page
    task = db.session.scalar(sa.select(Task).where(Task.kind == "undeliverable"))
    db.session.refresh(task)
    assert task.resolved_by_id == riley.id


def test_owed_messages_not_yet_rendered_show_what_and_when(db, web, story):
    riley, application = story["riley"], story["application"]
    owed = services.move_stage(
        application, Stage.REJECTED, actor=riley, reason="agency_decision"
    )  # an outcome waits the undo window
    db.session.commit()
    sign_in(web, riley)
    page = web.get(f"/candidates/{story['candidate'].id}").get_data(as_text=True)
    assert 'data-testid="owed"' in page and "Owed: the rejection email (our decision), due" in page
    assert owed.body_text is None


def test_logging_a_contact_discharges_the_owed_rejection_and_says_so(db, web, story):
    riley, c, application = story["riley"], story["candidate"], story["application"]
    services.move_stage(application, Stage.REJECTED, actor=riley, reason="agency_decision")
    db.session.commit()
    sign_in(web, riley)
    rejection = db.session.scalar(
        sa.select(Notification.id).where(Notification.kind == "not_selected_agency")
    )
    response = web.post(
        f"/candidates/{c.id}/contacts",
        data={
            "channel": "phone",
            "summary": "Told her by phone",
            "application_id": application.id,
            "settle": rejection,  # ticked: it is never ticked by default (issue 17.2)
        },
    )
    page = web.get(response.headers["Location"]).get_data(as_text=True)
    assert "the owed rejection email" in page
    rejected = db.session.scalar(
        sa.select(Notification).where(Notification.kind == "not_selected_agency")
    )
    db.session.refresh(rejected)
    assert rejected.state == NState.DISCHARGED
    assert "Settled without email: Phone call: Told her by phone" in page


def test_contact_validation_keeps_what_was_typed(db, web, story):
    sign_in(web, story["riley"])
    c = story["candidate"]
    response = web.post(
        f"/candidates/{c.id}/contacts",
        data={"channel": "video", "summary": "   ", "application_id": 0},
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Say briefly what was discussed." in page
    assert '<option selected value="video">' in page
    future = (clock.now() + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")
    response = web.post(
        f"/candidates/{c.id}/contacts",
        data={"channel": "phone", "summary": "Typo date", "occurred_at": future},
    )
    assert response.status_code == 400
    assert "cannot be in the future" in response.get_data(as_text=True)
    assert "Typo date" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Contact)) == 0


def test_contact_about_another_candidates_application_is_404(db, web, story):
    riley = story["riley"]
    other = f.application(position_=f.position(owner=riley))
    db.session.commit()
    sign_in(web, riley)
    response = web.post(
        f"/candidates/{story['candidate'].id}/contacts",
        data={"channel": "phone", "summary": "x", "application_id": other.id},
    )
    assert response.status_code in (400, 404)  # not a choice on this candidate's form
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Contact)) == 0
