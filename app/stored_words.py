"""Words our code writes into the database for staff to read later: task titles and details,
why a message is held or failed, the overdue report's notes, why a webhook endpoint was
switched off, audit details.

Marking such a text with `_()` when it is written would freeze the writer's language in the
row. So the row keeps a code and its arguments (`<field>_code`, `<field>_args`) and gets its
words when it is shown, in the reader's language: `{{ task | said("title") }}` in a template,
`say(code, args, english)` in Python. The English column is written as well: rows from before
the codes, the API, the webhooks and the CSV exports read it, and a code this module no longer
knows falls back to it.

Each code is a stable name (never reuse one for other words); its msgid is marked `N_()` here
so `make translations` extracts it into staff.pot. Arguments are plain JSON values: names and
titles as they were, the provider's own words as quoted data, codes (a message kind, a date)
that `ARGS` below turns into words of the reader's language.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from typing import Any, NamedTuple

from flask import has_app_context
from flask_babel import force_locale, format_date

from app import labels
from app.template_gettext import english
from app.template_gettext import fast_gettext as _

ENGLISH = "en"  # the msgids' language


def N_(msgid: str) -> str:  # noqa: N802 -- gettext_noop's usual name; babel extracts N_()
    return msgid


WORDS: dict[str, str] = {
    # Tasks: titles
    "task.still_owed": N_("%(name)s is still owed a message (%(kind)s)"),
    "task.send_failed": N_("Message to %(name)s could not be sent: reach them another way"),
    "task.bounced": N_("Email to %(name)s bounced — reach them another way"),
    "task.blocked": N_("Email to %(name)s was blocked — reach them another way"),
    "task.dropped": N_("Email to %(name)s was dropped — reach them another way"),
    "task.promise_reminder": N_(
        "Chase %(client)s for a decision on %(name)s (promised by %(date)s)"
    ),
    "task.promise_missed": N_("%(client)s missed its decision date for %(name)s"),
    "task.update_request": N_("%(name)s asked for an update: %(position)s at %(client)s"),
    "task.candidate_withdrew": N_(
        "%(name)s withdrew from %(position)s at %(client)s: tell the client"
    ),
    "task.reply": N_("%(name)s replied: %(position)s at %(client)s"),
    "task.reply_other_sender": N_(
        "A reply about %(name)s from another address: %(position)s at %(client)s"
    ),
    "task.client_declined": N_("%(client)s declined %(name)s: confirm the rejection email"),
    "task.client_forward": N_("%(client)s wants to move %(name)s forward: confirm the offer stage"),
    "task.call_candidate": N_("Call %(name)s: tell them %(news)s"),
    "task.erased": N_("%(task_kind)s (candidate erased)"),
    # Tasks: details
    "detail.bounced": N_("Our %(kind)s to %(address)s bounced: %(reason)s"),
    "detail.blocked": N_("Our %(kind)s to %(address)s was blocked: %(reason)s"),
    "detail.dropped": N_("Our %(kind)s to %(address)s was dropped: %(reason)s"),
    "detail.update_request": N_(
        "Answer from this task before it is due; otherwise the candidate is sent the "
        "current status automatically."
    ),
    "detail.reply_other_sender": N_(
        "Sent from %(email)s, not the candidate's address: check who wrote before sharing "
        "anything. %(body)s"
    ),
    "detail.reply_no_text": N_("(no text)"),
    "detail.decision_reason": N_("Reason: %(reason)s."),
    "detail.decision_feedback": N_("Feedback for you: %(feedback)s"),
    "detail.decision_both": N_("Reason: %(reason)s. Feedback for you: %(feedback)s"),
    "detail.call_candidate": N_("No email address on file. Phone: %(phone)s."),
    # Why a message waits or failed (notifications.last_error)
    "error.no_address": N_("No email address on file: contact the candidate by phone."),
    "error.quiet_hours": N_("held for the candidate's quiet hours"),
    "error.daily_cap": N_(
        "held: the candidate had %(cap)s status emails that day, the daily limit"
    ),
    "error.last_of_day": N_(
        "held: the candidate's last status email of the day waits for an answer due that day"
    ),
    "error.sending_paused": N_("sending paused: %(reason)s"),
    "error.worker_stopped": N_("worker stopped while sending; sending again"),
    "error.staff_worker_stopped": N_("worker stopped while sending"),
    "error.rejected": N_("SendGrid rejected the message: %(reason)s"),
    "error.deferred": N_("deferred: %(reason)s"),
    "error.bounced": N_("bounce: %(reason)s"),
    "error.blocked": N_("blocked: %(reason)s"),
    "error.dropped": N_("dropped: %(reason)s"),
    # What was done for a candidate (candidate_actions.detail)
    "action.updates_on": N_("optional updates on"),
    "action.updates_off": N_("optional updates off"),
    "action.updates_on_by_staff": N_("optional updates on (changed by staff)"),
    "action.updates_off_by_staff": N_("optional updates off (changed by staff)"),
    "action.language": N_("language %(language)s"),
    "action.language_by_staff": N_("language %(language)s (changed by staff)"),
    # Audit log details (audit_log.detail) that are sentences of ours
    "audit.password_by_self": N_("by themselves, with their current password"),
    "audit.role": N_("role: %(role)s"),
    "audit.token": N_("token %(id)s (%(token_name)s)"),
    "audit.subject": N_("subject: %(subject)s"),
    "audit.erased": N_(
        "%(withdrawn)s application(s) withdrawn, %(settled)s owed message(s) settled"
    ),
    # The overdue report's notes (overdue_items.note)
    "note.no_outcome": N_("no outcome message recorded"),
    "note.promise_passed": N_("decision date passed, no decision yet"),
    "note.promise_untold": N_("decision date missed, candidate not told"),
    "note.never_contacted": N_("never contacted"),
    "note.last_contact": N_("last contact"),
    "note.reply_waiting": N_("the candidate's email is waiting for an answer"),
    # Webhook endpoints (webhook_endpoints.disabled_reason)
    "endpoint.failed_in_a_row": N_("%(limit)s failed deliveries in a row; last: %(last)s"),
    "endpoint.disabled_by_admin": N_("Disabled by an admin."),
    # Alerts for admins on the dashboard (alerts.message)
    "alert.webhook_disabled": N_(
        "The webhook endpoint %(url)s was disabled after %(limit)s failed deliveries in a "
        "row. Its events are kept: enable it again once it answers."
    ),
    "alert.render_failed": N_(
        "%(kind_label)s messages cannot be rendered, so they are held (still owed) and tried "
        "again: %(error)s. Fix the template (Templates) or the code; they go out on their own "
        "once they render."
    ),
}


def _date(value: str | None) -> str:
    return format_date(date.fromisoformat(value), "d MMM") if value else ""


# Arguments stored as codes or left empty, put into words when shown.
ARGS: dict[str, Callable[[Any], str]] = {
    "kind": labels.kind_phrase,
    "task_kind": labels.task_kind,
    "kind_label": labels.kind,
    "role": lambda v: labels.phrase(labels.role(v)),  # "role: recruiter", as before
    "date": _date,
    "news": lambda v: labels.phone_news(*v),
    "name": lambda v: v or _("the candidate"),
    "address": lambda v: v or _("their address"),
    "reason": lambda v: v or _("no reason given"),
    "phone": lambda v: v or _("not on file either"),
    "body": lambda v: v or _("(no text)"),
    "language": lambda v: v or _("agency default"),
}


class Said(NamedTuple):
    """A code and its arguments, ready to be stored (`columns`) or shown (`say`)."""

    code: str
    args: dict[str, Any]


def words(code: str, **args: Any) -> Said:
    if code not in WORDS:
        raise KeyError(f"no stored words {code!r}: add them to app/stored_words.py")
    return Said(code, args)


def _arg(name: str, value: Any) -> Any:
    if name in ARGS:
        return ARGS[name](value)
    return "" if value is None else value


def _render(code: str | None, args: Mapping[str, Any] | None, english: str | None) -> str:
    msgid = WORDS.get(code) if code else None
    if msgid is None:
        return english or ""
    values = {k: _arg(k, v) for k, v in (args or {}).items()}
    try:
        return _(msgid, **values) if values else _(msgid)
    except (KeyError, TypeError, ValueError):  # a translation naming another placeholder
        return english if english is not None else msgid % values


def say(code: str | None, args: Mapping[str, Any] | None, english: str | None = None) -> str:
    """The words in the current locale; the stored English when there is no code (rows
    written before the codes, or text that was never ours, such as a provider's error)."""
    return _render(code, args, english)


def in_english(said: Said) -> str:
    """The English column's text, whatever locale the writer's request is in (a candidate's
    status page in German opens a task) and whatever catalog is loaded."""
    with english():
        if not has_app_context():
            return _render(said.code, said.args, None)
        with force_locale(ENGLISH):  # dates in English too
            return _render(said.code, said.args, None)


def columns(field: str, value: Said | str | None, limit: int | None = None) -> dict[str, Any]:
    """`field`, `field_code` and `field_args` for an insert or an update: a Said gives all
    three, plain text (someone's own words, a provider's message, None) clears the code."""
    if isinstance(value, Said):
        text = in_english(value)
        code, args = value.code, (value.args or None)
    else:
        text, code, args = value, None, None
    if text is not None and limit is not None:
        text = text[:limit]
    return {field: text, f"{field}_code": code, f"{field}_args": args}


def put(row: Any, field: str, value: Said | str | None, limit: int | None = None) -> None:
    """Set `field` and its code on an ORM object."""
    for name, v in columns(field, value, limit).items():
        setattr(row, name, v)


def stored(row: Any, field: str) -> Said | str | None:
    """What `field` of `row` holds, to copy into another row: its code, or its text."""
    code = getattr(row, f"{field}_code", None)
    if code in WORDS:
        return Said(code, getattr(row, f"{field}_args", None) or {})
    return getattr(row, field, None)


def said(row: Any, field: str) -> str:
    """Jinja filter: `{{ task | said("title") }}` on a model or a query row that carries
    `field`, `field_code` and `field_args`."""
    return say(
        getattr(row, f"{field}_code", None),
        getattr(row, f"{field}_args", None),
        getattr(row, field, None),
    )


def install(jinja_env) -> None:
    jinja_env.filters["said"] = said
    jinja_env.globals["say"] = say
