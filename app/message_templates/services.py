"""Editing message wording: what exists, saving and resetting overrides, sample previews."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

import css_inline
import sqlalchemy as sa
from flask import current_app, render_template
from flask_babel import force_locale
from jinja2 import TemplateNotFound

from app import audit, clock, labels, languages
from app.extensions import db
from app.models import Client, MessageTemplate, Stage, User
from app.notifications import custom_templates as ct
from app.notifications import links
from app.notifications.kinds import KINDS
from app.notifications.render import SUBJECTS, builtin_file, fmt_date
from app.stored_words import words

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
    agency_override: MessageTemplate | None  # in the agency's language
    client_overrides: list[MessageTemplate]
    # Languages with the agency's own wording; languages with no wording of any kind (a
    # new kind not yet translated: its emails go out in the agency's language).
    edited_languages: tuple[str, ...] = ()
    missing_languages: tuple[str, ...] = ()


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
                agency_override=next(
                    (
                        r
                        for r in mine
                        if r.client_id is None and r.language == languages.agency_default()
                    ),
                    None,
                ),
                client_overrides=list(
                    {r.client_id: r for r in mine if r.client_id is not None}.values()
                ),
                edited_languages=tuple(
                    lang
                    for lang in languages.SHIPPED
                    if any(r.client_id is None and r.language == lang for r in mine)
                ),
                missing_languages=missing_languages(kind),
            )
        )
    return out


def missing_languages(kind: str) -> tuple[str, ...]:
    """Shipped languages without built-in wording for this kind."""
    return tuple(lang for lang in languages.SHIPPED if not has_builtin(kind, lang))


def has_builtin(kind: str, language: str) -> bool:
    env = current_app.jinja_env
    name = f"email/kinds/{kind}.txt" if language == "en" else f"email/kinds/{language}/{kind}.txt"
    try:
        env.loader.get_source(env, name)
    except TemplateNotFound:
        return False
    return True


def find(kind: str, client_id: int | None, language: str = "en") -> MessageTemplate | None:
    return db.session.scalar(
        sa.select(MessageTemplate).where(
            MessageTemplate.kind == kind,
            MessageTemplate.language == language,
            MessageTemplate.client_id.is_(None)
            if client_id is None
            else MessageTemplate.client_id == client_id,
        )
    )


def builtin_draft(kind: str, language: str = "en") -> ct.Draft:
    """The shipped wording in that language (templates/email/kinds/), as an editable starting
    point; a kind not yet written in it starts from the agency's language."""
    env = current_app.jinja_env
    source, _, _ = env.loader.get_source(env, builtin_file(kind, language))
    with force_locale(language):
        words = str(SUBJECTS[kind])
    subject = re.sub(r"\{(\w+)\}", lambda m: f"{{{{ {_SUBJECT_FIELDS[m.group(1)]} }}}}", words)
    return ct.Draft(subject=subject, text=ct.split_blocks(source), html=dict.fromkeys(ct.PARTS, ""))


def starting_draft(kind: str, client_id: int | None, language: str = "en") -> tuple[ct.Draft, str]:
    """What the editor opens with, and where it comes from: this override, else the
    wording that applies today in that language (the agency's for a client, else the
    built-in)."""
    row = find(kind, client_id, language)
    if row:
        return ct.Draft.from_row(row), "override"
    if client_id is not None and (agency := find(kind, None, language)):
        return ct.Draft.from_row(agency), "agency"
    return builtin_draft(kind, language), "builtin"


def save(
    kind: str, client: Client | None, draft: ct.Draft, user: User, language: str = "en"
) -> MessageTemplate:
    """Sanitise and validate (raises TemplateInvalid, nothing written), then create or
    replace."""
    draft = ct.prepare(draft)
    try:
        return _write(kind, client.id if client else None, draft, user, language)
    except sa.exc.IntegrityError:
        # Someone created the same override a moment ago (unique per kind, client and
        # language): ours replaces theirs, as if we had saved a moment later.
        db.session.rollback()
        return _write(kind, client.id if client else None, draft, user, language)


def _write(
    kind: str, client_id: int | None, draft: ct.Draft, user: User, language: str = "en"
) -> MessageTemplate:
    row = find(kind, client_id, language)
    if row is None:
        row = MessageTemplate(kind=kind, client_id=client_id, language=language)
        db.session.add(row)
    row.subject = draft.subject.strip()
    row.body_text = draft.body_text
    row.body_html = draft.body_html
    row.updated_by_id = user.id
    row.updated_at = clock.now()
    target = _audit_target(kind, client_id, language)
    audit.record(user, "template.saved", target, words("audit.subject", subject=row.subject))
    db.session.commit()
    ct.invalidate()
    return row


def reset(kind: str, client: Client | None, user: User | None = None, language: str = "en") -> bool:
    row = find(kind, client.id if client else None, language)
    if row is None:
        return False
    audit.record(user, "template.reset", _audit_target(kind, row.client_id, language))
    db.session.delete(row)
    db.session.commit()
    ct.invalidate()
    return True


def _audit_target(kind: str, client_id: int | None, language: str = "en") -> str:
    where = f"client {client_id}" if client_id is not None else "agency-wide"
    if language != "en":
        where += f", {languages.NAMES.get(language, language)}"
    return f"template {kind} ({where})"


# The sample candidate's dates, written in the previewed language as a real email writes
# them (the field list shows the English: ct.MERGE_FIELDS' examples).
SAMPLE_ZONE = "Europe/London"
SAMPLE_MOMENTS: dict[str, tuple[datetime, bool]] = {
    "interview_at": (datetime(2026, 12, 1, 14, 0, tzinfo=UTC), True),
    "promised_date": (datetime(2026, 12, 4, 12, 0, tzinfo=UTC), False),
    "new_expected_date": (datetime(2026, 12, 14, 12, 0, tzinfo=UTC), False),
    "expected_date": (datetime(2026, 12, 4, 12, 0, tzinfo=UTC), False),
    "link_expires": (datetime(2026, 12, 25, 12, 0, tzinfo=UTC), False),
}


def sample_values(client: Client | None) -> dict[str, str]:
    """The sample candidate, in the language being rendered (force_locale): dates in its
    words, where the application stands in the candidate's words."""
    values = {name: str(v) for name, v in ct.SAMPLE_VALUES.items()}
    values["agency_name"] = current_app.config["AGENCY_NAME"]
    for name, (moment, with_time) in SAMPLE_MOMENTS.items():
        values[name] = fmt_date(moment, SAMPLE_ZONE, with_time)
    values["stage_label"] = labels.stage_for_candidates(Stage.CLIENT_REVIEW)
    if client is not None:
        values["client_name"] = client.name
    return values


def field_examples(client: Client | None, language: str) -> dict[str, str]:
    """Each merge field's sample value as an email in `language` would hold it (the editor's
    field list): its dates in that language's words."""
    with force_locale(language):
        return sample_values(client)


def preview(kind: str, draft: ct.Draft, client: Client | None, language: str = "en") -> dict:
    """The whole email a sample candidate would get with this draft (raises TemplateInvalid),
    with the layout in that language."""
    with force_locale(language):
        return _preview(kind, draft, client)


def _preview(kind: str, draft: ct.Draft, client: Client | None) -> dict:
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
        "html_lang": languages.current(),
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
