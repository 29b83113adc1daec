"""Show a recruiter the exact email a change will send, before they confirm it.

The change is run for real inside a savepoint, the message it owes is rendered with the
candidate's data, and the savepoint is rolled back: the preview can never drift from what
the confirmed change will send, and nothing is written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from flask import current_app

from app import clock, dates, languages
from app.extensions import db
from app.models import Application, Notification, Stage, User
from app.notifications import custom_templates, outbox
from app.notifications.pacing import Departure
from app.notifications.render import RenderError, build_context, render
from app.notifications.timing import candidate_zone
from app.pipeline.services import PipelineError, plan_interview, plan_move  # noqa: F401
from app.template_gettext import fast_gettext as _
from app.template_gettext import lazy_gettext as _l

# Merge fields a message cannot go without: every message names the role and whom to
# contact; some kinds are about a date the candidate must be told.
ALWAYS_REQUIRED = ("candidate_name", "position_title", "client_name", "recruiter_name")
REQUIRED_BY_KIND = {
    "interview_scheduled": ("interview_at", "promised_date"),
}
FIELD_LABELS = {
    "candidate_name": _l("the candidate's name"),
    "position_title": _l("the position title"),
    "client_name": _l("the client's name"),
    "recruiter_name": _l("the recruiter's name"),
    "interview_at": _l("the interview date and time"),
    "promised_date": _l("the date the client will decide by"),
}
_FIELD_DESCRIPTIONS = {f.name: f.description for f in custom_templates.MERGE_FIELDS}


@dataclass(frozen=True)
class Preview:
    application_id: int
    candidate_id: int
    candidate_name: str
    to_email: str | None
    phone: str | None
    kind: str | None  # None: this change owes the candidate no message
    subject: str | None = None
    text: str | None = None
    html: str | None = None
    send_at: datetime | None = None
    when: str = ""
    problems: list[str] = field(default_factory=list)  # block the send until fixed
    # The merge fields among `problems` (the first ones), in words: "the position title".
    missing: list[str] = field(default_factory=list)

    @property
    def contact_by_phone(self) -> bool:
        """No email address: the change goes ahead and a task asks for a call."""
        return self.kind is not None and not self.to_email

    @property
    def blocked(self) -> bool:
        return bool(self.problems)


def preview_move(
    application: Application,
    to_stage: str,
    *,
    actor: User | None,
    reason: str | None = None,
    note: str | None = None,
) -> Preview:
    """Raises PipelineError when the move itself is not allowed."""
    return dry_run(
        application,
        lambda now: plan_move(application, Stage(to_stage), actor, reason, note, now),
    )


class StalePreview(PipelineError):
    """The application changed after the preview was shown: what it showed may be wrong."""


def confirm_move(
    application: Application,
    to_stage: str,
    *,
    actor: User | None,
    reason: str | None = None,
    note: str | None = None,
    previewed_version: int | None = None,
) -> Notification | None:
    """The move the recruiter saw previewed, made and committed in one pass.

    Refused, with nothing written, when the application changed since the preview
    (`previewed_version`, the version the preview page was drawn from) or when the message
    it owes now has a problem the preview would have shown (a missing field, a template that
    no longer renders). Nothing else can differ from the preview, so the preview is not run
    a second time first (it was: twice the statements for every confirm)."""
    if previewed_version is not None and application.version != previewed_version:
        raise StalePreview(
            _(
                "This application changed since the preview was shown: check the email below "
                "again, then confirm."
            )
        )
    notification = plan_move(application, Stage(to_stage), actor, reason, note, clock.now())
    if notification is not None:
        db.session.flush()
        problems = blocking_problems(notification)
        if problems:
            db.session.rollback()
            raise PipelineError(" ".join(problems))
    db.session.commit()
    return notification


def blocking_problems(n: Notification) -> list[str]:
    """What stops a message being sent as previewed: `_describe`'s problems."""
    problems = missing_fields(n)
    try:
        render(n)
    except RenderError as exc:
        problems.append(str(exc))
    return problems


def preview_interview(application: Application, *, actor: User | None, **details) -> Preview:
    """`details` are record_interview's keyword arguments."""
    details.setdefault("note", None)
    result = dry_run(
        application, lambda now: plan_interview(application, actor=actor, now=now, **details)
    )
    if result.kind is None and details["promised_response_at"] <= clock.now():
        return replace(result, when=str(LATE_INTERVIEW))
    return result


LATE_INTERVIEW = _l(
    "No email now: the decision date has passed, so the candidate is owed the decision. "
    "Record it (offer, not selected) or they will be told the client is still deciding."
)


def dry_run(application: Application, change: Callable[[datetime], Notification | None]):
    """Run `change(now)` in a savepoint, describe the message it owes, roll it back."""
    now = clock.now()
    # Rolling the savepoint back expires the application, and with it its references to
    # the candidate, position and client: the session holds objects weakly, so without
    # these the page would load all three again (four statements for nothing).
    kept = (application.candidate, application.position, application.position.client)
    with outbox.trial():
        notification = change(now)
        db.session.flush()
        described = _describe(application, notification, now)
    del kept
    return described


def _describe(application: Application, n: Notification | None, now: datetime) -> Preview:
    candidate = application.candidate
    base = {
        "application_id": application.id,
        "candidate_id": candidate.id,
        "candidate_name": candidate.name,
        "to_email": candidate.email,
        "phone": candidate.phone,
    }
    if n is None:
        return Preview(
            kind=None,
            when=_("No message: this step does not change what the candidate has been told."),
            **base,
        )
    names = missing_names(n)
    problems = [missing_message(name) for name in names]
    base["missing"] = [missing_words(name) for name in names]
    # owe() set the row's due time with this very computation; the time shown is the row's,
    # the one the sender claims it by.
    leaving = Departure(n.due_at, outbox.departure_of(n, now))
    try:
        rendered = render(n)
    except RenderError as exc:
        return Preview(kind=n.kind, problems=[*problems, str(exc)], **base)
    return Preview(
        kind=n.kind,
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        send_at=n.due_at,
        # No address: nothing leaves; the recruiter's call is the message.
        when=describe_send_time(leaving, candidate.timezone, now)
        if base["to_email"]
        else _("Never by email: call them instead"),
        problems=problems,
        **base,
    )


def missing_fields(n: Notification) -> list[str]:
    return [missing_message(name) for name in missing_names(n)]


def missing_message(name: str) -> str:
    return _("Missing %(what)s: add it before sending.", what=missing_words(name))


def missing_names(n: Notification) -> list[str]:
    """The merge fields this message needs that the candidate's data leaves empty."""
    ctx = build_context(n)
    needed = ALWAYS_REQUIRED + REQUIRED_BY_KIND.get(n.kind, ())
    # An edited template may print more fields; an empty one would leave a hole in the email.
    used = custom_templates.required_fields(
        n.kind, n.application.position.client_id, languages.for_candidate(n.candidate.language)
    )
    needed += tuple(sorted(used - set(needed)))
    return [name for name in needed if not ctx.get(name)]


def missing_words(name: str) -> str:
    """A merge field in words, as "Missing …" names it."""
    if name in FIELD_LABELS:
        return str(FIELD_LABELS[name])
    return str(_FIELD_DESCRIPTIONS.get(name, name)).lower()


def describe_send_time(departure: Departure, tz_name: str | None, now: datetime) -> str:
    """When the message leaves and why then, in words a recruiter can repeat to the
    candidate: the same `pacing.departure` the row's due time comes from."""
    cfg = current_app.config
    at = leave_words(departure.at, tz_name)
    if departure.at <= now + timedelta(seconds=5) and not departure.why:
        return _("Now.")
    if departure.why == ("requested",):
        return _("Now: it answers the candidate's own request.")
    why = [_why_words(code, cfg) for code in departure.why if code in WAIT_WORDS]
    if why:
        return _("%(at)s: %(why)s.", at=at, why="; ".join(why))
    return _("%(at)s.", at=at)


def leave_words(moment: datetime, tz_name: str | None) -> str:
    local = moment.astimezone(candidate_zone(tz_name))
    return _(
        "%(day)s at %(time)s (%(zone)s, their time)",
        day=dates.moment(local, "weekday_day_month", local.tzinfo),
        time=dates.moment(local, "clock", local.tzinfo),
        zone=local.tzname(),
    )


WAIT_WORDS = {
    "undo": _l("after the %(undo)s undo window"),
    "digest": _l("after the %(digest)s digest window, so changes close together go as one email"),
    "business_hours": _l(
        "in the candidate's business hours (%(bh_start)02d:00–%(bh_end)02d:00 on business "
        "days, their time)"
    ),
    "quiet_hours": _l(
        "after the candidate's quiet hours (%(q_start)02d:00–%(q_end)02d:00, their time)"
    ),
    "daily_cap": _l(
        "they already get %(cap)s status emails that day, the most we send in a day, so it "
        "waits for the next morning"
    ),
    "last_of_day": _l(
        "it is their last status email that day (at most %(cap)s a day), so it waits to leave "
        "in one email with the answer due to them later that day (sooner, if that answer "
        "comes sooner)"
    ),
}


def _why_words(code: str, cfg) -> str:
    return str(WAIT_WORDS[code]) % {
        "undo": duration_words(cfg["UNDO_WINDOW_SECONDS"]),
        "digest": duration_words(cfg["CANDIDATE_DIGEST_WINDOW_SECONDS"]),
        "bh_start": cfg["BUSINESS_HOURS_START"],
        "bh_end": cfg["BUSINESS_HOURS_END"],
        "q_start": cfg["QUIET_HOURS_START"],
        "q_end": cfg["QUIET_HOURS_END"],
        "cap": cfg["MAX_STATUS_EMAILS_PER_DAY"],
    }


def duration_words(seconds: int) -> str:
    """45 -> "45-second", 300 -> "5-minute", 5400 -> "1-hour 30-minute" (before a noun)."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return _("%(n)s-second", n=seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [_("%(n)s-hour", n=hours)] if hours else []
    if minutes:
        parts.append(_("%(n)s-minute", n=minutes))
    if secs:
        parts.append(_("%(n)s-second", n=secs))
    return " ".join(parts)
