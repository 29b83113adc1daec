"""Read the messages the mailbox backend captured (development and demos only)."""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, current_app, render_template, request
from flask_babel import ngettext

from app.auth.decorators import role_required
from app.devmail import bp
from app.extensions import db
from app.models import MailboxMessage, Role

PER_PAGE = 25


@bp.before_request
@role_required(Role.ADMIN)
def _admins_only():
    # Every candidate's emails are in here, with the links that open their status pages.
    return None


@bp.route("/")
def index():
    q = request.args.get("q", "").strip()[:320]
    query = sa.select(MailboxMessage).order_by(
        MailboxMessage.created_at.desc(), MailboxMessage.id.desc()
    )
    if q:
        query = query.where(
            sa.func.lower(MailboxMessage.to_email).contains(q.lower(), autoescape=True)
        )
    number = max(1, request.args.get("page", 1, type=int))  # bounded: see app.input_guard
    page = db.paginate(query, page=number, per_page=PER_PAGE, max_per_page=100, error_out=False)
    return render_template("devmail/index.html", page=page, q=q, timing=timing())


def timing() -> dict:
    """When a new message reaches this mailbox, in words: the windows and hours in force."""
    cfg = current_app.config
    quiet = cfg["QUIET_HOURS_ENFORCED"]
    return {
        "undo": _duration(cfg["UNDO_WINDOW_SECONDS"]),
        "digest": _duration(cfg["CANDIDATE_DIGEST_WINDOW_SECONDS"]),
        "quiet": f"{cfg['QUIET_HOURS_START']:02d}:00–{cfg['QUIET_HOURS_END']:02d}:00"
        if quiet
        else None,
        "fast": not quiet and cfg["UNDO_WINDOW_SECONDS"] <= 60,
    }


def _duration(seconds: int) -> str:
    if seconds < 120:
        return ngettext("%(num)d second", "%(num)d seconds", seconds)
    return ngettext("%(num)d minute", "%(num)d minutes", seconds // 60)


@bp.route("/<int:message_id>")
def detail(message_id: int):
    message = db.session.get(MailboxMessage, message_id)
    if message is None:
        abort(404)
    return render_template("devmail/detail.html", message=message)
