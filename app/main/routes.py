"""The dashboard, the health check, and template helpers every page uses."""

from __future__ import annotations

import sqlalchemy as sa
from flask import current_app, render_template
from flask_login import current_user, login_required
from flask_wtf.csrf import CSRFError

from app.access import sees_everything
from app.extensions import db
from app.main import bp, queries
from app.models import TERMINAL_STAGES, NState, Stage

STAGE_LABELS = {
    Stage.SOURCED: "Sourced",
    Stage.SUBMITTED: "Submitted",
    Stage.CLIENT_REVIEW: "Client review",
    Stage.INTERVIEW: "Interview",
    Stage.OFFER: "Offer",
    Stage.HIRED: "Hired",
    Stage.REJECTED: "Rejected",
    Stage.WITHDRAWN: "Withdrawn",
    Stage.POSITION_CLOSED: "Position closed",
}

STATE_LABELS = {
    NState.PENDING: "Pending",
    NState.QUEUED: "Queued",
    NState.SENDING: "Sending",
    NState.SENT: "Sent",
    NState.DELIVERED: "Delivered",
    NState.BOUNCED: "Bounced",
    NState.DROPPED: "Dropped",
    NState.FAILED: "Failed",
    NState.SUPERSEDED: "Superseded",
    NState.DISCHARGED: "Discharged",
}


@bp.app_context_processor
def _layout_context() -> dict:
    return {
        "mailbox_enabled": "devmail" in current_app.blueprints,
        "stage_labels": STAGE_LABELS,
        "terminal_stages": TERMINAL_STAGES,
    }


@bp.app_template_test("csrf_error")
def _is_csrf_error(error) -> bool:
    return isinstance(error, CSRFError)


@bp.app_template_filter("label")
def _label(value: str) -> str:
    return STAGE_LABELS.get(value) or STATE_LABELS.get(value) or value.replace("_", " ").title()


@bp.route("/")
@login_required
def dashboard():
    return render_template(
        "main/dashboard.html",
        positions=queries.positions_overview(current_user),
        candidates=queries.recent_candidates(current_user),
        outbox=queries.outbox_summary(current_user),
        alerts=queries.open_alerts(),
        sees_everything=sees_everything(current_user),
        stages=list(Stage),
        states=list(NState),
    )


@bp.route("/healthz")
def healthz():
    try:
        db.session.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError:
        current_app.logger.exception("health check: database unreachable")
        return {"status": "error", "database": "unreachable"}, 503
    return {"status": "ok"}
