"""The candidate's actions end to end through the queue, with real worker processes: the
status page's request-an-update and withdraw, and a digest with one-click unsubscribe
headers through the local SendGrid-compatible server."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app import clock
from app.extensions import db as _db
from app.models import Application, MailboxMessage, Notification, NState, Stage, Task
from app.notifications import links, outbox
from app.pipeline import services
from app.status import services as status_services
from devtools.sendgrid_stub import SendGridStub
from tests import factories as f
from tests.processes import Proc, stop_all, wait_until
from tests.web import Web

pytestmark = pytest.mark.workers


@pytest.fixture
def procs(tmp_path, worker_env):
    started: list[Proc] = []

    def start(kind: str, env: dict | None = None) -> Proc:
        args = ["-m", "workers", kind]
        if kind == "scheduler":
            args += ["--tick-seconds", "0.2"]
        env = {
            **worker_env,
            "DISPATCH_INTERVAL_SECONDS": "0.5",
            "RECONCILE_INTERVAL_SECONDS": "0.5",
            **(env or {}),
        }
        p = Proc(args, env, tmp_path / f"{kind}-{len(started)}.log")
        started.append(p)
        return p

    yield start
    # End the test's own transaction first: on SQLite it holds the write lock, and a process
    # waiting for that lock notices SIGTERM only when its busy timeout (30 s) runs out.
    _db.session.rollback()
    stop_all(started)
    for p in started:
        print(f"--- {p.log_path.name} ---\n{p.output()[-4000:]}")


@pytest.fixture
def web(app, make_app):
    return Web(make_app().test_client())


def _state(db, nid: int) -> str:
    db.session.expire_all()
    state = db.session.get(Notification, nid).state
    db.session.commit()  # never hold SQLite's write lock while workers run
    return state


def _candidate(db):
    c = f.candidate(name="Zoë Łukasiewicz")
    a = f.application(candidate_=c, stage=Stage.CLIENT_REVIEW)
    db.session.commit()
    return c, a


def test_request_an_update_is_answered_by_the_recruiter_through_the_worker(db, web, procs):
    c, a = _candidate(db)
    url = f"/status/{links.status_token(c)}/applications/{a.id}/update"
    assert web.post(url).status_code == 302
    task = db.session.scalar(sa.select(Task).where(Task.kind == "update_request"))
    assert task.assignee_id == a.position.owner_id
    procs("worker")
    status_services.answer_update_request(
        task, actor=a.position.owner, message="The client meets on Thursday; I'll call you after."
    )
    db.session.commit()
    wait_until(lambda: _state(db, task.notification_id) == NState.SENT, message="reply sent")
    mail = db.session.scalar(
        sa.select(MailboxMessage).where(MailboxMessage.notification_id == task.notification_id)
    )
    assert mail.to_email == c.email and "your update" in mail.subject
    assert "The client meets on Thursday" in mail.body_text


def test_an_unanswered_request_is_answered_automatically_when_the_sla_runs_out(db, web, procs):
    c, a = _candidate(db)
    assert web.post(f"/status/{links.status_token(c)}/applications/{a.id}/update").status_code
    task = db.session.scalar(sa.select(Task).where(Task.kind == "update_request"))
    # The recruiter stays silent; pretend the SLA ends in two seconds.
    reply = db.session.get(Notification, task.notification_id)
    reply.due_at = clock.now() + timedelta(seconds=2)
    db.session.commit()
    procs("scheduler")
    procs("worker")
    wait_until(lambda: _state(db, reply.id) == NState.SENT, timeout=40, message="auto reply")
    body = db.session.get(Notification, reply.id).body_text
    assert "You asked for an update" in body and "being reviewed by the client" in body


def test_withdraw_from_the_page_is_acknowledged_through_the_worker(db, web, procs):
    c, a = _candidate(db)
    url = f"/status/{links.status_token(c)}/applications/{a.id}/withdraw"
    assert web.post(url, data={"confirm": "y"}).status_code == 302
    db.session.expire_all()
    assert db.session.get(Application, a.id).stage == Stage.WITHDRAWN
    ack = db.session.scalar(sa.select(Notification).where(Notification.kind == "withdrawal_ack"))
    db.session.commit()
    procs("worker")
    wait_until(lambda: _state(db, ack.id) == NState.SENT, message="acknowledgement sent")
    mail = db.session.scalar(
        sa.select(MailboxMessage).where(MailboxMessage.notification_id == ack.id)
    )
    assert "withdrawn" in mail.subject and a.position.client.name in mail.subject


def test_a_digest_with_one_click_unsubscribe_through_sendgrid(db, procs):
    c = f.candidate(name="Amelia Hart")
    a = f.application(candidate_=c, stage=Stage.INTERVIEW)
    b = f.application(candidate_=c, stage=Stage.SUBMITTED)
    db.session.commit()
    reminder = outbox.owe(
        a,
        "still_deciding",
        context={
            "promised_response_at": clock.now().isoformat(),
            "new_expected_at": (clock.now() + timedelta(days=2)).isoformat(),
        },
    )
    # Its commit dispatches both: the reminder was owed in the same transaction.
    update = services.move_stage(b, Stage.CLIENT_REVIEW, actor=None)
    with SendGridStub(api_key="test-key") as stub:
        procs(
            "worker",
            {
                "EMAIL_BACKEND": "sendgrid",
                "SENDGRID_API_KEY": "test-key",
                "SENDGRID_API_HOST": stub.url,
            },
        )
        wait_until(
            lambda: {_state(db, reminder.id), _state(db, update.id)} == {NState.SENT},
            message="both sent",
        )
        messages = stub.messages()
    assert len(messages) == 1  # one email for both changes
    (message,) = messages
    assert message["to"] == [c.email]
    assert message["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["headers"]["List-Unsubscribe"].startswith("<http")
    ids = {message["custom_args"]["notification_id"], message["custom_args"]["digest_ids"]}
    assert ids == {str(reminder.id), str(update.id)}
