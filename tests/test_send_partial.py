"""A send job's requests are independent: one failed request does not hold back the others
(up to a limit), and rows never tried are owed again without being counted as ambiguous.
In-process, against the local SendGrid-compatible server."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app import clock
from app.models import Notification, NState, Stage, Task
from app.notifications.send import MAX_FAILED_REQUESTS, deliver
from app.pipeline import services
from devtools.sendgrid_stub import SendGridStub
from tests import factories as f

MOVES = [
    (Stage.INTERVIEW, Stage.OFFER),
    (Stage.SUBMITTED, Stage.CLIENT_REVIEW),
    (Stage.SOURCED, Stage.SUBMITTED),
]


@pytest.fixture
def stub(app):
    with SendGridStub(api_key="test-key", hold_seconds=5) as s:
        app.config.update(
            EMAIL_BACKEND="sendgrid",
            SENDGRID_API_KEY="test-key",
            SENDGRID_API_HOST=s.url,
            SENDGRID_TIMEOUT_SECONDS=1,
            SEND_BACKOFF_SECONDS=[60, 120],
        )
        yield s


def _owe(db, kinds: int) -> list[int]:
    """One owed message of a different kind per candidate: one request each."""
    ids = []
    for before, after in MOVES[:kinds]:
        a = f.application(stage=before)
        db.session.commit()
        ids.append(services.move_stage(a, after, actor=None).id)
    if kinds > len(MOVES):
        a = f.application(stage=Stage.SUBMITTED)
        db.session.commit()
        held = services.close_position(a.position, actor=None, status="on_hold", reason="budget")
        ids += held["notification_ids"]
    db.session.commit()
    assert len(ids) == kinds
    return ids


def _rows(db, ids) -> dict[int, Notification]:
    db.session.expire_all()
    return {
        n.id: n for n in db.session.scalars(sa.select(Notification).where(Notification.id.in_(ids)))
    }


def _sent_ids(stub) -> set[int]:
    return {int(m["notification_id"]) for m in stub.messages()}


def test_a_server_error_on_one_request_does_not_hold_back_the_others(db, stub):
    ids = _owe(db, 2)
    stub.set_faults(script=[500])  # the first request fails, the second is accepted
    counts = deliver(ids)
    assert counts["sent"] == 1 and counts["claimed"] == 2
    rows = _rows(db, ids)
    (sent,) = _sent_ids(stub)
    (failed,) = set(ids) - {sent}
    assert rows[sent].state == NState.SENT
    assert rows[failed].state == NState.QUEUED and rows[failed].error_kind == "transient"
    assert "(500)" in rows[failed].last_error
    assert rows[failed].due_at > clock.now() + timedelta(seconds=50)  # the backoff
    assert stub.stats()["requests_by_status"] == {"500": 1, "202": 1}


def test_a_rate_limit_stops_the_job_and_holds_the_rest_back_until_the_reset(db, stub):
    ids = _owe(db, 3)
    stub.set_faults(script=[{"status": 429, "reset_in": 600}])
    counts = deliver(ids)
    assert counts["sent"] == 0 and counts["held_back"] == 2
    assert stub.stats()["requests_by_status"] == {"429": 1}  # nothing more was tried
    rows = _rows(db, ids).values()
    assert {n.state for n in rows} == {NState.QUEUED.value}
    assert all(n.due_at >= clock.now() + timedelta(seconds=590) for n in rows)
    held = [n for n in rows if n.last_error.startswith("Not tried")]
    assert len(held) == 2 and all("rate limit" in n.last_error for n in held)


def test_only_the_unanswered_request_counts_as_ambiguous(db, stub):
    ids = _owe(db, 2)
    stub.set_faults(script=["timeout"])  # accepted, then the answer never comes in time
    counts = deliver(ids)
    assert counts["sent"] == 0 and counts["held_back"] == 1
    rows = _rows(db, ids)
    ((attempted, _),) = [(i, n) for i, n in rows.items() if n.error_kind == "ambiguous"]
    (untried,) = set(ids) - {attempted}
    assert rows[attempted].ambiguous_sends == 1
    assert rows[untried].ambiguous_sends == 0 and rows[untried].error_kind == "transient"
    assert _sent_ids(stub) == {attempted}  # the provider did get the first one


def test_a_job_gives_up_after_a_few_failed_requests(db, stub):
    ids = _owe(db, MAX_FAILED_REQUESTS + 1)
    stub.set_faults(script=[500] * MAX_FAILED_REQUESTS)
    counts = deliver(ids)
    assert stub.stats()["requests_by_status"] == {"500": MAX_FAILED_REQUESTS}
    assert counts["sent"] == 0 and counts["held_back"] == 1
    assert {n.state for n in _rows(db, ids).values()} == {NState.QUEUED.value}
    # Retried later, everything goes, once.
    with clock.frozen(clock.now() + timedelta(minutes=15)):
        assert deliver(ids)["sent"] == len(ids)
    assert sorted(_sent_ids(stub)) == sorted(ids)
    assert all(v == 1 for v in stub.stats()["per_notification"].values())


def test_a_rejected_address_fails_alone_and_the_rest_go_in_one_more_request(db, stub):
    position = f.position()
    emails = ["good1@example.test", "not-an-address", "good2@example.test", "good3@example.test"]
    apps = [
        f.application(position_=position, stage=Stage.INTERVIEW, candidate_=f.candidate(email=e))
        for e in emails
    ]
    db.session.commit()
    ids = [services.move_stage(a, Stage.OFFER, actor=None).id for a in apps]
    counts = deliver(ids)
    assert (counts["sent"], counts["failed"]) == (3, 1)
    # SendGrid named the bad personalization: one retry for the other three, not one each.
    assert stub.stats()["requests_by_status"] == {"400": 1, "202": 1}
    rows = _rows(db, ids)
    bad = rows[ids[1]]
    assert bad.state == NState.FAILED and "SendGrid rejected" in bad.last_error
    assert {rows[i].state for i in ids if i != ids[1]} == {NState.SENT.value}
    task = db.session.scalar(sa.select(Task).where(Task.notification_id == bad.id))
    assert task is not None and task.kind == "send_failed"
