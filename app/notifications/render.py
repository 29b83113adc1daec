"""Turning an owed notification into the words the candidate reads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import current_app, render_template

from app.models import Notification
from app.notifications.timing import candidate_zone

SUBJECTS = {
    "submitted": "{position} at {client}: your profile is with the client",
    "client_review": "{position} at {client}: the client is reviewing your profile",
    "interview_scheduled": "{position} at {client}: your interview and what happens next",
    "offer": "{position} at {client}: you have an offer",
    "position_on_hold": "{position} at {client}: the role is on hold",
    "still_deciding": "{position} at {client}: no decision yet, here is where things stand",
    "update_reply": "{position} at {client}: your update",
    "hired": "{position} at {client}: congratulations",
    "withdrawal_ack": "{position} at {client}: your application is withdrawn",
    "not_selected_agency": "{position} at {client}: an update on your application",
    "not_selected_client": "{position} at {client}: the client's decision",
    "position_cancelled": "{position} at {client}: the role has been cancelled",
    "position_filled": "{position} at {client}: the role has been filled",
}

STAGE_LABELS = {
    "sourced": "being prepared by us",
    "submitted": "sent to the client",
    "client_review": "being reviewed by the client",
    "interview": "at interview stage",
    "offer": "at offer stage",
    "hired": "hired",
    "rejected": "closed",
    "withdrawn": "withdrawn",
    "position_closed": "closed because the role closed",
}


class RenderError(Exception):
    """The message could not be produced (missing data, broken template)."""


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def _fmt_date(value: datetime | str | None, tz_name: str | None, with_time: bool = False):
    if not value:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    local = value.astimezone(candidate_zone(tz_name))
    text = f"{local:%A} {local.day} {local:%B %Y}"
    if with_time:
        text += f" at {local:%H:%M} ({local.tzname()})"
    return text


def build_context(n: Notification) -> dict:
    candidate, application = n.candidate, n.application
    position = application.position
    owner = position.owner
    tz = candidate.timezone
    extra = n.context or {}
    promised = extra.get("promised_response_at") or application.promised_response_at
    return {
        "candidate_name": candidate.name,
        "first_name": (candidate.name or "there").split()[0],
        "position_title": position.title,
        "client_name": position.client.name,
        "recruiter_name": owner.name,
        "recruiter_email": owner.email,
        "recruiter_phone": owner.phone,
        "agency_name": current_app.config["AGENCY_NAME"],
        "interview_at": _fmt_date(extra.get("interview_at") or application.interview_at, tz, True),
        "interviewers": extra.get("interviewers") or application.interviewers,
        "client_contact": extra.get("client_contact") or application.client_contact,
        "next_step": extra.get("next_step") or application.next_step,
        "promised_date": _fmt_date(promised, tz),
        "new_expected_date": _fmt_date(extra.get("new_expected_at"), tz),
        "stage_label": STAGE_LABELS.get(application.stage, application.stage),
        "personal_note": n.personal_note,
        "reason": n.reason,
    }


def render(n: Notification) -> Rendered:
    try:
        ctx = build_context(n)
        subject = SUBJECTS[n.kind].format(position=ctx["position_title"], client=ctx["client_name"])
        parts = _render_parts(n.kind, ctx)
        text = render_template("email/message.txt", parts=parts, subject=subject, **ctx)
        html = render_template("email/message.html", parts=parts, subject=subject, **ctx)
    except Exception as exc:  # noqa: BLE001 - any failure here is reported on the row
        raise RenderError(f"could not render the {n.kind} message: {exc}") from exc
    return Rendered(subject=" ".join(subject.split())[:300], text=text, html=html)


def _render_parts(kind: str, ctx: dict) -> dict[str, str]:
    env = current_app.jinja_env
    template = env.get_template(f"email/kinds/{kind}.txt")
    context = template.new_context(ctx)
    return {
        name: "".join(template.blocks[name](context)).strip()
        for name in ("happened", "next", "when")
    }
