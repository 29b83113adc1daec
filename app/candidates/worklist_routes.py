"""My queue, the recruiter's work list and home page (worklist.py), and the actions that
live on it: answer an update request, correct a bounced address and send again, and mark
done a task settled outside Closeloop (the client told or chased). Logging a
contact posts to the profile's form (routes.log_contact) with next=queue."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import (
    current_app,
    flash,
    g,
    has_request_context,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_wtf.csrf import generate_csrf
from sqlalchemy.exc import SQLAlchemyError

from app import access, clock, labels
from app.access import sees_everything
from app.candidates import bp, services, worklist
from app.candidates.forms import DoneForm, FixEmailForm, ReplyForm
from app.extensions import db
from app.pipeline.services import PipelineError, settleable
from app.status import services as status_services

BADGE_SECONDS = 30
ID_SLOT = 987654321  # stands in for an id in a URL built once per page
_BADGE_KEY = "queue_badge"


def user_zone() -> ZoneInfo:
    """The signed-in user's zone: pages show times as their wall clock reads them."""
    try:
        return ZoneInfo(current_user.timezone or current_app.config["AGENCY_TIMEZONE"])
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


@bp.app_template_global()
def queue_count() -> int:
    """Open items in the signed-in user's queue, for the navigation badge.

    Counting runs the overdue rules live, so the figure is kept in the session for
    BADGE_SECONDS; anything the user posts that is not refused (an action that may resolve
    an item) drops it."""
    if not has_request_context() or not current_user.is_authenticated:
        return 0
    if "queue_count" not in g:
        cached = session.get(_BADGE_KEY)
        now = clock.now().timestamp()
        if cached and cached[0] == current_user.id and now - cached[2] < BADGE_SECONDS:
            g.queue_count = cached[1]
            return g.queue_count
        try:
            g.queue_count = worklist.counts(current_user).total
        except SQLAlchemyError:
            # A badge must never take a page down (the error page included).
            current_app.logger.exception("queue badge: could not count")
            db.session.rollback()
            g.queue_count = 0
            return 0
        session[_BADGE_KEY] = (current_user.id, g.queue_count, now)
    return g.queue_count


@bp.after_app_request
def _forget_badge_after_a_change(response):
    # A refused post (a form with errors, a missing record) changed nothing: the count
    # stands, and re-showing the form does not run the overdue rules again.
    if request.method not in ("GET", "HEAD", "OPTIONS") and response.status_code < 400:
        session.pop(_BADGE_KEY, None)
    return response


@bp.get("/queue", endpoint="queue")
@login_required
def queue_page():
    return render_queue()


def render_queue(failed: tuple[str, object] | None = None, status: int = 200):
    """The page; `failed` = (form key, form) re-shows that row's form with its errors and
    what the user typed."""
    recruiter_id = keep_filter().get("recruiter")
    items = worklist.build(current_user, recruiter_id)
    if recruiter_id is None:
        g.queue_count = items.total  # the badge counts the same items: no second build
        session[_BADGE_KEY] = (current_user.id, items.total, clock.now().timestamp())
    return render_template(
        "candidates/queue.html",
        q=items,
        recruiter_id=recruiter_id,
        recruiters=worklist.recruiters() if sees_everything(current_user) else [],
        failed_key=failed[0] if failed else None,
        failed_form=failed[1] if failed else None,
        user_zone=user_zone(),
        now=clock.now(),
        done_kinds=worklist.DONE_TASKS,
        owed_messages=_OwedMessages(items),
        open_key=request.args.get("open", "")[:40] if request.method == "GET" else "",
        id_slot=ID_SLOT,
        # Signed once for the page's hundreds of row forms (each csrf_token() call signs anew).
        form_token=generate_csrf(),
    ), status


class _OwedMessages:
    """What each listed application owes, for the contact forms' tick boxes: read when a
    form is drawn (one statement for every row), never for a page that draws none."""

    def __init__(self, items):
        self.items = items
        self.found: dict | None = None

    def get(self, application_id: int, default=None):
        if self.found is None:
            sections = ("owed", *worklist.TASK_SECTIONS)  # every row that may carry one
            rows = [r for name in sections for r in getattr(self.items, name)]
            self.found = settleable(sorted({r.application_id for r in rows if r.application_id}))
        return self.found.get(application_id, default)


@bp.post("/queue/tasks/<int:task_id>/reply")
@login_required
def reply(task_id: int):
    task = access.task_or_404(current_user, task_id, ("update_request",))
    form = ReplyForm()
    if not form.validate_on_submit():
        return render_queue((f"reply-{task.id}", form), 400)
    try:
        status_services.answer_update_request(task, actor=current_user, message=form.message.data)
    except status_services.StatusError as exc:
        return _back(str(exc), "warning")
    return _back(_("Your answer is on its way to the candidate."), "success")


@bp.post("/queue/tasks/<int:task_id>/retry")
@login_required
def retry(task_id: int):
    task = access.task_or_404(current_user, task_id, services.UNDELIVERABLE_TASKS)
    form = FixEmailForm()
    if not form.validate_on_submit():
        return render_queue((f"retry-{task.id}", form), 400)
    try:
        sent = services.fix_email_and_retry(task, actor=current_user, email=form.email.data)
    except services.DuplicateEmail as exc:
        form.email.errors.append(services.duplicate_message(current_user, exc.existing))
        return render_queue((f"retry-{task.id}", form), 400)
    except PipelineError as exc:
        form.email.errors.append(str(exc))
        return render_queue((f"retry-{task.id}", form), 400)
    if sent is None:
        message = _(
            "Address corrected. Newer news has replaced that message, so nothing is resent."
        )
    else:
        message = _(
            "Address corrected; the %(message)s is being sent again.",
            message=labels.kind_phrase(sent.kind),
        )
    return _back(message, "success")


@bp.post("/queue/tasks/<int:task_id>/done")
@login_required
def done(task_id: int):
    task = access.task_or_404(current_user, task_id, worklist.DONE_TASKS)
    if not DoneForm().validate_on_submit():
        return _back(_("That form has expired: try again."), "warning")
    try:
        services.mark_task_done(task, actor=current_user)
    except PipelineError as exc:
        return _back(str(exc), "warning")
    return _back(_("Done: %(task)s", task=task.title), "success")


def _back(message: str, category: str):
    flash(message, category)
    return redirect(url_for("candidates.queue", **keep_filter()))


def keep_filter() -> dict:
    if not sees_everything(current_user):
        return {}
    recruiter = request.args.get("recruiter", type=int)
    return {"recruiter": recruiter} if recruiter else {}
