"""Turning owed notifications into the email the candidate reads: one message, or several
of theirs as one digest. Every message answers what happened, what happens next, when they
will hear from us again and whom to contact, and carries their signed status link.

Kind wording lives in templates/email/kinds/<kind>.txt (three blocks, English) and
templates/email/kinds/<lang>/<kind>.txt for the other shipped languages; the layout in
templates/email/message.html (CSS inlined with css-inline) and message.txt, its words and
the subjects in the gettext catalogs (app/translations). An email is in the candidate's
language (app/languages.py), its dates in their locale and time zone.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import datetime

import css_inline
from babel import Locale
from flask import current_app, render_template
from flask_babel import force_locale
from flask_babel import gettext as _
from jinja2 import TemplateNotFound

from app import clock, labels, languages
from app.models import Notification
from app.notifications import custom_templates, links
from app.notifications.backends import SharedBody
from app.notifications.expectations import next_expected
from app.notifications.kinds import KINDS
from app.notifications.timing import candidate_zone
from app.template_gettext import lazy_gettext as _l

SUBJECTS = {
    "submitted": _l("{position} at {client}: your profile is with the client"),
    "client_review": _l("{position} at {client}: the client is reviewing your profile"),
    "interview_scheduled": _l("{position} at {client}: your interview and what happens next"),
    "after_interview": _l("{position} at {client}: after your interview, what happens next"),
    "offer": _l("{position} at {client}: you have an offer"),
    "position_on_hold": _l("{position} at {client}: the role is on hold"),
    "position_reopened": _l("{position} at {client}: the role is open again"),
    "still_deciding": _l("{position} at {client}: no decision yet, here is where things stand"),
    "update_reply": _l("{position} at {client}: your update"),
    "reply_answer": _l("{position} at {client}: our answer to your email"),
    "status_link": _l("Your link to follow your applications with {agency}"),
    "hired": _l("{position} at {client}: congratulations"),
    "withdrawal_ack": _l("{position} at {client}: your application is withdrawn"),
    "not_selected_agency": _l("{position} at {client}: an update on your application"),
    "not_selected_client": _l("{position} at {client}: the client's decision"),
    "position_cancelled": _l("{position} at {client}: the role has been cancelled"),
    "position_filled": _l("{position} at {client}: the role has been filled"),
}

_INLINER = css_inline.CSSInliner(
    keep_style_tags=False, keep_at_rules=True, load_remote_stylesheets=False
)


class RenderError(Exception):
    """The message could not be produced (missing data, broken template)."""


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str
    headers: dict[str, str] = field(default_factory=dict)
    # From a stencil: the layout shared with other emails of the batch and this email's
    # values for its tags (backends.OutgoingEmail.shared / fills).
    shared: SharedBody | None = None
    fills: dict[str, str] = field(default_factory=dict)


def fmt_date(
    value: datetime | str | None,
    tz_name: str | None,
    with_time: bool = False,
    lang: str | None = None,
):
    """`value` in the candidate's zone and language (`lang`, or the one being rendered)."""
    if not value:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    local = value.astimezone(candidate_zone(tz_name))
    return languages.format_moment(local, lang or languages.current(), with_time)


def build_context(n: Notification, lang: str | None = None) -> dict:
    """What one message's wording may use about its application. `lang`: the language the
    caller forced (render_email), else the one being rendered."""
    candidate, application = n.candidate, n.application
    position = application.position
    owner = position.owner
    tz = candidate.timezone
    extra = n.context or {}
    promised = extra.get("promised_response_at") or application.promised_response_at
    expected = next_expected(application)
    if lang is None:
        lang = languages.current()
        stage_label = labels.stage_for_candidates(application.stage)
    else:
        stage_label = _stage_words(application.stage, lang)
    return {
        "kind": n.kind,
        "language": lang,
        "candidate_name": candidate.name,
        "first_name": first_name(candidate.name),
        "position_title": position.title,
        "client_name": position.client.name,
        "recruiter_name": owner.name,
        "recruiter_email": owner.email,
        "recruiter_phone": owner.phone,
        "recruiter_phone_href": _tel(owner.phone),
        "agency_name": current_app.config["AGENCY_NAME"],
        "interview_at": fmt_date(
            extra.get("interview_at") or application.interview_at, tz, True, lang
        ),
        "interviewers": extra.get("interviewers") or application.interviewers,
        "client_contact": extra.get("client_contact") or application.client_contact,
        "next_step": extra.get("next_step") or application.next_step,
        "promised_date": fmt_date(promised, tz, lang=lang),
        "new_expected_date": fmt_date(extra.get("new_expected_at"), tz, lang=lang),
        "expected_date": fmt_date(expected.at, tz, lang=lang) if expected else None,
        "expected_what": expected.what if expected else None,
        "application_id": n.application_id,
        "stage_label": stage_label,
        "personal_note": n.personal_note,
        "reason": n.reason,
    }


@functools.lru_cache(maxsize=64)
def _locale(lang: str) -> Locale:
    """Parsed once: force_locale takes a Locale as it is (a string is parsed every time)."""
    return Locale.parse(lang, sep="-")


@functools.lru_cache(maxsize=256)
def _stage_words(stage: str | None, lang: str) -> str:
    """The stage in the candidate's words, once per stage and language: called only inside
    force_locale(lang) (render_email), so the catalog in force is `lang`'s."""
    return labels.stage_for_candidates(stage)


def first_name(name: str | None) -> str:
    parts = (name or "").split()
    return parts[0] if parts else "there"


def render(n: Notification) -> Rendered:
    return render_email([n])


def render_email(rows: list[Notification], stencils=None) -> Rendered:
    """One email for one candidate: a single message, or a digest of several. A send job
    passes its `stencils.Stencils`, so a fan-out lays out each shape of email once."""
    try:
        candidate = rows[0].candidate
        if any(n.candidate_id != candidate.id for n in rows):
            raise ValueError("a message is never about more than one candidate")
        lang = languages.for_candidate(candidate.language)  # a shipped language: current()
        with force_locale(_locale(lang)):
            envelope = _envelope(candidate, rows, lang)
            contexts = [{**build_context(n, lang), **envelope} for n in rows]
            shared, fills = None, {}
            if stencils is None:
                subject, text, html = compose(rows, envelope, contexts)
            else:
                subject, text, html, shared, fills = stencils.compose(rows, envelope, contexts)
    except Exception as exc:  # noqa: BLE001 - any failure here is reported on the row
        kinds = ", ".join(labels.kind_phrase(n.kind) for n in rows)
        raise RenderError(f"could not render the {kinds}: {exc}") from exc
    headers = {}
    if envelope["unsubscribe_url"]:
        # RFC 8058 one-click: the mail client POSTs "List-Unsubscribe=One-Click" to the URL.
        headers = {
            "List-Unsubscribe": f"<{envelope['unsubscribe_url']}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        }
    subject = " ".join(subject.split())[:300]
    return Rendered(subject, text, html, headers=headers, shared=shared, fills=fills)


def compose(rows: list[Notification], envelope: dict, contexts: list[dict]) -> tuple[str, str, str]:
    """Subject (not yet tidied), text and HTML (CSS inlined) of one email."""
    items = []
    for n, ctx in zip(rows, contexts, strict=True):
        client_id = n.application.position.client_id
        items.append({**ctx, "parts": _render_parts(n.kind, ctx, client_id)})
    subject = _subject(rows, items)
    text = render_template("email/message.txt", items=items, subject=subject, **envelope)
    html = render_template("email/message.html", items=items, subject=subject, **envelope)
    return subject, text, _INLINER.inline(html)


def _envelope(candidate, rows: list[Notification], lang: str | None = None) -> dict:
    cfg = current_app.config
    lang = lang or languages.current()
    agency = cfg["AGENCY_NAME"]
    signature = (cfg.get("AGENCY_SIGNATURE") or "").replace("\\n", "\n")
    optional = any(KINDS[n.kind].category == "optional" for n in rows)
    status_url = links.status_url(candidate)
    return {
        "first_name": first_name(candidate.name),
        "html_lang": lang,
        "agency_name": agency,
        "logo_text": cfg.get("AGENCY_LOGO_TEXT") or agency,
        "signature_lines": [line.strip() for line in signature.split("\n") if line.strip()]
        or [agency],
        "digest": len(rows) > 1,
        "n_apps": len({n.application_id for n in rows}),
        "status_url": status_url,
        "preferences_url": status_url + "#preferences",
        "link_expires": fmt_date(
            clock.now() + links.status_max_age(), candidate.timezone, lang=lang
        ),
        "unsubscribe_url": links.unsubscribe_url(candidate) if optional else None,
        "optional_updates": candidate.optional_updates,
    }


def _subject(rows: list[Notification], items: list[dict]) -> str:
    first = items[0]
    if len(rows) == 1 and first["parts"].get("subject"):
        return first["parts"]["subject"]  # an edited template's own subject
    if len(rows) == 1:
        return str(SUBJECTS[rows[0].kind]).format(
            position=first["position_title"],
            client=first["client_name"],
            agency=first["agency_name"],
        )
    about = list(
        dict.fromkeys(
            _("%(position)s at %(client)s", position=i["position_title"], client=i["client_name"])
            for i in items
        )
    )
    if len(about) == 1:
        return _("%(about)s: %(n)d updates on your application", about=about[0], n=len(items))
    if len(about) > 2:
        listed = "; ".join(about[:2])
        return _(
            "Updates on your applications: %(listed)s and %(n)d more",
            listed=listed,
            n=len(about) - 2,
        )
    return _("Updates on your applications: %(listed)s", listed="; ".join(about))


def _render_parts(kind: str, ctx: dict, client_id: int | None = None) -> dict:
    # Wording edited by the agency (client's, else agency-wide) in the candidate's language
    # wins over the built-in file in that language.
    language = ctx.get("language") or languages.FALLBACK
    custom = custom_templates.render_override(kind, client_id, ctx, language)
    if custom is not None:
        return custom
    env = current_app.jinja_env
    template = env.get_template(builtin_file(kind, language))
    context = template.new_context(ctx)
    return {
        name: "".join(template.blocks[name](context)).strip()
        for name in ("happened", "next", "when")
    }


def builtin_file(kind: str, language: str) -> str:
    """The shipped wording of a kind in a language; a kind not yet written in it (a new
    kind) falls back to the agency's language, then English: never a blank or a key."""
    loader = current_app.jinja_env.loader
    for lang in dict.fromkeys((language, languages.agency_default(), languages.FALLBACK)):
        name = f"email/kinds/{kind}.txt" if lang == "en" else f"email/kinds/{lang}/{kind}.txt"
        try:
            loader.get_source(current_app.jinja_env, name)
        except TemplateNotFound:
            continue
        return name
    raise TemplateNotFound(f"email/kinds/{kind}.txt")


def _tel(phone: str | None) -> str | None:
    if not phone:
        return None
    digits = "".join(ch for ch in phone if ch.isdigit() or ch == "+")
    return f"tel:{digits}" if digits.strip("+") else None
