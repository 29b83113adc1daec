"""The set-based statements behind a fan-out (app/bulk_sql.py) and what close_position does
with them, on whichever database the suite runs (SQLite or PostgreSQL): the PostgreSQL fast
paths and the portable fallbacks must write the same rows."""

from __future__ import annotations

import gc
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from itsdangerous import URLSafeTimedSerializer
from itsdangerous.encoding import base64_decode
from rq.job import Job, JobStatus

from app import clock
from app.bulk_sql import id_filters, ids_in, insert_many, update_many
from app.models import MailboxMessage, Notification, NState, Stage, StageEvent
from app.notifications import dispatch, links
from app.notifications.backends import OutgoingEmail, SharedBody
from app.notifications.dispatch import queue
from app.notifications.reconcile import reconcile
from app.notifications.send import deliver, take
from app.notifications.sendgrid_backend import SendGridBackend
from app.pipeline import services
from devtools.sendgrid_stub import SendGridStub
from tests import factories as f
from tests.outage import redis_down


def _applications(db, n: int, stage: Stage = Stage.INTERVIEW):
    position = f.position()
    apps = [f.application(position_=position, stage=stage) for _ in range(n)]
    db.session.commit()
    return position, apps


def test_insert_and_update_many_write_every_value(db):
    _, apps = _applications(db, 3)
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    rows = [
        {
            "application_id": a.id,
            "candidate_id": a.candidate_id,
            "kind": "position_cancelled",
            "category": "outcome",
            "state": NState.PENDING.value,
            "idempotency_key": f"test:{a.id}",
            "app_version": 1 + i,
            "reason": None if i == 1 else "budget_cut",  # constant but for one row
            "context": {"n": i, "é": "ü"} if i else {},
            "due_at": now + timedelta(minutes=i),
            "to_email": None,  # the same (NULL) in every row
            "created_at": now,
            "updated_at": now,
        }
        for i, a in enumerate(apps)
    ]
    ids = insert_many(db.session, Notification, rows, returning=Notification.id)
    db.session.commit()
    got = db.session.scalars(
        sa.select(Notification).where(Notification.id.in_(ids)).order_by(Notification.id)
    ).all()
    assert len(got) == 3
    for n, row in zip(got, rows, strict=True):
        for key, value in row.items():
            assert getattr(n, key) == value, key

    update_many(
        db.session,
        Notification.__table__,
        [{"id": n.id, "subject": f"S{n.id}", "body_html": "<p>same</p>"} for n in got[:2]],
        where=[Notification.__table__.c.state == NState.PENDING.value],
        values={"state": NState.SENT.value, "sent_at": now},
    )
    db.session.commit()
    for n in got:
        db.session.refresh(n)
    assert [n.state for n in got] == ["sent", "sent", "pending"]
    assert [n.subject for n in got] == [f"S{got[0].id}", f"S{got[1].id}", None]
    assert got[0].sent_at == now and got[2].sent_at is None

    insert_many(db.session, StageEvent, [])  # nothing to do is fine
    assert insert_many(db.session, StageEvent, [], returning=StageEvent.id) == []


def test_id_filters_select_exactly_the_ids_however_many(db):
    _, apps = _applications(db, 3)
    wanted = [apps[0].id, apps[2].id]
    from app.models import Application

    clause = ids_in(db.session, Application.id, wanted)
    assert sorted(db.session.scalars(sa.select(Application.id).where(clause))) == wanted
    many = [*wanted, *range(10**6, 10**6 + 2000)]  # more than one IN list's worth
    found = []
    for among in id_filters(db.session, Application.id, many):
        found += db.session.scalars(sa.select(Application.id).where(among)).all()
    assert sorted(found) == wanted
    assert list(id_filters(db.session, Application.id, [])) == []


def test_each_id_list_runs_the_same_compiled_statement(db):
    """A worker sends thousands of different id lists: each must not be a new statement in
    SQLAlchemy's compiled cache (they filled it, 500 statements, in a SimpleWorker)."""
    _, apps = _applications(db, 3)
    from app.models import Application

    cache: dict = {}
    found = []
    for wanted in ([apps[0].id], [apps[1].id, apps[2].id], [apps[2].id, 10**6]):
        stmt = sa.select(Application.id).where(ids_in(db.session, Application.id, wanted))
        found.append(sorted(db.session.scalars(stmt, execution_options={"compiled_cache": cache})))
    assert found == [[apps[0].id], [apps[1].id, apps[2].id], [apps[2].id]]
    assert len(cache) == 1


def test_fanout_rows_are_queued_in_jobs_of_one_kind_and_batch_size(app, db):
    app.config.update(SEND_BATCH_SIZE=4, UNDO_WINDOW_SECONDS=0)  # due at once
    position, apps = _applications(db, 10)
    result = services.close_position(position, actor=None, status="cancelled", reason="budget_cut")
    ids = result["notification_ids"]
    assert len(ids) == 10
    rows = db.session.scalars(sa.select(Notification).where(Notification.id.in_(ids))).all()
    assert {n.state for n in rows} == {NState.QUEUED.value}
    assert {n.kind for n in rows} == {"position_cancelled"}
    jobs = {j.id: j for j in Job.fetch_many(queue().get_job_ids(), connection=queue().connection)}
    assert sorted(len(j.args[0]) for j in jobs.values()) == [2, 4, 4]
    for n in rows:  # every row points at the job that carries it
        assert n.id in jobs[n.job_id].args[0]
    assert sorted(i for j in jobs.values() for i in j.args[0]) == sorted(ids)


def test_the_garbage_collector_waits_while_a_position_is_closed(app, db):
    """Closing a position allocates its candidates' rows until the commit, a few hundred
    thousand objects for 10,000: Python's collector scans are paused meanwhile (they found
    nothing to free and were a third of the close, bench/fanout.py), and run again after."""
    app.config.update(UNDO_WINDOW_SECONDS=0)
    position, _ = _applications(db, 200)
    collections, at_commit = [], []

    def seen(phase, info):
        if phase == "start":
            collections.append(info["generation"])

    def committing(session):
        at_commit.append((gc.isenabled(), len(collections)))

    gc.collect()
    gc.callbacks.append(seen)
    sa.event.listen(db.session, "before_commit", committing)
    try:
        services.close_position(position, actor=None, status="cancelled", reason="budget_cut")
        assert gc.isenabled()
    finally:
        sa.event.remove(db.session, "before_commit", committing)
        gc.callbacks.remove(seen)
    # Every row owed and written, with no collection on the way; the collector is on again.
    assert at_commit == [(False, 0)]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Notification)) == 200


def _fanout_jobs(app, db, n: int) -> tuple[list[int], list[Job]]:
    """A position of n cancelled in batches of 4: (notification ids, their send jobs in the
    order they were dispatched)."""
    app.config.update(SEND_BATCH_SIZE=4, UNDO_WINDOW_SECONDS=0)  # due at once
    position, _ = _applications(db, n)
    result = services.close_position(position, actor=None, status="cancelled", reason="budget_cut")
    q = queue()
    jobs = [j for j in Job.fetch_many(q.get_job_ids(), connection=q.connection) if j]
    return result["notification_ids"], sorted(jobs, key=lambda j: j.args[0][0])


def _rows(db, ids) -> list[Notification]:
    db.session.expire_all()
    return db.session.scalars(sa.select(Notification).where(Notification.id.in_(ids))).all()


def test_a_send_job_goes_on_with_the_batches_waiting_in_the_queue(app, db):
    """A fan-out of three batches sent by the first job alone: the two others are taken off
    the queue (no process, no connection of their own) and each batch is sent as its job
    would have sent it."""
    ids, jobs = _fanout_jobs(app, db, 10)
    assert [len(j.args[0]) for j in jobs] == [4, 4, 2]
    counts = deliver(jobs[0].args[0], take_over_seconds=60)
    assert counts["sent"] == counts["claimed"] == 10 and counts["taken_over"] == 2
    assert queue().get_job_ids() == [jobs[0].id]  # run here by hand, not by a worker
    rows = _rows(db, ids)
    assert {n.state for n in rows} == {NState.SENT.value}
    assert {n.attempts for n in rows} == {1}  # claimed once each
    mailed = db.session.scalars(
        sa.select(MailboxMessage.notification_id).where(MailboxMessage.notification_id.in_(ids))
    ).all()
    assert sorted(mailed) == sorted(ids)


def test_a_send_job_without_time_to_spare_leaves_the_waiting_batches_to_their_jobs(app, db):
    ids, jobs = _fanout_jobs(app, db, 10)
    assert deliver(jobs[0].args[0]) == {"claimed": 4, "sent": 4, "failed": 0}
    assert sorted(queue().get_job_ids()) == sorted(j.id for j in jobs)
    later = {n.id: n.state for n in _rows(db, ids) if n.id not in jobs[0].args[0]}
    assert set(later.values()) == {NState.QUEUED.value} and len(later) == 6


def test_a_batch_another_job_has_claimed_is_not_taken_over(app, db):
    ids, jobs = _fanout_jobs(app, db, 10)
    # The second job's worker claimed its rows (and is sending them): they are its own.
    other = take(sa.select(Notification.id).where(Notification.job_id == jobs[1].id), clock.now())
    assert sorted(other) == sorted(jobs[1].args[0])
    counts = deliver(jobs[0].args[0], take_over_seconds=60)
    assert counts["sent"] == 6 and counts["taken_over"] == 1
    states = {n.id: n.state for n in _rows(db, ids)}
    assert {states[i] for i in other} == {NState.SENDING.value}
    assert {s for i, s in states.items() if i not in other} == {NState.SENT.value}
    assert Job.fetch(jobs[1].id, connection=queue().connection)  # left for its worker


def test_fanout_enqueue_lost_to_a_redis_outage_is_reconciled(app, db):
    app.config["UNDO_WINDOW_SECONDS"] = 0
    position, apps = _applications(db, 5)

    with redis_down(app):
        result = services.close_position(
            position, actor=None, status="cancelled", reason="budget_cut"
        )
    ids = result["notification_ids"]
    assert queue().count == 0
    owed = db.session.scalars(sa.select(Notification.state).where(Notification.id.in_(ids)))
    assert set(owed) <= {NState.PENDING.value, NState.QUEUED.value}  # owed, not lost
    later = clock.now() + timedelta(minutes=10)
    with clock.frozen(later):
        reconcile(later)
    jobs = Job.fetch_many(queue().get_job_ids(), connection=queue().connection)
    assert sorted(i for j in jobs for i in j.args[0]) == sorted(ids)


def test_status_tokens_are_what_itsdangerous_would_sign(app, db):
    candidate = f.candidate()
    candidate.token_version = 3
    db.session.commit()
    reference = URLSafeTimedSerializer(
        app.config["SECRET_KEY"], salt=links.STATUS_SALT, signer=links._ClockSigner
    )
    with clock.frozen(clock.now()):
        token = links.status_token(candidate)
        assert token == reference.dumps({"c": candidate.id, "v": 3})
    assert links.read_status_token(token).candidate.id == candidate.id
    assert links.read_unsubscribe_token(links.unsubscribe_token(candidate)).id == candidate.id


@pytest.mark.parametrize(
    ("payload", "by_hand"),
    [
        ({"c": 1}, True),
        ({"c": 0, "v": 1}, True),
        ({"c": 123456, "v": 3}, True),
        ({"c": 1000000, "v": 1}, True),
        ({"c": 1, "version": 2}, True),
        ({"c": -5, "v": 7}, True),
        ({"c": True, "v": 1}, False),  # not a number
        ({"c": "7", "v": 1}, False),
        ({"C": 1}, False),
    ],
)
def test_links_put_together_by_hand_are_the_tokens_itsdangerous_signs(app, payload, by_hand):
    """Status and unsubscribe links skip itsdangerous' general path for whole numbers
    (links._dumps_ints): the token must be the very one it would sign, and read back."""
    reference = URLSafeTimedSerializer(
        app.config["SECRET_KEY"], salt=links.STATUS_SALT, signer=links._ClockSigner
    )
    with app.app_context(), clock.frozen(clock.now()):
        token = links._dumps(links.STATUS_SALT, payload)
        assert token == reference.dumps(payload)
        signer = links._signing(app.config["SECRET_KEY"], links.STATUS_SALT)[1]
        assert links._dumps_ints(signer, payload) == (token if by_hand else None)
    assert reference.loads(token) == payload


@pytest.mark.parametrize("payload", [{"c": 2147483647, "v": 2147483647}, {"c": 10**12, "v": 1}])
def test_a_payload_itsdangerous_would_compress_is_signed_plain_and_still_reads(app, payload):
    """Long runs of repeated digits are the only whole-number payloads itsdangerous
    compresses (a leading "." in its token); ours stay plain, and itsdangerous reads both."""
    reference = URLSafeTimedSerializer(
        app.config["SECRET_KEY"], salt=links.STATUS_SALT, signer=links._ClockSigner
    )
    with app.app_context(), clock.frozen(clock.now()):
        theirs = reference.dumps(payload)
        ours = links._dumps(links.STATUS_SALT, payload)
    assert theirs.startswith(".") and not ours.startswith(".")
    assert reference.loads(ours) == reference.loads(theirs) == payload
    # Its payload is the compact JSON itself, signed as itsdangerous signs.
    assert base64_decode(ours.split(".")[0]) == json.dumps(payload, separators=(",", ":")).encode()


def test_stub_stats_count_duplicates_as_they_come():
    with SendGridStub(api_key="k") as stub:
        backend = SendGridBackend("k", host=stub.url, timeout=5, from_email="a@agency.test")

        def message(nid: int, members=()):
            return OutgoingEmail(
                notification_id=nid,
                to_email=f"c{nid}@example.test",
                to_name="C",
                subject="S",
                text="T",
                html=None,
                category="digest",
                member_ids=tuple(members),
            )

        backend.send_batch([message(1), message(2, members=[3])])
        backend.send_batch([message(1), message(3)])
        # Two staff emails (a manager's digest, a client's decision request): no
        # notification id, so neither is a copy of anything.
        backend.send_batch([replace(message(0), notification_id=None) for _ in range(2)])
        stats, full = stub.stats(per_notification=False), stub.stats()
    assert stats["accepted"] == 6
    assert stats["duplicates"] == full["duplicates"] == 1
    assert stats["covered_duplicates"] == full["covered_duplicates"] == 2  # 1 twice, 3 twice
    assert full["per_notification_covered"] == {"1": 2, "2": 1, "3": 2}
    assert stats["notifications"] == 3


def test_a_shared_layout_is_sent_once_and_each_recipient_gets_their_own_body():
    tags = ("-clXt0-", "-clXh0-")
    shared = SharedBody(key="layout-0", text="Hello -clXt0-!", html="<p>Hello -clXh0-!</p>")
    names = ["Zoë <b>", 'Tom & "Jerry"', "Ann"]
    messages = [
        OutgoingEmail(
            notification_id=i,
            to_email=f"c{i}@example.test",
            to_name=name,
            subject=f"For {name}",
            text=f"Hello {name}!",
            html=f"<p>Hello {name.replace('&', '&amp;').replace('<', '&lt;')}!</p>",
            category="position_cancelled",
            shared=shared,
            fills={
                tags[0]: name,
                tags[1]: name.replace("&", "&amp;").replace("<", "&lt;"),
            },
        )
        for i, name in enumerate(names, start=1)
    ]
    with SendGridStub(api_key="k") as stub:
        backend = SendGridBackend("k", host=stub.url, timeout=5, from_email="a@agency.test")
        backend.send_batch(messages)
        records = {r["notification_id"]: r for r in stub.messages()}
        assert stub.stats()["requests"] == 1
    for m in messages:
        r = records[str(m.notification_id)]
        assert (r["text"], r["html"], r["subject"]) == (m.text, m.html, m.subject)


def test_enqueue_many_keeps_one_job_per_id(app, db):
    batches = [([1, 2], "notify-1-2-x-a0"), ([3], "notify-3-a0"), ([4], "notify-4-a0")]
    assert dispatch.enqueue_sends(batches) == 3
    assert dispatch.enqueue_sends(batches) == 0  # live jobs carry these rows already
    assert queue().count == 3
    Job.fetch("notify-3-a0", connection=queue().connection).set_status(JobStatus.FINISHED)
    assert dispatch.enqueue_sends(batches) == 1  # a finished job is replaced
    job = Job.fetch("notify-3-a0", connection=queue().connection)
    assert job.get_status() == JobStatus.QUEUED and job.args == ([3],)
    assert job.retries_left == dispatch.JOB_RETRY.max


def _plan(db, sql: str, **params) -> str:
    """The plan the database picks for `sql`, as text (sequential scans discouraged on
    PostgreSQL: the test tables are too small for an index to win on cost alone)."""
    if db.engine.dialect.name == "postgresql":
        db.session.execute(sa.text("SET LOCAL enable_seqscan = off"))
        rows = db.session.execute(sa.text("EXPLAIN " + sql), params).scalars()
    else:
        rows = (r[-1] for r in db.session.execute(sa.text("EXPLAIN QUERY PLAN " + sql), params))
    plan = "\n".join(rows)
    db.session.rollback()
    return plan


def test_indexes_on_columns_filled_at_send_time_leave_owed_rows_out_and_still_serve(db):
    # Claiming a fan-out's rows rewrites them: an index that holds a row takes a new entry.
    # Those on columns still NULL until the message is sent or replaced hold only filled
    # rows, and the lookups on them (a provider's id, a window of sends, the self-reference
    # checked when notifications are deleted) still go through them.
    lookups = {
        "ix_notifications_provider_message_id": (
            "SELECT id FROM notifications WHERE provider_message_id = :v",
            {"v": "sg-1"},
        ),
        "ix_notifications_sent_at": (
            "SELECT count(*) FROM notifications WHERE sent_at >= :a AND sent_at < :b",
            {"a": datetime(2026, 11, 1, tzinfo=UTC), "b": datetime(2026, 11, 2, tzinfo=UTC)},
        ),
        "ix_notifications_superseded_by_id": (
            "SELECT id FROM notifications WHERE superseded_by_id = :v",
            {"v": 1},
        ),
    }
    inspector = sa.inspect(db.engine)
    indexes = {i["name"]: i for i in inspector.get_indexes("notifications")}
    for name, (sql, params) in lookups.items():
        column = indexes[name]["column_names"][0]
        where = indexes[name]["dialect_options"].get(f"{db.engine.dialect.name}_where")
        assert " ".join(str(where).replace("(", " ").replace(")", " ").split()) == (
            f"{column} IS NOT NULL"
        ), name
        assert name in _plan(db, sql, **params), name
    if db.engine.dialect.name == "postgresql":
        # The bodies of every email sent are compressed with lz4 (PostgreSQL 14+).
        compression = dict(
            db.session.execute(
                sa.text(
                    "SELECT attname, attcompression FROM pg_attribute WHERE attrelid = "
                    "'notifications'::regclass AND attname IN ('body_text', 'body_html')"
                )
            ).all()
        )
        assert compression == {"body_text": "l", "body_html": "l"}
