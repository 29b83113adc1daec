"""Editing message wording: what exists, saving and resetting overrides, sample previews."""

from __future__ import annotations

import re
from dataclasses import dataclass

import css_inline
import sqlalchemy as sa
from flask import current_app, render_template

from app import audit, clock, labels
from app.extensions import db
from app.models import Client, MessageTemplate, User
from app.notifications import custom_templates as ct
from app.notifications import links
from app.notifications.kinds import KINDS
from app.notifications.render import SUBJECTS, fmt_date

PURPOSES = {
    "submitted": "We sent the candidate's profile to the client.",
    "client_review": "The client is reviewing the profile.",
    "interview_scheduled": "An interview is arranged: when, with whom, what comes after.",
    "after_interview": "The interview happened; we are waiting for the client.",
    "offer": "The client made an offer.",
    "position_on_hold": "The client paused the role.",
    "position_reopened": "The role is open again after a hold.",
    "still_deciding": "A promised decision date passed with no decision (optional update).",
    "update_reply": "The candidate asked for an update from their status page.",
    "reply_answer": "The candidate replied to one of our emails; the recruiter answers.",
    "status_link": "The candidate asked for a fresh link to their status page.",
    "hired": "The candidate was hired.",
    "withdrawal_ack": "The candidate withdrew; we confirm it.",
    "not_selected_agency": "We decided not to put the candidate forward.",
    "not_selected_client": "The client declined the candidate.",
    "position_cancelled": "The client cancelled the role.",
    "position_filled": "The role was filled by someone else.",
}
_SUBJECT_FIELDS = {"position": "position_title", "client": "client_name", "agency": "agency_name"}
_INLINER = css_inline.CSSInliner(
    keep_style_tags=False, keep_at_rules=True, load_remote_stylesheets=False
)


@dataclass(frozen=True)
class KindRow:
    kind: str
    label: str
    purpose: str
    category: str
    agency_override: MessageTemplate | None
    client_overrides: list[MessageTemplate]


def overview() -> list[KindRow]:
    rows = db.session.scalars(sa.select(MessageTemplate).order_by(MessageTemplate.id)).all()
    out = []
    for kind in KINDS:
        mine = [r for r in rows if r.kind == kind]
        out.append(
            KindRow(
                kind=kind,
                label=labels.kind(kind),
                purpose=PURPOSES.get(kind, ""),
                category=KINDS[kind].category,
                agency_override=next((r for r in mine if r.client_id is None), None),
                client_overrides=[r for r in mine if r.client_id is not None],
            )
        )
    return out


def find(kind: str, client_id: int | None) -> MessageTemplate | None:
    return db.session.scalar(
        sa.select(MessageTemplate).where(
            MessageTemplate.kind == kind,
            MessageTemplate.client_id.is_(None)
            if client_id is None
            else MessageTemplate.client_id == client_id,
        )
    )


def builtin_draft(kind: str) -> ct.Draft:
    """The wording in templates/email/kinds/<kind>.txt, as an editable starting point."""
    env = current_app.jinja_env
    source, _, _ = env.loader.get_source(env, f"email/kinds/{kind}.txt")
    subject = re.sub(
        r"\{(\w+)\}", lambda m: f"{{{{ {_SUBJECT_FIELDS[m.group(1)]} }}}}", SUBJECTS[kind]
    )
    return ct.Draft(subject=subject, text=ct.split_blocks(source), html=dict.fromkeys(ct.PARTS, ""))


def starting_draft(kind: str, client_id: int | None) -> tuple[ct.Draft, str]:
    """What the editor opens with, and where it comes from: this override, else the
    wording that applies today (the agency's for a client, else the built-in)."""
    row = find(kind, client_id)
    if row:
        return ct.Draft.from_row(row), "override"
    if client_id is not None and (agency := find(kind, None)):
        return ct.Draft.from_row(agency), "agency"
    return builtin_draft(kind), "builtin"


def save(kind: str, client: Client | None, draft: ct.Draft, user: User) -> MessageTemplate:
    """Sanitise and validate (raises TemplateInvalid, nothing written), then create or
    replace."""
    draft = ct.prepare(draft)
    try:
        return _write(kind, client.id if client else None, draft, user)
    except sa.exc.IntegrityError:
        # Someone created the same override a moment ago (unique per kind and client):
        # ours replaces theirs, as if we had saved a moment later.
        db.session.rollback()
        return _write(kind, client.id if client else None, draft, user)


def _write(kind: str, client_id: int | None, draft: ct.Draft, user: User) -> MessageTemplate:
    row = find(kind, client_id)
    if row is None:
        row = MessageTemplate(kind=kind, client_id=client_id)
        db.session.add(row)
    row.subject = draft.subject.strip()
    row.body_text = draft.body_text
    row.body_html = draft.body_html
    row.updated_by_id = user.id
    row.updated_at = clock.now()
    audit.record(user, "template.saved", _audit_target(kind, client_id), f"subject: {row.subject}")
    db.session.commit()
    ct.invalidate()
    return row


def reset(kind: str, client: Client | None, user: User | None = None) -> bool:
    row = find(kind, client.id if client else None)
    if row is None:
        return False
    audit.record(user, "template.reset", _audit_target(kind, row.client_id))
    db.session.delete(row)
    db.session.commit()
    ct.invalidate()
    return True


def _audit_target(kind: str, client_id: int | None) -> str:
    where = f"client {client_id}" if client_id is not None else "agency-wide"
    return f"template {kind} ({where})"


def sample_values(client: Client | None) -> dict[str, str]:
    values = {**ct.SAMPLE_VALUES, "agency_name": current_app.config["AGENCY_NAME"]}
    if client is not None:
        values["client_name"] = client.name
    return values


def preview(kind: str, draft: ct.Draft, client: Client | None) -> dict:
    """The whole email a sample candidate would get with this draft (raises TemplateInvalid)."""
    draft = ct.prepare(draft)
    values = sample_values(client)
    parts = ct.render_draft(draft, values)
    envelope = _sample_envelope(kind, values)
    item = {**values, **envelope, "kind": kind, "application_id": 1, "parts": parts}
    args = {"items": [item], "subject": parts["subject"], **envelope}
    html = _INLINER.inline(render_template("email/message.html", **args))
    text = render_template("email/message.txt", **args)
    return {"subject": parts["subject"], "text": text, "html": html}


def _sample_envelope(kind: str, values: dict) -> dict:
    cfg = current_app.config
    agency = cfg["AGENCY_NAME"]
    signature = (cfg.get("AGENCY_SIGNATURE") or "").replace("\\n", "\n")
    base = cfg.get("PUBLIC_BASE_URL") or "https://closeloop.example"
    status_url = base.rstrip("/") + "/s/sample"
    optional = KINDS[kind].category == "optional"
    return {
        "first_name": values["first_name"],
        "agency_name": agency,
        "logo_text": cfg.get("AGENCY_LOGO_TEXT") or agency,
        "signature_lines": [s.strip() for s in signature.split("\n") if s.strip()] or [agency],
        "digest": False,
        "status_url": status_url,
        "preferences_url": status_url + "#preferences",
        "link_expires": fmt_date(clock.now() + links.status_max_age(), None),
        "unsubscribe_url": status_url + "/unsubscribe" if optional else None,
        "optional_updates": True,
    }
