"""Answering a candidate's email reply from My queue (app/replies/services.py)."""

from __future__ import annotations

from flask import flash, redirect, url_for
from flask_login import current_user, login_required

from app import access
from app.candidates import bp
from app.candidates.forms import ReplyForm
from app.candidates.worklist_routes import keep_filter, render_queue
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
        flash("Your answer is on its way to the candidate.", "success")
    return redirect(url_for("candidates.queue", **keep_filter()))
