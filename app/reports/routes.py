"""Report pages. Each view checks the role, parses its input, calls a plain function and
renders; the rules live in overdue.py, queries.py, dashboards.py and digest.py."""

from __future__ import annotations

import functools
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import (
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from markupsafe import Markup

from app import access, audit, clock, dates, labels
from app.auth.decorators import role_required
from app.auth.routes import safe_next_url
from app.extensions import db
from app.models import (
    Application,
    Contact,
    Notification,
    Role,
    StaffMessage,
    Task,
)
from app.models.notifications import DISCHARGEABLE
from app.orm import parse_id
from app.pipeline import services
from app.replies import services as replies
from app.reports import bp, charts, dashboards, digest, overdue, promises, queries, snapshots
from app.reports.export import counts_csv, stream_csv
from app.reports.forms import DigestSettingsForm, ExemptForm, LogContactForm, RefreshForm

PER_PAGE = 50
TOP = 25  # recruiters and clients listed on the page; the counts CSV has all of them


@bp.app_template_filter("age")
def _age(delta: timedelta) -> str:
    seconds = max(0, int(delta.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    if days:
        return f"{days}d {hours}h"
    return f"{hours}h {rest // 60}m"


@bp.app_template_filter("hours")
def _hours(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.1f} h" if value < 48 else f"{value / 24:.1f} d"


@bp.app_template_filter("percent")
def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.0f}%"


def _arg_int(name: str, default: int, low: int, high: int) -> int:
    try:
        value = int(request.args.get(name, default))
    except (TypeError, ValueError):
        return default
    return min(high, max(low, value))


# -- the overdue report ---------------------------------------------------------------------


@bp.route("/")
@role_required(Role.MANAGER)
def index():
    return redirect(url_for("reports.overdue_report"))


@bp.route("/overdue")
@role_required(Role.MANAGER)
def overdue_report():
    f = queries.Filters.from_args(request.args)
    number = _arg_int("page", 1, 1, 100_000)
    rows, has_next = queries.page(f, number, PER_PAGE)
    counts = queries.counts(f, top=TOP)
    trend = queries.trend(30, f)
    trend_chart = charts.line_chart(
        _("Overdue items per day"),
        charts.day_labels([day for day, _ in trend]),
        [(labels.overdue_reason(r), [per[r.value] for _, per in trend]) for r in queries.REASONS],
        y_title=_("items"),
    )
    refreshed_at, stats = overdue.last_refresh()
    return render_template(
        "reports/overdue.html",
        f=f,
        rows=rows,
        page=number,
        has_next=has_next,
        counts=counts,
        totals={
            "recruiter": queries.count_of("owner_id", f),
            "client": queries.count_of("client_id", f),
        },
        top=TOP,
        trend=trend,
        trend_chart=trend_chart,
        choices=queries.filter_choices(),
        names=queries.label_for(f),
        refreshed_at=refreshed_at,
        refresh_stats=stats,
        refresh_form=RefreshForm(),
        reasons=queries.REASONS,
        now=clock.now(),
    )


@bp.route("/overdue.csv")
@role_required(Role.MANAGER)
def overdue_csv():
    f = queries.Filters.from_args(request.args)
    name = f"closeloop-overdue-{clock.now():%Y%m%d-%H%M}.csv"
    # Names and addresses of candidates leave the app: recorded before the stream starts.
    filters = request.query_string.decode("utf-8", "replace")
    audit.record_alone(current_user, "report.exported", "overdue report (CSV)", filters or None)
    return Response(
        stream_with_context(stream_csv(f)),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


@bp.route("/overdue/counts.csv")
@role_required(Role.MANAGER)
def overdue_counts_csv():
    f = queries.Filters.from_args(request.args)
    by = "client" if request.args.get("by") == "client" else "recruiter"
    counts = queries.counts(f)
    return Response(
        stream_with_context(
            counts_csv(counts.by_client if by == "client" else counts.by_owner, by)
        ),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="closeloop-overdue-per-{by}.csv"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


@bp.route("/overdue/refresh", methods=["POST"])
@role_required(Role.MANAGER)
def refresh_report():
    form = RefreshForm()
    if form.validate_on_submit():
        result = overdue.refresh()
        flash(_("Report refreshed: %(value)s overdue items.", value=result["items"]), "success")
    # Back to the same filters: only the report's own arguments are carried over (anything
    # else in the query string, such as `endpoint` or `_external`, is url_for's own).
    f = queries.Filters.from_args(request.args)
    return redirect(url_for("reports.overdue_report", **f.as_args()))


# -- one application: where every overdue row is resolved ---------------------------------


@bp.route("/applications/<int:application_id>")
@role_required(Role.RECRUITER)
def application_detail(application_id: int):
    application = access.application_or_404(current_user, application_id)
    back = safe_next_url(request.args.get("next"))
    return _render_application(application, back, LogContactForm(next=back), None)


def _owed_count(application) -> int:
    return len(services.settleable([application.id])[application.id])


def _render_application(application, back, contact_form, exempt_error):
    groups = services.settleable([application.id])
    if request.method == "GET":  # ticked by default: what is not still needed in writing
        contact_form.settle.data = [s.id for s in groups[application.id] if s.ticked_by_default]
    notifications = list(
        db.session.scalars(
            sa.select(Notification)
            .where(Notification.application_id == application.id)
            .order_by(Notification.id.desc())
            .limit(50)
        )
    )
    contacts = list(
        db.session.scalars(
            sa.select(Contact)
            .where(
                sa.or_(
                    Contact.application_id == application.id,
                    sa.and_(
                        Contact.candidate_id == application.candidate_id,
                        Contact.application_id.is_(None),
                    ),
                )
            )
            .order_by(Contact.occurred_at.desc())
            .limit(20)
        )
    )
    tasks = list(
        db.session.scalars(
            sa.select(Task)
            .where(Task.application_id == application.id, Task.resolved_at.is_(None))
            .order_by(Task.id)
        )
    )
    return render_template(
        "reports/application.html",
        a=application,
        items=queries.items_for_application(application.id),
        notifications=notifications,
        contacts=contacts,
        tasks=tasks,
        replies=replies.for_application(application.id),
        contact_form=contact_form,
        exempt_form=ExemptForm(next=back),
        exempt_error=exempt_error,
        exemptable=DISCHARGEABLE,  # what a manager may still exempt
        settle_groups=groups,
        settle_titles={application.id: _("this application")},
        can_exempt=access.can_exempt(current_user),
        back=back,
        now=clock.now(),
    )


@bp.route("/applications/<int:application_id>/contact", methods=["POST"])
@role_required(Role.RECRUITER)
def log_contact(application_id: int):
    application = access.application_or_404(current_user, application_id)
    form = LogContactForm()
    back = safe_next_url(form.next.data)
    if not form.validate_on_submit():
        return _render_application(application, back, form, None), 400
    try:
        services.log_contact(
            application.candidate,
            actor=current_user,
            channel=form.channel.data,
            summary=form.summary.data,
            application=application,
            settle=form.settle.data or (),
        )
    except (services.PipelineError, ValueError) as exc:
        db.session.rollback()
        flash(str(exc), "danger")
        return redirect(url_for("reports.application_detail", application_id=application_id))
    overdue.refresh_applications([application_id])
    settled = len(form.settle.data or ())
    if _owed_count(application):
        done = ngettext(
            "Contact logged; it settles %(num)d owed message (the others still go by email).",
            "Contact logged; it settles %(num)d owed messages (the others still go by email).",
            settled,
        )
    else:
        done = ngettext(
            "Contact logged; it settles %(num)d owed message.",
            "Contact logged; it settles %(num)d owed messages.",
            settled,
        )
    flash(done, "success")
    return redirect(back or url_for("reports.application_detail", application_id=application_id))


@bp.route("/applications/<int:application_id>/exempt", methods=["POST"])
@role_required(Role.MANAGER)
def exempt(application_id: int):
    application = access.application_or_404(current_user, application_id)
    form = ExemptForm()
    back = safe_next_url(form.next.data)
    if not form.validate_on_submit():
        return _render_application(application, back, LogContactForm(next=back), form.errors), 400
    notification = _notification_of(application, form.notification_id.data)
    try:
        services.exempt(notification, actor=current_user, reason=form.reason.data)
    except (services.PipelineError, PermissionError) as exc:
        db.session.rollback()
        flash(str(exc), "danger")
        return redirect(url_for("reports.application_detail", application_id=application_id))
    overdue.refresh_applications([application_id])
    flash(_("Message exempted; the reason is recorded."), "success")
    return redirect(back or url_for("reports.application_detail", application_id=application_id))


def _notification_of(application: Application, raw) -> Notification:
    notification_id = parse_id(raw)
    if notification_id is None:
        abort(400)
    notification = db.session.get(Notification, notification_id)
    if notification is None or notification.application_id != application.id:
        abort(404)
    return notification


# -- dashboards -----------------------------------------------------------------------------


@bp.route("/sla")
@role_required(Role.MANAGER)
def sla():
    weeks = _arg_int("weeks", 12, 1, 52)
    f = queries.Filters.from_args(request.args)
    # The default view and promises kept come from the last refresh when it covers them
    # (app/reports/snapshots.py); anything else is computed now.
    now = clock.now()
    saved = snapshots.sla_report(weeks, now, owner_id=f.owner_id, client_id=f.client_id)
    report = (
        saved.value
        if saved
        else dashboards.sla_report(weeks, now, owner_id=f.owner_id, client_id=f.client_id)
    )
    saved_promises = snapshots.promises_kept(weeks, now)
    promises = saved_promises.value if saved_promises else dashboards.promises_kept(weeks, now)
    week_labels = [dates.moment(w, "day_month") for w, _ in report.weeks]
    latency_chart = _line_chart(
        _("Decision → notification time per week (hours)"),
        week_labels,
        [
            (_("Median"), [stats.median for _, stats in report.weeks]),
            (_("95th percentile"), [stats.p95 for _, stats in report.weeks]),
        ],
        y_title=_("hours"),
        scale="measure",
    )
    share_chart = _line_chart(
        _("Share told within the SLA, and promises kept, per week (%)"),
        week_labels,
        [
            (_("Told within SLA"), [_pct(s.share_in_sla) for _, s in report.weeks]),
            (
                _("Promises kept"),
                [_pct(kept / due if due else None) for _, due, kept in promises.weeks],
            ),
        ],
        y_title="%",
        scale="share",
    )
    return render_template(
        "reports/sla.html",
        report=report,
        promises=promises,
        latency_chart=latency_chart,
        share_chart=share_chart,
        weeks=weeks,
        f=f,
        names=queries.label_for(f),
        as_of=_as_of(saved, saved_promises),
    )


def _line_chart(title: str, labels: list, series: list, **options) -> Markup:
    """`charts.line_chart`, drawn once for the same figures: a dashboard served from its
    snapshot shows the same numbers until the next refresh, and drawing the SVG cost more
    than the rest of the page (bench/report.py)."""
    frozen = tuple((name, tuple(values)) for name, values in series)
    return _drawn(title, tuple(labels), frozen, tuple(sorted(options.items())))


@functools.lru_cache(maxsize=32)
def _drawn(title: str, labels: tuple, series: tuple, options: tuple) -> Markup:
    return charts.line_chart(
        title, list(labels), [(n, list(v)) for n, v in series], **dict(options)
    )


def _as_of(*saved) -> datetime | None:
    """When the oldest figures on the page were computed, if any came from a snapshot."""
    times = [s.computed_at for s in saved if s is not None]
    return min(times) if times else None


def _pct(value: float | None) -> float | None:
    return None if value is None else round(value * 100, 1)


@bp.route("/clients")
@role_required(Role.MANAGER)
def client_promises():
    """Per client: decision dates promised, kept, broken; days to decide; late right now."""
    return render_template("reports/clients.html", rows=promises.client_promises())


@bp.route("/delivery")
@role_required(Role.MANAGER)
def delivery():
    days = _arg_int("days", 30, 7, 90)
    now = clock.now()
    saved = snapshots.delivery_per_day(days, now)
    table = saved.value if saved else dashboards.delivery_per_day(days, now)
    chart = _line_chart(
        _("Candidate messages per day (UTC)"),
        charts.day_labels([d for d, _ in table]),
        [
            (labels.state(name), [per[name] for _, per in table])
            for name, _ in dashboards.DELIVERY_SERIES
        ],
        y_title=_("messages"),
    )
    return render_template(
        "reports/delivery.html",
        table=table,
        chart=chart,
        series=[name for name, _ in dashboards.DELIVERY_SERIES],
        reasons=dashboards.top_bounce_reasons(days, now=now),
        days=days,
        as_of=_as_of(saved),
    )


@bp.route("/engine")
@role_required(Role.MANAGER)
def engine():
    return render_template(
        "reports/engine.html",
        health=dashboards.engine_health(),
        is_admin=current_user.has_role(Role.ADMIN),
    )


# -- the digest: every member of staff sets their own ---------------------------------------


@bp.route("/digest", methods=["GET", "POST"])
@role_required(Role.RECRUITER)
def digest_settings():
    enabled, hour = digest.settings_for(current_user)
    form = DigestSettingsForm(data={"enabled": enabled, "hour": hour})
    if form.validate_on_submit():
        digest.save_settings(current_user, enabled=form.enabled.data, hour=form.hour.data)
        flash(_("Digest settings saved."), "success")
        return redirect(url_for("reports.digest_settings"))
    recent = list(
        db.session.scalars(
            sa.select(StaffMessage)
            .where(StaffMessage.user_id == current_user.id)
            .order_by(StaffMessage.id.desc())
            .limit(7)
        )
    )
    preview = digest.build_digest(current_user)
    return render_template(
        "reports/digest_settings.html",
        form=form,
        recent=recent,
        preview=preview,
        manager=digest.is_manager(current_user),
    ), (400 if form.is_submitted() else 200)
