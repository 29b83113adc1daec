"""Read the messages the mailbox backend captured (development and demos only)."""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, render_template, request

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
    return render_template("devmail/index.html", page=page, q=q)


@bp.route("/<int:message_id>")
def detail(message_id: int):
    message = db.session.get(MailboxMessage, message_id)
    if message is None:
        abort(404)
    return render_template("devmail/detail.html", message=message)
