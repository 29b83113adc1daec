"""From My queue: answering a candidate's email reply (app/replies/services.py), and
confirming a client's decision (app/decisions/services.py)."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app import access
from app.candidates import bp
from app.candidates.forms import ConfirmDecisionForm, ReplyForm
from app.candidates.worklist_routes import keep_filter, render_queue
from app.decisions import services as decisions
from app.replies import services as replies


@bp.post("/queue/replies/<int:task_id>/answer")
@login_required
def answer_reply(task_id: int):
    task = access.task_or_404(current_user, task_id, (replies.TASK_KIND,))
    form = ReplyForm()
    if not form.validate_on_submit():
        return render_queue((f"answer-{task.id}", form), 400)
    try:
        replies.answer(task, actor=current_user, message=form.message.data)
    except replies.ReplyError as exc:
        flash(str(exc), "warning")
    else:
        flash(_("Your answer is on its way to the candidate."), "success")
    return redirect(url_for("candidates.queue", **keep_filter()))


@bp.get("/queue/decisions/<int:task_id>")
@login_required
def decision(task_id: int):
    task = access.task_or_404(current_user, task_id, (decisions.TASK_KIND,))
    return render_template(
        "candidates/decision.html",
        task=task,
        record=decisions.decision_for_task(task),
        preview=decisions.preview(task),
        form=ConfirmDecisionForm(),
    )


@bp.post("/queue/decisions/<int:task_id>/confirm")
@login_required
def confirm_decision(task_id: int):
    task = access.task_or_404(current_user, task_id, (decisions.TASK_KIND,))
    form = ConfirmDecisionForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        decisions.confirm(task, actor=current_user)
    except decisions.DecisionError as exc:
        flash(str(exc), "warning")
    else:
        flash(_("Confirmed: the candidate's email is owed, with its undo window."), "success")
    return redirect(url_for("candidates.queue", **keep_filter()))
