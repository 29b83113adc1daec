"""The audit log page: admins read it, filtered by who and what; nobody edits it."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, render_template, request

from app.audit.services import ACTIONS
from app.auth.decorators import role_required
from app.extensions import db
from app.models import AuditEntry, Role, User

bp = Blueprint("audit", __name__, url_prefix="/admin/audit")
PER_PAGE = 50
COMMAND_LINE = "cli"


@bp.before_request
@role_required(Role.ADMIN)
def _admins_only():
    return None


@bp.get("/")
def index():
    actor = request.args.get("actor", "")
    action = request.args.get("action", "")
    query = sa.select(AuditEntry).order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc())
    if actor == COMMAND_LINE:
        query = query.where(AuditEntry.actor_id.is_(None))
    elif actor.isdigit() and len(actor) < 10:
        query = query.where(AuditEntry.actor_id == int(actor))
    else:
        actor = ""
    if action in ACTIONS:
        query = query.where(AuditEntry.action == action)
    else:
        action = ""
    # Our own bounded parse: Flask-SQLAlchemy's int() of `page` takes any size of number.
    number = max(1, request.args.get("page", 1, type=int))
    page = db.paginate(
        query, page=number, per_page=PER_PAGE, max_per_page=PER_PAGE, error_out=False
    )
    staff = db.session.scalars(sa.select(User).order_by(User.name)).all()
    return render_template(
        "audit/index.html",
        page=page,
        actions=ACTIONS,
        staff=staff,
        actor=actor,
        action=action,
        command_line=COMMAND_LINE,
    )
