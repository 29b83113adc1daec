"""The dashboard, the health check, and template helpers every page uses."""

from __future__ import annotations

import sqlalchemy as sa
from flask import current_app, render_template
from flask_login import current_user, login_required
from flask_wtf.csrf import CSRFError

from app import access, dates, labels
from app.candidates import worklist
from app.extensions import db
from app.main import bp, queries
from app.models import TERMINAL_STAGES, NState, Stage


@bp.app_context_processor
def _layout_context() -> dict:
    return {
        "mailbox_enabled": "devmail" in current_app.blueprints,
        "terminal_stages": TERMINAL_STAGES,
    }


@bp.app_template_global("sees_everything")
def _sees_everything() -> bool:
    """The access rule, for pages whose words depend on it ("Every position in the agency")."""
    return current_user.is_authenticated and access.sees_everything(current_user)


@bp.app_template_test("csrf_error")
def _is_csrf_error(error) -> bool:
    return isinstance(error, CSRFError)


# Words, not codes: every label table as a filter (`{{ n.kind | kind_label }}`).
for _name, _words in labels.FILTERS.items():
    bp.add_app_template_filter(_words, _name)
bp.add_app_template_global(labels, "labels")  # the tables themselves, e.g. for choices
# Dates in the page's language: `{{ e.created_at | moment('minute', show_zone=True) }}`.
bp.add_app_template_filter(dates.moment, "moment")


@bp.route("/")
@login_required
def dashboard():
    return render_template(
        "main/dashboard.html",
        positions=queries.positions_overview(current_user),
        candidates=queries.recent_candidates(current_user),
        outbox=queries.outbox_summary(current_user),
        todo=worklist.counts(current_user),
        alerts=queries.open_alerts(),
        stages=list(Stage),
        states=list(NState),
    )


@bp.route("/favicon.ico")
def favicon():
    """Browsers ask for it on every page whatever the <link> says: our own mark, not a 404."""
    return current_app.send_static_file("favicon.ico")


@bp.route("/healthz")
def healthz():
    try:
        db.session.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError:
        current_app.logger.exception("health check: database unreachable")
        return {"status": "error", "database": "unreachable"}, 503
    return {"status": "ok"}
