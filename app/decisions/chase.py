"""The emails that bring a client's hiring manager to their decision page.

One business day before a promised decision date, the position's decision contact gets one
email listing every candidate awaiting their decision on it (once per promised date). When a
date has passed with no decision (the promised-dates sweep has opened a "decision date
missed" task and told the candidate), they get one reminder per missed promise, and never
more than one a day. Both are staff-side mail (`staff_messages`, sent by the digest's job
through the same backend), never candidate notifications: they do not count in the
candidate's outbox, its SLA or its invariant.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app, render_template
from flask_babel import force_locale, get_translations, ngettext
from sqlalchemy.orm import selectinload

from app import clock, languages
from app.bulk_sql import id_filters
from app.business_days import get_calendar
from app.decisions import links
from app.decisions.services import contact
from app.extensions import db
from app.models import (
    Application,
    Candidate,
    Client,
    ClientDecision,
    DecisionState,
    Position,
    StaffMessage,
    StaffMessageState,
    Stage,
    Task,
)
from app.reports import digest

REQUEST = "client_decision_request"
REMINDER = "client_decision_reminder"


def sweep(now: datetime | None = None) -> dict:
    """Scheduler entry point: requests and reminders owed now, and auto-confirmations."""
    from app.decisions.services import confirm_due

    now = now or clock.now()
    written = []
    waiting_by_position = _waiting(_positions_to_write_to(now))
    missed = _missed_tasks([a.id for apps in waiting_by_position.values() for a in apps])
    for position, waiting in waiting_by_position.items():
        name, email = contact(position)
        if not email:
            continue
        message = _request(position, waiting, name, email, now) or _reminder(
            position, waiting, name, email, now, missed
        )
        if message is not None:
            written.append(message.id)
    db.session.commit()
    if written:
        digest.dispatch(written)  # the digest tick re-dispatches whatever this misses
    return {"written": len(written), "confirmed": confirm_due(now)}


# One business day before a date is never further back than this, whatever the holidays.
_REQUEST_HORIZON = timedelta(days=14)


def _positions_to_write_to(now: datetime) -> list[int]:
    """The positions this pass writes to: a promised date a business day away or less
    (_request's own test, applied here to two columns of every interview with a date in
    the request's horizon), or a missed date's open task (_reminder). A pass then loads the
    waiting applications of these positions only: not every interview with a date in the
    next two weeks, at every pass (at the simulated quarter's full size that was 53 ms of
    CPU a pass, every RECONCILE_INTERVAL_SECONDS)."""
    interviewing = sa.and_(
        Application.stage == Stage.INTERVIEW.value,
        Application.promised_response_at.is_not(None),
    )
    calendar = get_calendar()
    dates = db.session.execute(
        sa.select(Application.position_id, Application.promised_response_at).where(
            interviewing,
            Application.promised_response_at > now,
            Application.promised_response_at <= now + _REQUEST_HORIZON,
        )
    )
    soon = {position for position, date in dates if calendar.shift(date, -1) <= now}
    missed = db.session.scalars(
        sa.select(Application.position_id)
        .join(Task, Task.application_id == Application.id)
        .where(interviewing, Task.kind == "promise_missed", Task.resolved_at.is_(None))
    )
    return _with_someone_to_write_to(sorted(soon.union(missed)))


def _with_someone_to_write_to(position_ids: list[int]) -> list[int]:
    """Those of `position_ids` with a decision contact's address (services.contact: the
    position's own, else its client's): the others' waiting candidates are not loaded, as
    sweep() could not write to anyone about them."""
    addressed = sa.or_(
        sa.func.coalesce(Position.contact_email, "") != "",
        sa.func.coalesce(Client.contact_email, "") != "",
    )
    found: list[int] = []
    for among in id_filters(db.session, Position.id, position_ids):
        found.extend(
            db.session.scalars(
                sa.select(Position.id)
                .join(Client, Client.id == Position.client_id)
                .where(among, addressed)
            )
        )
    return sorted(found)


def _waiting(position_ids: list[int]) -> dict[Position, list[Application]]:
    """services.awaiting for these positions at once, without the candidates whose client
    has already decided (pending_decision): a few statements per pass, not a few per
    position (the pass runs every RECONCILE_INTERVAL_SECONDS)."""
    out: dict[Position, list[Application]] = {}
    for among in id_filters(db.session, Application.position_id, position_ids):
        for application in _waiting_in(among):
            out.setdefault(application.position, []).append(application)
    return out


def _waiting_in(among) -> list[Application]:
    decided = (
        sa.select(ClientDecision.id)
        .where(
            ClientDecision.application_id == Application.id,
            ClientDecision.state == DecisionState.PREPARED.value,
        )
        .exists()
    )
    applications = db.session.scalars(
        sa.select(Application)
        .join(Candidate, Candidate.id == Application.candidate_id)
        .where(
            among,
            Application.stage == Stage.INTERVIEW.value,
            Application.promised_response_at.is_not(None),
            Candidate.anonymised_at.is_(None),
            ~decided,
        )
        .options(selectinload(Application.position).selectinload(Position.client))
        .order_by(Application.position_id, Application.promised_response_at, Application.id)
    )
    return list(applications)


def _missed_tasks(application_ids: list[int]) -> dict[int, int]:
    """Open "decision date missed" tasks: the newest one's id per application."""
    if not application_ids:
        return {}
    return dict(
        db.session.execute(
            sa.select(Task.application_id, sa.func.max(Task.id))
            .where(
                Task.kind == "promise_missed",
                Task.resolved_at.is_(None),
                Task.application_id.in_(application_ids),
            )
            .group_by(Task.application_id)
        ).all()
    )


def _request(position, waiting, name, email, now) -> StaffMessage | None:
    calendar = get_calendar()
    soon = [
        a
        for a in waiting
        if calendar.shift(a.promised_response_at, -1) <= now < a.promised_response_at
    ]
    if not soon:
        return None
    first = min(a.promised_response_at for a in soon)
    key = f"{REQUEST}:{position.id}:{first.isoformat()}"
    return _write(position, REQUEST, key, waiting, name, email, now, due_by=first)


def _reminder(position, waiting, name, email, now, missed_by_app) -> StaffMessage | None:
    missed = max((missed_by_app.get(a.id, 0) for a in waiting), default=0) or None
    if missed is None:
        return None
    recent = db.session.scalar(
        sa.select(StaffMessage.id).where(
            StaffMessage.kind == REMINDER,
            StaffMessage.idempotency_key.like(f"{REMINDER}:{position.id}:%"),
            StaffMessage.created_at > now - timedelta(days=1),
        )
    )
    if recent is not None:
        return None  # never more than one a day
    key = f"{REMINDER}:{position.id}:{missed}"
    return _write(position, REMINDER, key, waiting, name, email, now, due_by=None)


def _write(position, kind, key, waiting, name, email, now, *, due_by) -> StaffMessage | None:
    if db.session.scalar(sa.select(StaffMessage.id).where(StaffMessage.idempotency_key == key)):
        return None
    values = {
        "kind": kind,
        "contact_name": name,
        "position": position,
        "client": position.client,
        "waiting": waiting,
        "due_by": due_by,
        "url": links.url(position),
        "recruiter": position.owner,
        "agency_name": current_app.config["AGENCY_NAME"],
        "link_days": current_app.config["CLIENT_DECISION_LINK_DAYS"],
        # The client's dates on the agency's calendar, like the promise itself.
        "zone": current_app.config["AGENCY_TIMEZONE"],
    }
    # A client is no candidate with a language of their own: the agency's, for the words
    # and the dates alike, once the staff wording is translated into it; until then English
    # for both, so no email mixes English sentences with German dates.
    with force_locale(_email_language()):
        return _store(position, kind, key, waiting, email, now, values)


_SUBJECT = "Your decision on %(title)s: %(num)d candidate waiting"


def _email_language() -> str:
    """The agency's language if the catalogs translate this email's wording, else English."""
    wanted = languages.agency_default()
    if wanted == languages.FALLBACK:
        return wanted
    with force_locale(wanted):
        translated = get_translations().gettext(_SUBJECT) != _SUBJECT
    return wanted if translated else languages.FALLBACK


def _store(position, kind, key, waiting, email, now, values) -> StaffMessage | None:
    if kind == REQUEST:
        subject = ngettext(
            "Your decision on %(title)s: %(num)d candidate waiting",
            "Your decision on %(title)s: %(num)d candidates waiting",
            len(waiting),
            title=position.title,
        )
    else:
        subject = ngettext(
            "Reminder: %(num)d candidate still waiting on %(title)s",
            "Reminder: %(num)d candidates still waiting on %(title)s",
            len(waiting),
            title=position.title,
        )
    message = StaffMessage(
        user_id=position.owner_id,
        kind=kind,
        idempotency_key=key,
        state=StaffMessageState.PENDING.value,
        to_email=email,
        subject=subject[:300],
        body_text=render_template("decisions/email.txt", **values),
        body_html=render_template("decisions/email.html", **values),
        item_count=len(waiting),
        due_at=now,
        created_at=now,
    )
    try:
        with db.session.begin_nested():
            db.session.add(message)
    except sa.exc.IntegrityError:
        return None  # another scheduler wrote it first
    return message
