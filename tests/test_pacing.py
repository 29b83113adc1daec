"""Nuisance limits: the digest window, quiet hours in the candidate's zone, the daily cap
(which delays, never drops), opt-outs, and delivery events for a digest."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from rq.job import Job

from app import clock
from app.models import MailboxMessage, Notification, NState, OutcomeReason, Stage, Task
from app.notifications import outbox, send
from app.notifications.events import apply_events
from app.notifications.kinds import PACED_KINDS
from app.notifications.prepare import prepare
from app.notifications.reconcile import dispatch_due
from app.notifications.send import deliver
from app.notifications.timing import due_time
from app.pipeline import followups, preview, services
from app.redis_conn import get_redis
from app.status import services as candidate_services
from tests import factories as f
from tests.sender import run_sender_until

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


def test_a_candidates_messages_due_together_go_in_one_send_job_and_one_email(paced, db):
    """Two outcomes of different kinds for one candidate, due at the same moment: in two send
    jobs, two workers could each claim one and neither would see the other waiting, so the
    candidate got two emails, past the daily cap (make simulate, full size: a rejection and
    a "position filled" at 10:30 sharp, the candidate's third email that day)."""
    paced.config["CANDIDATE_DIGEST_WINDOW_SECONDS"] = 0
    with clock.frozen(WEDNESDAY_NOON) as now:
        c, (a, b) = _apps(db, 2)
        earlier = services.move_stage(a, Stage.CLIENT_REVIEW, actor=None)
        assert deliver([earlier.id])["sent"] == 1  # the day's first email
        now.advance(minutes=10)
        rejected = services.move_stage(
            a, Stage.REJECTED, actor=None, reason=OutcomeReason.CLIENT_DECLINED
        )
        closed = services.move_stage(
            b, Stage.POSITION_CLOSED, actor=None, reason=OutcomeReason.FILLED_BY_OTHER
        )
        rows = [db.session.get(Notification, n.id) for n in (rejected, closed)]
        assert {n.kind for n in rows} == {"not_selected_client", "position_filled"}
        assert rows[0].due_at == rows[1].due_at  # the same undo window
        now.current = rows[0].due_at
        assert dispatch_due() == 2
        db.session.expire_all()
        (job_id,) = {db.session.get(Notification, n.id).job_id for n in rows}
        job = Job.fetch(job_id, connection=get_redis())
        assert sorted(job.args[0]) == sorted(n.id for n in rows)
        assert deliver(job.args[0])["sent"] == 2
    mail = [m for m in _sent_mail(db) if m.to_email == c.email]
    assert len(mail) == 2  # the morning's update, then both outcomes in one email


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


def test_an_email_in_flight_counts_in_the_time_a_change_shows_and_is_given(paced, db):
    """A send job is sending the candidate the day's second email (claimed, its lease
    running) as a recruiter previews and makes a change owing them another: the page says
    the next morning and the message is due then, as the send job itself would decide. Once
    that job's lease has run out (the worker died), its claim no longer counts."""
    paced.config["CANDIDATE_DIGEST_WINDOW_SECONDS"] = 0
    with clock.frozen(WEDNESDAY_NOON) as now:
        _, (a, b, d, e) = _apps(db, 4)
        first = services.move_stage(a, Stage.CLIENT_REVIEW, actor=None)
        assert deliver([first.id])["sent"] == 1
        now.advance(hours=1)
        second = services.move_stage(b, Stage.CLIENT_REVIEW, actor=None)
        assert send.claim([second.id], clock.now()) == [second.id]  # in flight, not sent
        now.advance(seconds=1)
        page = preview.preview_move(d, Stage.CLIENT_REVIEW, actor=None)
        third = services.move_stage(d, Stage.CLIENT_REVIEW, actor=None)
        thursday_morning = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
        assert third.due_at == page.send_at == thursday_morning
        assert page.when.startswith("Thu 3 Dec at 08:00 (GMT, their time):")
        assert "they already get 2 status emails that day" in page.when
        # The worker sending `second` died: past its lease the claim is not an email.
        now.advance(seconds=paced.config["SEND_LEASE_SECONDS"] + 1)
        page = preview.preview_move(e, Stage.CLIENT_REVIEW, actor=None)
        assert page.send_at == clock.now()
        assert page.when == "Now."


def test_two_send_jobs_at_once_never_both_spend_the_days_last_email(paced, db):
    """Two messages for one candidate, claimed by two send jobs at the same moment (so
    neither pulled the other into a digest), with one email of the day's two left: the
    second job to decide waits for the first's decision and sees it. Exactly one of them
    goes today; the other waits for the next morning."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time: two send jobs never decide at once")
    paced.config["CANDIDATE_DIGEST_WINDOW_SECONDS"] = 0
    with clock.frozen(WEDNESDAY_NOON) as now:
        _, (a, b, d) = _apps(db, 3)
        first_email = services.move_stage(a, Stage.CLIENT_REVIEW, actor=None)
        assert deliver([first_email.id])["sent"] == 1  # the next email is the day's last
        now.advance(hours=1)
        x = services.move_stage(b, Stage.CLIENT_REVIEW, actor=None).id
        y = services.move_stage(d, Stage.CLIENT_REVIEW, actor=None).id
        assert send.claim([x], clock.now()) == [x]  # each job has claimed its own message
        assert send.claim([y], clock.now()) == [y]
        plans = {}
        decided, go_on = threading.Event(), threading.Event()

        def job(name: str, notification_id: int, before_commit=None) -> None:
            with paced.app_context():
                plans[name] = prepare([notification_id], clock.now())
                if before_commit is not None:
                    before_commit()
                db.session.commit()

        def first_pauses() -> None:
            decided.set()
            go_on.wait(10)

        first = threading.Thread(target=job, args=("first", x, first_pauses))
        first.start()
        assert decided.wait(10)
        second = threading.Thread(target=job, args=("second", y))
        second.start()
        second.join(0.5)
        assert second.is_alive(), "the second job decided before the first had committed"
        go_on.set()
        first.join(10)
        second.join(10)
        assert not first.is_alive() and not second.is_alive()
        # The first saw the second's email in flight: the day was full, it waits.
        assert (plans["first"].held, len(plans["first"].ready)) == (1, 0)
        # The second saw the first's decision, not a message still being sent: it goes.
        assert (plans["second"].held, len(plans["second"].ready)) == (0, 1)
        db.session.expire_all()
        held = db.session.get(Notification, x)
        assert (held.state, held.due_at) == ("pending", datetime(2026, 12, 3, 8, 0, tzinfo=UTC))
        assert db.session.get(Notification, y).state == NState.SENDING


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


# -- the day's last email waits for the answer due that day ----------------------------------

MONDAY_NOON = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
PROMISED_WEDNESDAY = datetime(2026, 12, 2, 17, 0, tzinfo=UTC)


def _emails_on(db, day) -> dict[str, list[str]]:
    """The status emails the candidate got on `day` (London is on UTC): message -> kinds."""
    emails: dict[str, list[str]] = {}
    for message_id, kind, sent_at in db.session.execute(
        sa.select(Notification.provider_message_id, Notification.kind, Notification.sent_at)
        .where(Notification.sent_at.is_not(None), Notification.kind.in_(PACED_KINDS))
        .order_by(Notification.sent_at, Notification.id)
    ):
        if sent_at.date() == day:
            emails.setdefault(message_id, []).append(kind)
    return emails


def _promised_for_wednesday(db, clk):
    """A candidate in three pipelines: one interviewed with a decision promised for
    Wednesday 17:00 (told on Monday), two others that move on Wednesday."""
    _, (promised, a, b) = _apps(db, 3, name="Priya Raman")
    services.move_stage(promised, Stage.CLIENT_REVIEW, actor=None)
    services.record_interview(
        promised,
        actor=None,
        interview_at=MONDAY_NOON + timedelta(hours=3),
        interviewers=None,
        promised_response_at=PROMISED_WEDNESDAY,
        client_contact=None,
        next_step=None,
    )
    run_sender_until(MONDAY_NOON + timedelta(hours=1), clk)
    return a, b


def test_three_messages_in_a_day_are_two_emails_and_the_promise_is_answered_that_day(paced, db):
    with clock.frozen(MONDAY_NOON) as clk:
        a, b = _promised_for_wednesday(db, clk)
        run_sender_until(datetime(2026, 12, 2, 9, 0, tzinfo=UTC), clk)
        first = services.move_stage(a, Stage.CLIENT_REVIEW, actor=None)
        run_sender_until(first.due_at, clk)  # Wednesday's first email, 09:05
        clk.advance(hours=2)
        # The second update would be Wednesday's last email, and the candidate is owed an
        # answer to Wednesday's promised date: it waits for that answer (the sweep at 17:00).
        page = preview.preview_move(b, Stage.CLIENT_REVIEW, actor=None)
        second = services.move_stage(b, Stage.CLIENT_REVIEW, actor=None)
        assert second.due_at == page.send_at == PROMISED_WEDNESDAY
        assert page.when.startswith("Wed 2 Dec at 17:00 (GMT, their time):")
        assert "it is their last status email that day (at most 2 a day)" in page.when
        assert "with the answer due to them later that day" in page.when
        run_sender_until(PROMISED_WEDNESDAY - timedelta(minutes=1), clk)
        assert db.session.get(Notification, second.id).state == NState.PENDING
        clk.current = PROMISED_WEDNESDAY
        assert services.sweep_promised_dates(PROMISED_WEDNESDAY) == 1  # "still deciding"
        run_sender_until(datetime(2026, 12, 2, 18, 0, tzinfo=UTC), clk)
        # A third change that evening: the day is full, it waits for Thursday morning.
        third = services.move_stage(a, Stage.INTERVIEW, actor=None)
        assert third.due_at == datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
        run_sender_until(datetime(2026, 12, 3, 12, 0, tzinfo=UTC), clk)
    wednesday = list(_emails_on(db, PROMISED_WEDNESDAY.date()).values())
    # Before: the update left at 11:05 as the second email and "still deciding", the third
    # that day, was held to Thursday morning: a broken promise.
    assert wednesday == [["client_review"], ["client_review", "still_deciding"]]
    answered = db.session.get(Notification, second.id)
    assert answered.sent_at == PROMISED_WEDNESDAY  # the promised day, before its evening
    assert list(_emails_on(db, datetime(2026, 12, 3).date()).values()) == [["interview_scheduled"]]


def test_the_last_email_waits_for_a_decision_inside_its_undo_window(paced, db):
    paced.config["CANDIDATE_DIGEST_WINDOW_SECONDS"] = 0
    with clock.frozen(WEDNESDAY_NOON) as clk:
        _, (a, b, d) = _apps(db, 3)
        services.move_stage(a, Stage.CLIENT_REVIEW, actor=None)
        run_sender_until(clk.current, clk)  # the day's first email
        clk.advance(hours=1)
        outcome = services.move_stage(
            d, Stage.REJECTED, actor=None, reason=OutcomeReason.CLIENT_DECLINED
        )
        assert outcome.due_at == clk.current + timedelta(minutes=30)  # the undo window
        clk.advance(minutes=10)
        update = services.move_stage(b, Stage.CLIENT_REVIEW, actor=None)
        # Sent now, the update would spend the day's last email and the outcome, decided
        # today, would wait for tomorrow: it leaves with the outcome instead.
        assert update.due_at == outcome.due_at
        run_sender_until(datetime(2026, 12, 2, 20, 0, tzinfo=UTC), clk)
    assert list(_emails_on(db, WEDNESDAY_NOON.date()).values()) == [
        ["client_review"],
        ["not_selected_client", "client_review"],
    ]
    assert db.session.get(Notification, outcome.id).sent_at == outcome.due_at


def test_the_sender_holds_the_last_email_for_the_days_answer_and_says_why(paced, db):
    """An outcome owed before the day's first email left learns when it falls due that it
    would be the day's last email, with a promised date still open that day: it is held for
    the answer, with the reason, and leaves with it."""
    with clock.frozen(MONDAY_NOON) as clk:
        a, b = _promised_for_wednesday(db, clk)
        clk.current = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
        update = services.move_stage(a, Stage.CLIENT_REVIEW, actor=None)
        outcome = services.move_stage(
            b, Stage.REJECTED, actor=None, reason=OutcomeReason.AGENCY_DECISION
        )
        assert outcome.due_at == clk.current + timedelta(minutes=30)  # nothing sent yet
        clk.current = update.due_at
        assert deliver([update.id])["sent"] == 1  # the outcome is still inside its undo window
        clk.current = outcome.due_at
        assert deliver([outcome.id]) == {"claimed": 1, "sent": 0, "failed": 0, "held": 1}
        held = db.session.get(Notification, outcome.id)
        assert (held.state, held.due_at) == (NState.PENDING, PROMISED_WEDNESDAY)
        assert held.last_error == (
            "held: the candidate's last status email of the day waits for an answer due that day"
        )
        assert held.last_error_code == "error.last_of_day"
        clk.current = PROMISED_WEDNESDAY
        assert services.sweep_promised_dates(PROMISED_WEDNESDAY) == 1
        run_sender_until(datetime(2026, 12, 2, 20, 0, tzinfo=UTC), clk)
    assert list(_emails_on(db, PROMISED_WEDNESDAY.date()).values()) == [
        ["client_review"],
        ["not_selected_agency", "still_deciding"],
    ]


def test_a_sender_ahead_of_the_promise_sweep_looks_again_minutes_later(paced, db):
    """The sender reaches the held email at 17:00 before the sweep has owed "still deciding":
    it looks again five minutes on, not at the end of the day, and both leave as one."""
    with clock.frozen(MONDAY_NOON) as clk:
        a, b = _promised_for_wednesday(db, clk)
        clk.current = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
        run_sender_until(services.move_stage(a, Stage.CLIENT_REVIEW, actor=None).due_at, clk)
        clk.advance(hours=2)
        second = services.move_stage(b, Stage.CLIENT_REVIEW, actor=None)
        clk.current = PROMISED_WEDNESDAY
        assert deliver([second.id])["held"] == 1
        assert db.session.get(Notification, second.id).due_at == clk.current + timedelta(minutes=5)
        assert services.sweep_promised_dates(PROMISED_WEDNESDAY) == 1
        run_sender_until(datetime(2026, 12, 2, 20, 0, tzinfo=UTC), clk)
    assert list(_emails_on(db, PROMISED_WEDNESDAY.date()).values()) == [
        ["client_review"],
        ["client_review", "still_deciding"],
    ]
    sent = db.session.get(Notification, second.id).sent_at
    assert sent == PROMISED_WEDNESDAY + timedelta(minutes=5)


def test_a_batch_holds_each_candidates_last_email_reading_their_promises_once(paced, db):
    """A fan-out's send job: every candidate in it had one email today and a date promised
    for today; each one's update is held for that answer, and the promises are read in one
    statement for the batch, not one per candidate."""
    with clock.frozen(MONDAY_NOON) as clk:
        pairs = [_promised_for_wednesday(db, clk) for _ in range(3)]
        clk.current = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
        for a, _ in pairs:
            services.move_stage(a, Stage.CLIENT_REVIEW, actor=None)
        run_sender_until(datetime(2026, 12, 2, 11, 0, tzinfo=UTC), clk)
        paced.config["CANDIDATE_DIGEST_WINDOW_SECONDS"] = 0
        # Owed with the sender's view out of date (as a fan-out's rows are, written in bulk).
        owed = [services.move_stage(b, Stage.CLIENT_REVIEW, actor=None) for _, b in pairs]
        for n in owed:
            n.due_at = clk.current
        db.session.commit()
        seen: list[str] = []

        def record(conn, cursor, statement, *args):
            seen.append(statement)

        sa.event.listen(db.engine, "before_cursor_execute", record)
        try:
            assert deliver([n.id for n in owed])["held"] == 3
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", record)
    assert [db.session.get(Notification, n.id).due_at for n in owed] == [PROMISED_WEDNESDAY] * 3
    promise_reads = [s for s in seen if "promised_response_at" in s and "FROM applications" in s]
    assert len(promise_reads) == 1
