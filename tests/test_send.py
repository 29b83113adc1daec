"""The send job in-process (mailbox backend): claim, render, record, classify."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from app import clock
from app.models import (
    Alert,
    MailboxMessage,
    MessageTemplate,
    Notification,
    NState,
    OutcomeReason,
    Stage,
    Task,
)
from app.notifications import custom_templates, outbox
from app.notifications.reconcile import reconcile
from app.notifications.send import claim, deliver, pause_sending, sending_paused
from app.pipeline import services
from tests import factories as f


def _owed(db, **candidate):
    a = f.application(
        stage=Stage.INTERVIEW, candidate_=f.candidate(**candidate) if candidate else None
    )
    db.session.commit()
    n = services.move_stage(a, Stage.OFFER, actor=None)
    return a, n


def test_deliver_sends_once_and_keeps_the_rendered_message(db):
    a, n = _owed(db, name="<b>Zoë</b> Brontë")
    assert deliver([n.id]) == {"claimed": 1, "sent": 1, "failed": 0}
    assert deliver([n.id]) == {"claimed": 0}  # a repeated job finds nothing to claim
    db.session.refresh(n)
    assert n.state == NState.SENT and n.sent_at and n.provider_message_id.startswith("mailbox-")
    assert n.attempts == 1
    mail = db.session.scalars(sa.select(MailboxMessage)).all()
    assert len(mail) == 1 and mail[0].notification_id == n.id
    assert "Hello <b>Zoë</b>," in n.body_text  # plain text: verbatim
    assert "&lt;b&gt;Zoë&lt;/b&gt;" in n.body_html and "<b>Zoë" not in n.body_html
    assert a.position.title in n.subject and a.position.client.name in n.subject
    assert a.position.owner.email in n.body_text  # whom to contact
    db.session.refresh(a)
    assert a.last_candidate_contact_at == n.sent_at


def test_claim_is_exclusive(db):
    _, n = _owed(db)
    now = clock.now()
    assert claim([n.id], now) == [n.id]
    assert claim([n.id], now) == []


def test_not_yet_due_is_not_claimed(db):
    a = f.application(stage=Stage.INTERVIEW)
    db.session.commit()
    n = services.move_stage(a, Stage.REJECTED, actor=None, reason=OutcomeReason.AGENCY_DECISION)
    assert n.due_at > clock.now() + timedelta(minutes=29)
    assert deliver([n.id]) == {"claimed": 0}
    assert db.session.get(Notification, n.id).state == NState.PENDING


def test_candidate_without_email_fails_with_a_phone_task(db):
    _, n = _owed(db, email=None)
    assert deliver([n.id])["failed"] == 1
    db.session.refresh(n)
    assert n.state == NState.FAILED and "phone" in n.last_error
    task = db.session.scalar(sa.select(Task))
    assert task.notification_id == n.id and task.assignee_id == n.application.position.owner_id


def test_paused_sending_keeps_everything_owed(db):
    _, n = _owed(db)
    until = pause_sending("SendGrid rejected our API key (401)")
    assert sending_paused(clock.now()) is not None
    assert deliver([n.id]) == {"paused": 1}
    db.session.refresh(n)
    assert n.state == NState.QUEUED and n.due_at == until and n.attempts == 0


def test_superseded_is_never_sent(db):
    a = f.application(stage=Stage.INTERVIEW)
    db.session.commit()
    stale = outbox.owe(a, "client_review")
    db.session.commit()
    services.move_stage(a, Stage.OFFER, actor=None)
    assert deliver([stale.id]) == {"claimed": 0}
    assert db.session.get(Notification, stale.id).state == NState.SUPERSEDED


def _broken_offer_wording(db) -> MessageTemplate:
    """An agency-wide "offer" template that fails when rendered (saved around the editor's
    checks, as a bad migration or a code change could leave one)."""
    draft = custom_templates.Draft(
        subject="An offer",
        text={"happened": "{{ candidate_name / 2 }}", "next": "Wait.", "when": "Soon."},
        html={},
    )
    broken = MessageTemplate(
        kind="offer", subject=draft.subject, body_text=draft.body_text, body_html=draft.body_html
    )
    db.session.add(broken)
    db.session.commit()
    custom_templates.invalidate()
    return broken


def test_a_message_that_cannot_be_rendered_stays_owed_and_alerts_an_admin(db):
    broken = _broken_offer_wording(db)
    _, n = _owed(db)
    counts = deliver([n.id])
    assert counts["sent"] == 0 and counts["failed"] == 0 and counts["unrendered"] == 1
    db.session.refresh(n)
    # Owed still, tried again later; no recruiter is asked to reach the candidate for our bug.
    assert n.state == NState.QUEUED and n.error_kind == "render" and n.due_at > clock.now()
    assert "could not render the offer update" in n.last_error
    assert db.session.scalar(sa.select(Task)) is None
    alert = db.session.scalar(sa.select(Alert).where(Alert.dedupe_key == "render:offer"))
    assert alert.resolved_at is None and "still owed" in alert.message
    # Fixed: the retry sends it, and the alert is resolved.
    db.session.delete(broken)
    db.session.commit()
    custom_templates.invalidate()
    with clock.frozen(n.due_at + timedelta(seconds=1)):
        assert deliver([n.id])["sent"] == 1
    db.session.refresh(alert)
    assert alert.resolved_at is not None
    assert db.session.get(Notification, n.id).state == NState.SENT


def test_an_unrenderable_message_escalates_to_its_recruiter_past_the_sla(app, db):
    _broken_offer_wording(db)
    _, n = _owed(db)
    deliver([n.id])
    later = clock.now() + timedelta(seconds=app.config["NOTIFICATION_SLA_SECONDS"] + 60)
    with clock.frozen(later):
        reconcile(later)
    task = db.session.scalar(sa.select(Task).where(Task.notification_id == n.id))
    assert task is not None and task.assignee_id == n.application.position.owner_id


def test_a_job_taken_off_the_queue_as_a_worker_starts_it_never_fails_the_send(db):
    """send.coalesce takes the messages waiting alone in their own jobs and removes those
    jobs; a worker that starts one in between leaves RQ an execution record already gone,
    and RQ's delete raises. The coalescing job had claimed the rows: it must still send
    them, not leave them `sending` until their lease runs out."""
    from app.notifications.dispatch import queue

    (_, first), (_, second) = _owed(db), _owed(db)
    assert first.state == second.state == NState.QUEUED
    # What the other worker's start leaves: an execution id whose record has gone.
    queue().connection.zadd(f"rq:executions:{second.job_id}", {"gone-execution": 2**40})
    assert deliver([first.id], coalesce_waiting=True)["sent"] == 2
    db.session.refresh(second)
    assert second.state == NState.SENT


def test_a_job_that_is_gone_by_the_time_it_is_taken_off_the_queue_never_fails_the_send(db):
    """Between reading a waiting job and deleting it (send.coalesce, send.take_waiting_batch)
    the job can be gone: run and removed, or taken by another send job. RQ's delete then
    raises InvalidJobOperation; the rows were claimed already, so the sending job must carry
    on (make simulate left such rows `sending` when it did not)."""
    from rq.job import Job

    from app import rq_jobs
    from app.notifications import dispatch

    (_, first), (_, second) = _owed(db), _owed(db)
    conn = dispatch.queue().connection
    job = Job.fetch(second.job_id, connection=conn)
    conn.delete(job.key)  # gone meanwhile
    assert rq_jobs.delete_quietly(job) is False
    assert deliver([first.id], coalesce_waiting=True)["sent"] == 2


def test_a_finished_job_gone_as_it_is_replaced_does_not_stop_the_dispatch(db, monkeypatch):
    """A row dispatched again under its job id needs the finished job out of the way first.
    When that job goes by itself meanwhile (its result expired), RQ raises asking for its
    status: the row must still get its new job."""
    from rq.job import Job

    from app.notifications import dispatch
    from tests.outage import jobs_gone_once_fetched

    _, n = _owed(db)
    q = dispatch.queue()
    job = Job.fetch(n.job_id, connection=q.connection)
    job.set_status("finished")  # ran, yet the row is still owed
    q.remove(job)
    jobs_gone_once_fetched(monkeypatch)
    again = dispatch.enqueue_send([n.id], n.job_id)
    assert again is not None and again.id == n.job_id
    assert q.job_ids == [n.job_id]
