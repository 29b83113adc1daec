"""Promised decision dates: the recruiter's reminder a business day before, and the sweep that
tells the candidate "still deciding" (and pushes the date) when a promise is missed, in time
for the candidate's own day (sweep_at)."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import orm

from app import clock
from app.bulk_sql import id_filters
from app.business_days import get_calendar
from app.extensions import db
from app.models import (
    Application,
    Candidate,
    Notification,
    NState,
    Position,
    Stage,
    Task,
    User,
)
from app.notifications import outbox
from app.notifications.timing import promise_answered_by
from app.pipeline.base import actor_id
from app.stored_words import words

# Reminders about a promised decision date: a decision recorded answers both.
PROMISE_TASKS = ("promised_date_due", "promise_missed")


def promise_key(application: Application, promised: datetime) -> str:
    return f"promise_due:{application.id}:{promised.isoformat()}"


def settle_promise_reminders(
    application: Application, actor: User | None, now: datetime, keep: str = ""
) -> None:
    """A decision was recorded (or a new date promised): the old reminder has no object.
    A decision also answers a missed date's task; a new date (`keep`) only the reminder."""
    db.session.execute(
        sa.update(Task)
        .where(
            Task.application_id == application.id,
            Task.kind.in_(("promised_date_due",) if keep else PROMISE_TASKS),
            Task.resolved_at.is_(None),
            Task.dedupe_key != keep,
        )
        .values(resolved_at=now, resolved_by_id=actor_id(actor))
        .execution_options(synchronize_session=False)
    )


def remind_before_promise(application: Application, promised: datetime, now: datetime) -> None:
    """sweep_promised_dates acts only once the date has passed: give the recruiter a task a
    business day before, so they can chase the client while the promise still holds."""
    due = get_calendar().shift(promised, -1)
    outbox.open_task(
        kind="promised_date_due",
        title=words(
            "task.promise_reminder",
            client=application.position.client.name,
            name=application.candidate.name,
            date=promised.date().isoformat(),
        ),
        dedupe_key=promise_key(application, promised),
        candidate_id=application.candidate_id,
        application_id=application.id,
        assignee_id=application.position.owner_id,
        due_at=max(due, now),
    )


def reopen_promise_reminder(application: Application, promised: datetime, now: datetime) -> None:
    """Back at interview after an undo: the promise stands again, and so does its reminder."""
    task = db.session.scalar(
        sa.select(Task).where(Task.dedupe_key == promise_key(application, promised))
    )
    if task is None:
        remind_before_promise(application, promised, now)
    else:
        task.resolved_at = task.resolved_by_id = None


def sweep_at(promised: datetime, tz_name: str | None) -> datetime:
    """When the sweep acts on a promised date (timing.promise_answered_by: the daily cap
    keeps a candidate's last email of that day for what the sweep owes then)."""
    return promise_answered_by(promised, tz_name)


# sweep_at is at most a day (and the lead) before the date: the rows the sweep looks at.
_SWEEP_HORIZON = timedelta(days=2)


def next_sweep(now: datetime, within: timedelta = timedelta(days=1)) -> datetime | None:
    """The next moment after `now`, and no later than `within` of it, at which
    sweep_promised_dates has something to do (the simulated quarter stops its clock there)."""
    rows = db.session.execute(
        sa.select(Application.promised_response_at, Candidate.timezone)
        .join(Candidate, Candidate.id == Application.candidate_id)
        .where(
            Application.stage == Stage.INTERVIEW.value,
            Application.promised_response_at > now,
            Application.promised_response_at <= now + within + _SWEEP_HORIZON,
        )
    ).all()
    times = [t for promised, tz in rows if (t := sweep_at(promised, tz)) > now]
    return min(times, default=None)


def sweep_promised_dates(
    now: datetime | None = None,
    *,
    followup_days: int = 2,
    max_updates: int = 3,
    slow_followup_days: int = 5,
) -> int:
    """Promised date missed (or about to be, in the candidate's day: sweep_at) with no
    decision: tell the candidate, push the date, remind the recruiter. Every "still deciding"
    names the next date and the next sweep keeps it: the first `max_updates` name a date
    `followup_days` business days on, later ones `slow_followup_days` (fewer emails for a
    client who stays silent, and no date named in writing that nobody keeps)."""
    now = now or clock.now()
    # Which dates are due is read from two columns (the candidate's time zone decides): the
    # applications themselves are loaded only for those, not every interview within the
    # horizon with its candidate one by one.
    rows = db.session.execute(
        sa.select(Application.id, Application.promised_response_at, Candidate.timezone)
        .join(Candidate, Candidate.id == Application.candidate_id)
        .where(
            Application.stage == Stage.INTERVIEW.value,
            Application.promised_response_at.is_not(None),
            Application.promised_response_at < now + _SWEEP_HORIZON,
        )
        .order_by(Application.promised_response_at, Application.id)
        .limit(5000)
    ).all()
    due = [r.id for r in rows if sweep_at(r.promised_response_at, r.timezone) <= now]
    apps = []
    for among in id_filters(db.session, Application.id, due):
        apps.extend(
            db.session.scalars(
                sa.select(Application)
                .where(among)
                .options(
                    orm.joinedload(Application.candidate),
                    orm.joinedload(Application.position).joinedload(Position.client),
                )
            )
        )
    apps.sort(key=lambda a: (a.promised_response_at, a.id))
    owed = 0
    calendar = get_calendar()
    for application in apps:
        promised = application.promised_response_at
        sent_before = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Notification)
            .where(
                Notification.application_id == application.id,
                Notification.kind == "still_deciding",
                Notification.state != NState.SUPERSEDED.value,
            )
        )
        # Business days, as every date a candidate is promised (app/business_days.py).
        days = followup_days if sent_before < max_updates else slow_followup_days
        new_date = calendar.shift(promised, days)
        while new_date < now:
            new_date = calendar.shift(new_date, days)
        task = outbox.open_task(
            kind="promise_missed",
            title=words(
                "task.promise_missed",
                client=application.position.client.name,
                name=application.candidate.name,
            ),
            dedupe_key=f"promise_missed:{application.id}:{promised.isoformat()}",
            candidate_id=application.candidate_id,
            application_id=application.id,
            assignee_id=application.position.owner_id,
            due_at=now,
            now=now,
        )
        if application.candidate.optional_updates:
            n = outbox.owe(
                application,
                "still_deciding",
                now=now,
                key_extra=f"p{int(promised.timestamp())}",
                context={
                    "promised_response_at": promised.isoformat(),
                    "new_expected_at": new_date.isoformat(),
                },
            )
            owed += n is not None
            if n is not None and task is not None:
                # The message answers this task: the report, My queue and the managers'
                # digest read "told" from this link, not from which row was stamped first.
                task.notification_id = n.id
        application.promised_response_at = new_date
    db.session.commit()
    return owed
