"""Clients chased for the decisions they promised: the email a business day before, the
signed decision page, "need more time" moving the date and telling the candidate, decline /
move forward waiting for the recruiter's one-click confirmation, and one reminder a day."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from flask_babel import get_locale

from app import clock
from app.decisions import chase, links
from app.decisions import services as decisions
from app.models import (
    Application,
    ClientDecision,
    MailboxMessage,
    Notification,
    StaffMessage,
    Stage,
    Task,
)
from app.notifications.send import deliver
from app.pipeline import services
from app.pipeline.promised_dates import sweep_promised_dates
from app.reports.digest import send_staff_messages
from tests import factories as f
from tests.web import Web, sign_in

TUESDAY = datetime(2026, 11, 17, 9, 0, tzinfo=UTC)
PROMISED = datetime(2026, 11, 19, 17, 0, tzinfo=UTC)  # Thursday


@pytest.fixture
def frozen():
    with clock.frozen(TUESDAY) as c:
        yield c


@pytest.fixture
def web(app, make_app):
    return Web(make_app().test_client())


@pytest.fixture
def hiring(db, frozen):
    owner = f.user(name="Riley Stone")
    position = f.position(owner=owner, title="Data Engineer")
    position.contact_name, position.contact_email = "Hannah Hiring", "hannah@client.test"
    apps = []
    for name in ("Anna Waits", "Ben Waits"):
        a = f.application(
            candidate_=f.candidate(name=name), position_=position, stage=Stage.CLIENT_REVIEW
        )
        services.record_interview(
            a,
            actor=owner,
            interview_at=TUESDAY - timedelta(hours=1),
            interviewers="Hannah",
            promised_response_at=PROMISED,
            client_contact="Hannah Hiring",
            next_step=None,
        )
        apps.append(a)
    _send_all()
    return {"owner": owner, "position": position, "anna": apps[0], "ben": apps[1]}


def _send_all():
    from app.extensions import db

    db.session.commit()
    ids = db.session.scalars(
        sa.select(Notification.id).where(Notification.state.in_(("pending", "queued")))
    ).all()
    if ids:
        deliver(list(ids))


def _staff_mail(db, kind):
    return db.session.scalars(sa.select(StaffMessage).where(StaffMessage.kind == kind)).all()


def _candidate_mails(db, application, kind):
    return db.session.scalars(
        sa.select(MailboxMessage)
        .join(Notification, Notification.id == MailboxMessage.notification_id)
        .where(Notification.application_id == application.id, Notification.kind == kind)
    ).all()


def test_one_email_a_business_day_before_lists_everyone_waiting(db, hiring, frozen):
    assert chase.sweep()["written"] == 0  # Tuesday: two days ahead
    frozen.current = datetime(2026, 11, 18, 17, 30, tzinfo=UTC)
    assert chase.sweep()["written"] == 1
    assert chase.sweep()["written"] == 0  # once per promised date
    (message,) = _staff_mail(db, chase.REQUEST)
    assert message.to_email == "hannah@client.test"
    assert "Dear Hannah Hiring" in message.body_text
    # Dates on the agency's calendar, in its language (English: the house style).
    assert "promised by Thursday 19 November:" in message.body_text
    assert "Anna Waits (interviewed 17 Nov), decision promised by 19 Nov" in message.body_text
    assert "Anna Waits" in message.body_text and "Ben Waits" in message.body_text
    url = re.search(r"http\S+/decide/\S+", message.body_text).group(0)
    assert links.read(url.rsplit("/", 1)[1]).id == hiring["position"].id
    assert send_staff_messages([message.id])["sent"] == 1
    mail = db.session.scalar(
        sa.select(MailboxMessage).where(MailboxMessage.to_email == message.to_email)
    )
    assert mail is not None and "Anna Waits" in mail.body_text


def test_a_pass_leaves_out_positions_with_nobody_to_write_to(db, hiring, frozen):
    """Without a decision contact, on the position or its client, a pass does not even load
    the position's waiting candidates; the client's address stands in for the position's."""
    frozen.current = datetime(2026, 11, 18, 17, 30, tzinfo=UTC)
    position = hiring["position"]
    position.contact_email = ""
    position.client.contact_email = None
    db.session.commit()
    assert chase._positions_to_write_to(frozen.current) == []
    assert chase.sweep()["written"] == 0
    position.client.contact_name, position.client.contact_email = "Cleo", "cleo@client.test"
    db.session.commit()
    assert chase._positions_to_write_to(frozen.current) == [position.id]
    assert chase.sweep()["written"] == 1
    (message,) = _staff_mail(db, chase.REQUEST)
    assert message.to_email == "cleo@client.test"


@pytest.mark.app_config(AGENCY_LANGUAGE="de", AGENCY_TIMEZONE="Europe/Berlin")
def test_the_decision_email_keeps_one_language_and_the_agencys_zone(db, hiring, frozen):
    frozen.current = datetime(2026, 11, 18, 17, 30, tzinfo=UTC)
    assert chase.sweep()["written"] == 1
    (message,) = _staff_mail(db, chase.REQUEST)
    # No German staff catalog ships: the sentences are English, so the dates are too (a
    # German date inside an English sentence reads as a mistake). 17:00 UTC is 18:00 in
    # Berlin: still Thursday the 19th on the agency's calendar.
    assert "promised by Thursday 19 November:" in message.body_text
    assert "(interviewed 17 Nov), decision promised by 19 Nov" in message.body_text
    assert "Thursday 19 November" in message.body_html
    assert "Donnerstag" not in message.body_text and "Nov." not in message.body_text


@pytest.mark.app_config(AGENCY_LANGUAGE="de", AGENCY_TIMEZONE="Europe/Berlin")
def test_the_decision_email_follows_the_agency_language_once_its_wording_is_translated(
    db, hiring, frozen, monkeypatch
):
    from tests.test_i18n_staff import _german

    catalog = _german({chase._SUBJECT: "Ihre Entscheidung zu %(title)s"})
    real = chase.get_translations
    monkeypatch.setattr(
        chase, "get_translations", lambda: catalog if str(get_locale()) == "de" else real()
    )
    frozen.current = datetime(2026, 11, 18, 17, 30, tzinfo=UTC)
    assert chase.sweep()["written"] == 1
    (message,) = _staff_mail(db, chase.REQUEST)
    assert "Donnerstag, 19. November" in message.body_text
    assert "19. Nov." in message.body_text and "17. Nov." in message.body_text
    assert "Thursday" not in message.body_text


def test_the_decision_page_needs_a_valid_link(db, web, hiring):
    position = hiring["position"]
    token = links.token(position)
    page = web.get(f"/decide/{token}").get_data(as_text=True)
    assert "Anna Waits" in page and "Ben Waits" in page and "Data Engineer" in page
    assert web.get("/decide/forged.token.value").status_code == 403
    links.revoke(position)
    assert web.get(f"/decide/{token}").status_code == 410


def test_need_more_time_moves_the_date_and_tells_the_candidate(db, web, hiring):
    anna = hiring["anna"]
    token = links.token(hiring["position"])
    response = web.post(
        f"/decide/{token}/applications/{anna.id}",
        data={"decision": "more_time", "new_date": "2026-11-26"},
    )
    assert response.status_code == 302
    db.session.expire_all()
    anna = db.session.get(Application, anna.id)
    assert anna.promised_response_at.date().isoformat() == "2026-11-26"
    _send_all()
    (mail,) = _candidate_mails(db, anna, "still_deciding")
    assert "26 November 2026" in mail.body_text
    # The recruiter's reminder follows the new date.
    assert db.session.scalar(
        sa.select(Task).where(
            Task.application_id == anna.id,
            Task.kind == "promised_date_due",
            Task.resolved_at.is_(None),
        )
    ).dedupe_key.endswith("2026-11-26T17:00:00+00:00")


@pytest.mark.parametrize("day", ["2026-11-17", "2026-01-01", "2027-06-01", ""])
def test_need_more_time_wants_a_sensible_date(db, web, hiring, day):
    anna = hiring["anna"]
    token = links.token(hiring["position"])
    response = web.post(
        f"/decide/{token}/applications/{anna.id}", data={"decision": "more_time", "new_date": day}
    )
    assert response.status_code == 400
    assert "Choose a date after today" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ClientDecision)) == 0


def test_decline_waits_for_the_recruiter_then_sends_exactly_one_outcome(db, web, hiring, frozen):
    ben = hiring["ben"]
    token = links.token(hiring["position"])
    before = db.session.scalar(sa.select(sa.func.count()).select_from(Notification))
    web.post(
        f"/decide/{token}/applications/{ben.id}",
        data={"decision": "decline", "reason": "Not enough Spark", "feedback": "Nice person"},
    )
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Notification)) == before
    again = web.post(f"/decide/{token}/applications/{ben.id}", data={"decision": "move_forward"})
    assert again.status_code == 400 and "already decided" in again.get_data(as_text=True)
    task = db.session.scalar(sa.select(Task).where(Task.kind == decisions.TASK_KIND))
    assert "declined Ben Waits" in task.title and "Not enough Spark" in task.detail
    sign_in(web, hiring["owner"])
    queue = web.get("/queue").get_data(as_text=True)
    assert 'data-testid="row-decision"' in queue
    page = web.get(f"/queue/decisions/{task.id}").get_data(as_text=True)
    assert 'data-testid="preview-subject"' in page and "the client&#39;s decision" in page
    assert web.post(f"/queue/decisions/{task.id}/confirm").status_code == 302
    db.session.expire_all()
    ben = db.session.get(Application, ben.id)
    assert (ben.stage, ben.outcome_reason) == ("rejected", "client_declined")
    frozen.advance(hours=1)  # past the undo window
    _send_all()
    assert len(_candidate_mails(db, ben, "not_selected_client")) == 1
    assert web.post(f"/queue/decisions/{task.id}/confirm").status_code == 302
    _send_all()
    assert len(_candidate_mails(db, ben, "not_selected_client")) == 1


def test_move_forward_prepares_the_offer_stage(db, web, hiring):
    anna = hiring["anna"]
    decisions.decide(hiring["position"], anna.id, "move_forward")
    task = db.session.scalar(sa.select(Task).where(Task.kind == decisions.TASK_KIND))
    decisions.confirm(task, actor=hiring["owner"])
    assert db.session.get(Application, anna.id).stage == "offer"


@pytest.mark.app_config(CLIENT_DECISION_CONFIRM_HOURS=2)
def test_the_agency_can_let_decisions_go_by_themselves(db, hiring, frozen):
    decisions.decide(hiring["position"], hiring["ben"].id, "decline")
    frozen.advance(hours=1)
    assert chase.sweep()["confirmed"] == 0
    frozen.advance(hours=2)
    assert chase.sweep()["confirmed"] == 1
    assert db.session.get(Application, hiring["ben"].id).stage == "rejected"


def test_a_missed_date_brings_one_reminder_and_never_two_a_day(db, hiring, frozen):
    frozen.current = PROMISED + timedelta(hours=1)
    sweep_promised_dates()  # the candidates hear "still deciding"; the date moves on
    chase.sweep()
    (reminder,) = _staff_mail(db, chase.REMINDER)
    assert "still waiting" in reminder.body_text and reminder.to_email == "hannah@client.test"
    frozen.advance(hours=3)
    chase.sweep()
    assert len(_staff_mail(db, chase.REMINDER)) == 1


def test_a_decided_candidate_is_not_listed_again(db, web, hiring):
    decisions.decide(hiring["position"], hiring["ben"].id, "decline")
    token = links.token(hiring["position"])
    page = web.get(f"/decide/{token}").get_data(as_text=True)
    assert 'data-testid="decided"' in page
    other = f.application(stage=Stage.INTERVIEW)
    response = web.post(f"/decide/{token}/applications/{other.id}", data={"decision": "decline"})
    assert response.status_code == 400


def test_managers_see_each_clients_promises_and_the_digest_names_late_clients(
    db, web, hiring, frozen
):
    from app.reports import overdue, promises
    from app.reports.digest import build_digest

    decisions.decide(hiring["position"], hiring["anna"].id, "move_forward")
    task = db.session.scalar(sa.select(Task).where(Task.kind == decisions.TASK_KIND))
    frozen.advance(days=1)  # decided a day and a bit after the interview
    decisions.confirm(task, actor=hiring["owner"])
    frozen.current = PROMISED + timedelta(hours=1)
    sweep_promised_dates()  # Ben's date is missed
    (row,) = promises.client_promises()
    assert (row.made, row.kept, row.broken, row.late_now) == (2, 1, 1, 1)
    assert row.median_days == 1.0
    manager = f.user("manager")
    db.session.commit()
    overdue.refresh()
    mail = build_digest(manager)
    assert f"{hiring['position'].client.name}: 1 candidate waiting" in mail.text
    sign_in(web, manager)
    page = web.get("/reports/clients").get_data(as_text=True)
    assert 'data-testid="client-row"' in page and hiring["position"].client.name in page
