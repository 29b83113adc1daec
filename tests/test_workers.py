"""The guarantee with real parts: RQ worker processes, the real Redis and database, and the
local SendGrid-compatible server. Workers are killed, Redis is flushed, the mail API fails;
afterwards every owed notification is sent exactly once (ambiguous timeouts at most twice,
and counted)."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest
import sqlalchemy as sa
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

from app.extensions import db as _db
from app.models import Alert, Notification, NState, Stage, Task
from app.notifications.dispatch import enqueue_send, queue
from app.pipeline import services
from app.redis_conn import get_redis
from devtools.sendgrid_stub import SendGridStub
from tests import factories as f
from tests.processes import ROOT, Proc, stop_all, wait_until

pytestmark = pytest.mark.workers


@pytest.fixture
def stub():
    with SendGridStub(api_key="test-key", hold_seconds=20) as s:
        yield s


@pytest.fixture
def env(worker_env, stub):
    return {
        **worker_env,
        "EMAIL_BACKEND": "sendgrid",
        "SENDGRID_API_KEY": "test-key",
        "SENDGRID_API_HOST": stub.url,
        "SENDGRID_TIMEOUT_SECONDS": "1.5",
        "SEND_BACKOFF_SECONDS": "0.5,1,1",
        "SEND_LEASE_SECONDS": "4",
        "AMBIGUOUS_SETTLE_SECONDS": "1",
        "QUEUED_GRACE_SECONDS": "1",
        "CONFIG_ERROR_PAUSE_SECONDS": "2",
        "DISPATCH_INTERVAL_SECONDS": "0.5",
        "RECONCILE_INTERVAL_SECONDS": "0.5",
        "SCHEDULER_LEASE_SECONDS": "3",
    }


@pytest.fixture
def procs(tmp_path, env):
    started: list[Proc] = []

    def start(kind: str, *extra: str, env_overrides: dict | None = None) -> Proc:
        args = ["-m", "workers", kind, *extra]
        if kind == "scheduler":
            args += ["--tick-seconds", "0.2"]
        p = Proc(args, {**env, **(env_overrides or {})}, tmp_path / f"{kind}-{len(started)}.log")
        started.append(p)
        return p

    yield start
    # End the test's own transaction first: on SQLite it holds the write lock, and a process
    # waiting for that lock notices SIGTERM only when its busy timeout (30 s) runs out.
    _db.session.rollback()
    stop_all(started)
    for p in started:
        lines = "\n".join(line[:400] for line in p.output().splitlines()[-80:])
        print(f"--- {p.log_path.name} ---\n{lines}")  # shown when a test fails


def _owe(db, n: int, *, emails: list[str | None] | None = None) -> list[int]:
    """n candidates moved to offer: n owed messages, committed and dispatched."""
    position = f.position()
    apps = []
    for i in range(n):
        email = emails[i] if emails else "default"
        apps.append(
            f.application(
                position_=position, stage=Stage.INTERVIEW, candidate_=f.candidate(email=email)
            )
        )
    db.session.commit()
    ids = [services.move_stage(a, Stage.OFFER, actor=None).id for a in apps]
    # End the read transaction: on SQLite an open one holds the write lock workers need.
    db.session.commit()
    return ids


def _states(db, ids) -> dict[int, str]:
    db.session.expire_all()
    rows = db.session.execute(
        sa.select(Notification.id, Notification.state).where(Notification.id.in_(ids))
    ).all()
    db.session.commit()
    return dict(rows)


def _all_sent(db, ids) -> bool:
    return set(_states(db, ids).values()) == {NState.SENT.value}


def test_worker_sends_each_owed_message_once(db, stub, procs):
    ids = _owe(db, 6)
    procs("worker")
    wait_until(lambda: _all_sent(db, ids), message="all sent")
    stats = stub.stats()
    assert stats["per_notification"] == {str(i): 1 for i in ids}
    assert stats["multi_recipient_personalizations"] == 0
    # Six changes, six jobs of one; the worker started after all of them: its first job
    # took the five others waiting alone (send.coalesce) and sent the six in one request.
    assert stats["requests_by_status"] == {"202": 1}
    recorded = {m["notification_id"]: m for m in stub.messages()}
    n = db.session.get(Notification, ids[0])
    assert (
        recorded[str(n.id)]["to"] == [n.candidate.email]
        or recorded[str(n.id)]["to"][0]["email"] == n.candidate.email
    )
    assert n.provider_message_id and n.sent_at


def test_fan_out_goes_in_batched_requests_one_personalization_each(app, db, stub, procs):
    app.config["SEND_BATCH_SIZE"] = 10  # three batches, each its own send job
    position = f.position()
    for _ in range(30):
        f.application(position_=position, stage=Stage.SUBMITTED)
    db.session.commit()
    ids = services.close_position(
        position, actor=None, status="on_hold", reason="client reorganising"
    )["notification_ids"]
    db.session.commit()
    assert len(ids) == 30 and len(queue().get_job_ids()) == 3
    procs("worker", env_overrides={"SEND_BATCH_SIZE": "10"})
    wait_until(lambda: _all_sent(db, ids), message="all sent")
    stats = stub.stats()
    assert stats["requests_by_status"] == {"202": 3}  # a request per batch
    assert stats["per_notification"] == {str(i): 1 for i in ids}
    assert stats["multi_recipient_personalizations"] == 0
    tos = [m["to"] for m in stub.messages()]
    assert len(set(map(str, tos))) == 30  # everyone sees only themselves
    # The first job went on with the two batches waiting (send.take_waiting_batch): one
    # work horse and one connection for the fan-out, the other two jobs off the queue.
    finished = queue().finished_job_registry
    wait_until(lambda: finished.count == 1, message="the first job finished")
    assert queue().get_job_ids() == []
    assert Job.fetch(finished.get_job_ids()[0], connection=get_redis()).return_value() == {
        "claimed": 30,
        "sent": 30,
        "failed": 0,
        "taken_over": 2,
    }


def test_sigkill_while_sending_is_recovered_and_counted(db, stub, procs):
    stub.set_faults(script=["timeout"])  # accepted, then the answer hangs
    ids = _owe(db, 1)
    w = procs("worker", env_overrides={"SENDGRID_TIMEOUT_SECONDS": "30"})
    wait_until(lambda: stub.stats()["accepted"] == 1, message="the request reached SendGrid")
    w.kill()  # mid-send: the row is left in `sending`
    assert _states(db, ids) == {ids[0]: NState.SENDING.value}
    procs("scheduler")
    procs("worker")
    wait_until(lambda: _all_sent(db, ids), timeout=40, message="re-sent after the lease")
    n = db.session.get(Notification, ids[0])
    assert n.ambiguous_sends == 1
    assert stub.stats()["per_notification"] == {str(ids[0]): 2}  # at most twice, and counted


def test_flushall_with_queued_notifications_loses_nothing(db, stub, procs):
    ids = _owe(db, 25)
    assert queue().count >= 1
    get_redis().flushdb()  # all the app has in Redis (flushall would reach other xdist workers)
    assert queue().count == 0
    procs("scheduler")
    procs("worker")
    wait_until(lambda: _all_sent(db, ids), timeout=40, message="re-dispatched and sent")
    assert stub.stats()["duplicates"] == 0
    detail = db.session.execute(
        sa.select(
            Notification.id,
            Notification.provider_message_id,
            Notification.attempts,
            Notification.sent_at,
            Notification.job_id,
        )
    ).all()
    assert sorted(map(int, stub.stats()["per_notification"])) == sorted(ids), detail


def test_transient_errors_are_retried_until_sent(db, stub, procs):
    stub.set_faults(script=[500, {"status": 429, "reset_in": 1}, 503])
    ids = _owe(db, 1)
    procs("worker")
    wait_until(lambda: _all_sent(db, ids), timeout=40, message="sent after retries")
    assert stub.stats()["requests_by_status"] == {"500": 1, "429": 1, "503": 1, "202": 1}
    n = db.session.get(Notification, ids[0])
    assert n.attempts == 4 and n.ambiguous_sends == 0 and n.last_error is None


def test_timeout_after_accept_is_sent_again_and_counted(db, stub, procs):
    stub.set_faults(script=["timeout"])
    ids = _owe(db, 2)
    procs("worker")
    wait_until(lambda: _all_sent(db, ids), timeout=40, message="sent after the timeout")
    first, second = (db.session.get(Notification, nid) for nid in ids)
    # The second may have gone in the first one's request (send.coalesce): then it timed
    # out with it.
    assert first.ambiguous_sends == 1 and second.ambiguous_sends in (0, 1)
    stats = stub.stats()
    # The provider got each timed-out one twice; we know, because we counted the ambiguity.
    assert stats["per_notification"] == {str(n.id): 1 + n.ambiguous_sends for n in (first, second)}
    assert stats["duplicates"] == first.ambiguous_sends + second.ambiguous_sends


def test_processed_event_settles_an_ambiguous_send_without_a_duplicate(db, stub, procs):
    from app.notifications.events import apply_events

    stub.set_faults(script=["timeout"])
    ids = _owe(db, 1)
    procs("worker", env_overrides={"AMBIGUOUS_SETTLE_SECONDS": "6"})
    wait_until(lambda: stub.stats()["accepted"] == 1, message="the request reached SendGrid")

    def ambiguous() -> bool:
        n = db.session.get(Notification, ids[0])
        result = n.ambiguous_sends == 1 and n.state == NState.QUEUED
        db.session.commit()
        return result

    wait_until(ambiguous, message="the timeout recorded as ambiguous")
    retry_id = db.session.get(Notification, ids[0]).job_id
    db.session.commit()

    def scheduled() -> bool:  # the retry after the settle window (enqueued after the commit)
        try:
            job = Job.fetch(retry_id, connection=get_redis())
        except NoSuchJobError:
            return False
        return job.get_status() == JobStatus.SCHEDULED

    wait_until(scheduled, message="the retry to be scheduled")
    retry = Job.fetch(retry_id, connection=get_redis())
    # SendGrid's "processed" event for it arrives through the webhook before the retry.
    event = {
        "event": "processed",
        "sg_event_id": "ev-1",
        "notification_id": str(ids[0]),
        "email": "x@example.test",
        "timestamp": 1_700_000_000,
    }
    apply_events([event])
    wait_until(lambda: _all_sent(db, ids), message="settled as sent")
    # Past the settle window the scheduled retry runs and finds nothing owed.
    wait_until(
        lambda: retry.get_status(refresh=True) == JobStatus.FINISHED,
        message="the scheduled retry to run",
    )
    assert retry.return_value() == {"claimed": 0}
    assert stub.stats()["per_notification"] == {str(ids[0]): 1}
    n = db.session.get(Notification, ids[0])
    assert n.state == NState.SENT and n.body_text  # the audit trail kept what was sent


def test_invalid_address_fails_alone_with_a_task(db, stub, procs):
    ids = _owe(db, 3, emails=["good1@example.test", "not-an-address", "good2@example.test"])
    procs("worker")
    wait_until(
        lambda: (
            NState.QUEUED.value not in _states(db, ids).values()
            and NState.SENDING.value not in _states(db, ids).values()
        ),
        message="settled",
    )
    states = _states(db, ids)
    assert [states[i] for i in ids] == ["sent", "failed", "sent"]
    bad = db.session.get(Notification, ids[1])
    assert "SendGrid rejected" in bad.last_error
    task = db.session.scalar(sa.select(Task).where(Task.notification_id == bad.id))
    assert task is not None and task.kind == "send_failed"


def test_bad_api_key_pauses_sending_and_keeps_everything_owed(db, stub, procs):
    stub.set_faults(script=[401])
    ids = _owe(db, 2)
    procs("worker")

    def alerts() -> int:
        count = db.session.scalar(sa.select(sa.func.count()).select_from(Alert))
        db.session.commit()  # never hold SQLite's write lock while workers run
        return count

    wait_until(lambda: alerts() == 1, message="an alert")
    # Nothing is failed for our own misconfiguration; after the pause it goes out.
    assert set(_states(db, ids).values()) <= {
        NState.QUEUED.value,
        NState.SENDING.value,
        NState.SENT.value,
    }
    procs("scheduler")
    wait_until(lambda: _all_sent(db, ids), timeout=40, message="sent after the pause")
    assert stub.stats()["per_notification"] == {str(i): 1 for i in ids}


def test_two_reconcilers_and_two_workers_never_double_send(db, stub, procs, env):
    ids = _owe(db, 40)
    get_redis().flushdb()  # all the app has in Redis (flushall would reach other xdist workers)
    # Make every row look long lost, then run two reconcilers at the same moment.
    db.session.execute(sa.update(Notification).values(queued_at=None))
    db.session.commit()
    reconcile_env = {**env, "QUEUED_GRACE_SECONDS": "0"}
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "app", "notifications", "reconcile"],
            cwd=ROOT,
            env=reconcile_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for _ in range(2)
    ]
    outputs = [r.communicate(timeout=60)[0].decode() for r in runs]
    assert all(r.returncode == 0 for r in runs), outputs
    # Same rows handed over twice more, under other job ids, as a racing dispatcher might.
    enqueue_send(ids, "race-a")
    enqueue_send(ids, "race-b")
    procs("worker")
    procs("worker")
    wait_until(lambda: _all_sent(db, ids), timeout=40, message="all sent")
    stats = stub.stats()
    assert stats["duplicates"] == 0 and stats["notifications"] == 40


def test_outbox_row_and_state_change_share_one_transaction(db):
    """If the transaction fails, neither the change nor the debt exists (and vice versa)."""
    a = f.application(stage=Stage.INTERVIEW)
    db.session.commit()
    services.plan_move(a, Stage.OFFER, None, None, None, services.clock.now())
    db.session.rollback()
    db.session.expire_all()
    assert a.stage == Stage.INTERVIEW
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Notification)) == 0


def test_only_one_scheduler_is_active(db, procs):
    from app.models import Lease, ReconcilerRun

    first, second = procs("scheduler"), procs("scheduler")

    def runs() -> int:
        count = db.session.scalar(sa.select(sa.func.count()).select_from(ReconcilerRun))
        db.session.commit()
        return count

    wait_until(lambda: runs() >= 4, message="a few reconciler passes")
    holders = set(db.session.scalars(sa.select(ReconcilerRun.holder)))
    lease = db.session.get(Lease, "scheduler")
    db.session.commit()
    assert len(holders) == 1 and lease.holder in holders
    active, standby = (first, second) if str(first.pid) in lease.holder else (second, first)
    active.kill()  # the standby takes over once the lease expires

    def holder() -> str:
        value = db.session.get(Lease, "scheduler").holder
        db.session.commit()
        return value

    wait_until(
        lambda: holder().endswith(f":{standby.pid}"), timeout=30, message="the standby to take over"
    )


def test_a_worker_starts_while_the_database_is_down(db, procs):
    # Its warm-up reads the database; a database that is not up yet must not stop it (its
    # jobs fail and are retried, and the reconciler re-dispatches what is owed).
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"postgresql+psycopg://root@127.0.0.1:{s.getsockname()[1]}/closeloop"
    down = procs("worker", env_overrides={"DATABASE_URL": dead})
    wait_until(lambda: "warm-up skipped" in down.output(), message="warm-up skipped")
    wait_until(lambda: "Listening on" in down.output(), message="worker listening")
    assert down.alive()
