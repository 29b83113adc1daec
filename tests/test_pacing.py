"""Nuisance limits: the digest window, quiet hours in the candidate's zone, the daily cap
(which delays, never drops), opt-outs, and delivery events for a digest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from app import clock
from app.models import MailboxMessage, Notification, NState, OutcomeReason, Stage, Task
from app.notifications import outbox
from app.notifications.events import apply_events
from app.notifications.send import deliver
from app.notifications.timing import due_time
from app.pipeline import followups, services
from app.status import services as candidate_services
from tests import factories as f

WEDNESDAY_NOON = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)  # London is on UTC in December


@pytest.fixture
def paced(app):
    app.config.update(
        CANDIDATE_DIGEST_WINDOW_SECONDS=300,
        QUIET_HOURS_ENFORCED=True,
        QUIET_HOURS_START=21,
        QUIET_HOURS_END=8,
        MAX_STATUS_EMAILS_PER_DAY=2,
        UNDO_WINDOW_SECONDS=1800,
    )
    return app


def _apps(db, n: int, **candidate):
    c = f.candidate(**candidate)
    apps = [f.application(candidate_=c, stage=Stage.SUBMITTED) for _ in range(n)]
    db.session.commit()
    return c, apps


def _sent_mail(db) -> list[MailboxMessage]:
    return list(db.session.scalars(sa.select(MailboxMessage).order_by(MailboxMessage.id)))


def test_due_time_waits_for_the_digest_window_and_the_candidates_morning(paced):
    assert due_time("submitted", "Europe/London", WEDNESDAY_NOON) == WEDNESDAY_NOON + timedelta(
        minutes=5
    )
    evening = datetime(2026, 12, 2, 20, 58, tzinfo=UTC)
    assert due_time("submitted", "Europe/London", evening) == datetime(
        2026, 12, 3, 8, 0, tzinfo=UTC
    )
    # 02:00 UTC is 21:00 the evening before in New York: wait for 08:00 there (13:00 UTC).
    ny_night = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)
    assert due_time("submitted", "America/New_York", ny_night) == datetime(
        2026, 12, 3, 13, 0, tzinfo=UTC
    )
    # Answers to the candidate's own action go at once, even at night.
    assert due_time("update_reply", "Europe/London", evening) == evening
    assert due_time("withdrawal_ack", "Europe/London", evening) == evening


def test_changes_close_together_reach_the_candidate_as_one_digest(paced, db):
    with clock.frozen(WEDNESDAY_NOON) as now:
        c, (a, b) = _apps(db, 2, name="Priya Raman")
        first = services.move_stage(a, Stage.CLIENT_REVIEW, actor=None)
        now.advance(minutes=2)
        second = services.move_stage(b, Stage.CLIENT_REVIEW, actor=None)
        assert deliver([first.id]) == {"claimed": 0}  # still inside the window
        now.advance(minutes=4)  # the first is due, the second not yet: it comes along
        assert deliver([first.id]) == {"claimed": 2, "sent": 2, "failed": 0}
        assert deliver([second.id]) == {"claimed": 0}
    mail = _sent_mail(db)
    assert len(mail) == 1 and mail[0].to_email == c.email
    for application in (a, b):
        assert application.position.client.name in mail[0].subject
    rows = [db.session.get(Notification, i) for i in (first.id, second.id)]
    assert {n.state for n in rows} == {NState.SENT}
    assert rows[0].provider_message_id == rows[1].provider_message_id


def test_an_outcome_inside_its_undo_window_is_not_pulled_into_a_digest(paced, db):
    paced.config["CANDIDATE_DIGEST_WINDOW_SECONDS"] = 0
    with clock.frozen(WEDNESDAY_NOON):
        _, (a, b) = _apps(db, 2)
        update = services.move_stage(a, Stage.CLIENT_REVIEW, actor=None)
        outcome = services.move_stage(
            b, Stage.REJECTED, actor=None, reason=OutcomeReason.AGENCY_DECISION
        )
        assert deliver([update.id])["sent"] == 1
    assert db.session.get(Notification, outcome.id).state == NState.PENDING  # undo still possible


def test_the_daily_cap_delays_an_outcome_to_the_next_morning_and_never_drops_it(paced, db):
    paced.config["CANDIDATE_DIGEST_WINDOW_SECONDS"] = 0
    with clock.frozen(WEDNESDAY_NOON) as now:
        c, (a, b, d, e) = _apps(db, 4)
        for application in (a, b):  # two status emails today: the cap
            n = services.move_stage(application, Stage.CLIENT_REVIEW, actor=None)
            assert deliver([n.id])["sent"] == 1
            now.advance(hours=1)
        outcome = services.move_stage(
            d, Stage.REJECTED, actor=None, reason=OutcomeReason.CLIENT_DECLINED
        )
        # Owed with the cap already reached: due the next morning from the start (issue
        # 17.3: the confirmation page shows this same time), not "after the undo window".
        thursday_morning = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
        assert outcome.due_at == thursday_morning
        now.advance(minutes=31)  # past the undo window: still not due
        assert deliver([outcome.id]) == {"claimed": 0}
        held = db.session.get(Notification, outcome.id)
        assert (held.state, held.due_at, held.attempts) == ("pending", thursday_morning, 0)
        # The candidate's own withdrawal is acknowledged at once: requests are not capped.
        ack = candidate_services.withdraw(c, e.id)
        assert deliver([ack.id])["sent"] == 1
        now.advance(hours=18)  # Thursday 08:31
        assert deliver([outcome.id])["sent"] == 1
    assert db.session.get(Notification, outcome.id).state == NState.SENT
    assert len(_sent_mail(db)) == 4


def test_quiet_hours_hold_a_message_that_falls_due_at_night(paced, db):
    night = datetime(2026, 12, 2, 22, 30, tzinfo=UTC)
    with clock.frozen(night):
        _, (a,) = _apps(db, 1, timezone="Europe/London")
        n = services.move_stage(a, Stage.CLIENT_REVIEW, actor=None)
        assert n.due_at == datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
        n.due_at = night  # e.g. a retry that came due in the night
        db.session.commit()
        assert deliver([n.id])["held"] == 1
    assert db.session.get(Notification, n.id).due_at == datetime(2026, 12, 3, 8, 0, tzinfo=UTC)


def test_opting_out_stops_optional_updates_but_never_outcomes(db):
    c, (a, b) = _apps(db, 2)
    c.optional_updates = False
    db.session.commit()
    reminder = outbox.owe(
        a,
        "still_deciding",
        context={
            "promised_response_at": clock.now().isoformat(),
            "new_expected_at": (clock.now() + timedelta(days=2)).isoformat(),
        },
    )
    hired = services.move_stage(b, Stage.OFFER, actor=None)
    db.session.commit()
    counts = deliver([reminder.id, hired.id])
    assert counts == {"claimed": 2, "sent": 1, "failed": 0, "skipped": 1}
    reminder = db.session.get(Notification, reminder.id)
    assert reminder.state == NState.DISCHARGED and "opted out" in reminder.discharge_reason
    mail = _sent_mail(db)
    assert len(mail) == 1 and "offer" in mail[0].subject
    assert "List-Unsubscribe" not in mail[0].headers


def test_delivery_events_for_a_digest_settle_every_message_in_it(db):
    _, (a, b) = _apps(db, 2)
    lead = services.move_stage(a, Stage.CLIENT_REVIEW, actor=None)
    member = services.move_stage(b, Stage.CLIENT_REVIEW, actor=None)
    assert deliver([lead.id])["sent"] == 2
    other = services.move_stage(f.application(stage=Stage.SUBMITTED), Stage.OFFER, actor=None)
    event = {
        "event": "bounce",
        "sg_event_id": "ev-digest",
        "notification_id": str(lead.id),
        "digest_ids": f"{member.id},{other.id}",  # someone else's id is never touched
        "timestamp": int(clock.now().timestamp()),
        "reason": "mailbox full",
    }
    apply_events([event])
    states = {n: db.session.get(Notification, n).state for n in (lead.id, member.id, other.id)}
    assert states == {lead.id: "bounced", member.id: "bounced", other.id: "queued"}
    tasks = db.session.scalars(sa.select(Task.notification_id).where(Task.kind == "undeliverable"))
    assert sorted(tasks) == sorted([lead.id, member.id])


def test_after_the_interview_the_candidate_hears_when_the_decision_is_due(db):
    a = f.application(stage=Stage.CLIENT_REVIEW)
    db.session.commit()
    start = clock.now()
    scheduled = services.record_interview(
        a,
        actor=None,
        interview_at=start + timedelta(hours=1),
        interviewers=None,
        promised_response_at=start + timedelta(days=3),
        client_contact=None,
        next_step=None,
    )
    assert deliver([scheduled.id])["sent"] == 1
    assert followups.sweep_after_interviews(start) == 0  # not yet
    later = start + timedelta(hours=4)
    assert followups.sweep_after_interviews(later) == 1
    assert followups.sweep_after_interviews(later) == 0  # once per interview
    assert followups.sweep_after_interviews(start + timedelta(days=4)) == 0  # promise passed
    n = db.session.scalar(sa.select(Notification).where(Notification.kind == "after_interview"))
    with clock.frozen(later):
        assert deliver([n.id])["sent"] == 1
    assert "We will write to you by then either way" in db.session.get(Notification, n.id).body_text
