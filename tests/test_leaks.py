"""What a page must not give away (issue 12, item 8): another recruiter's candidates by name
(the import preview, the fix-an-address form), and, on the public "email me a new link"
form, whether an address is on file (by what it answers, or by how long it takes)."""

from __future__ import annotations

import io

import pytest
import sqlalchemy as sa
from rq import Queue

from app.models import CandidateAction, Notification, NState
from app.notifications import outbox
from app.notifications.dispatch import NOTIFICATIONS_QUEUE
from app.redis_conn import get_redis
from tests import factories as f
from tests.processes import Proc, wait_until
from tests.web import Web, sign_in

HIDDEN = "Hidden Harriet"


@pytest.fixture
def web(app, make_app):
    return Web(make_app().test_client())


@pytest.fixture
def riley(db):
    return f.user(name="Riley Recruiter")


@pytest.fixture
def hidden(db):
    """Another recruiter's candidate, in another recruiter's position."""
    sofia = f.user(name="Sofia Other")
    c = f.candidate(name=HIDDEN, email="harriet@example.com")
    c.owner_id = sofia.id
    f.application(position_=f.position(owner=sofia), candidate_=c)
    return c


def _upload(web, body: str, target=""):
    return web.post(
        "/imports/new",
        data={"file": (io.BytesIO(body.encode()), "people.csv"), "target": str(target)},
        follow_redirects=True,
    )


def test_the_import_preview_does_not_name_a_candidate_the_recruiter_cannot_see(web, riley, hidden):
    sign_in(web, riley)
    page = _upload(web, "name,email\nH. Smith,harriet@example.com\n").get_data(as_text=True)
    assert HIDDEN not in page
    assert "Already a candidate (same email)" in page and "cannot see" in page


def test_attaching_someone_elses_candidate_to_a_position_does_not_name_them(web, riley, hidden):
    sign_in(web, riley)
    mine = f.position(owner=riley)
    page = _upload(web, "name,email\nH. Smith,harriet@example.com\n", target=mine.id)
    text = page.get_data(as_text=True)
    assert HIDDEN not in text
    assert "will be added to the position" in text and "cannot see" in text


def test_a_manager_sees_and_may_open_the_existing_candidate(web, hidden):
    sign_in(web, f.user("manager"))
    page = _upload(web, "name,email\nH. Smith,harriet@example.com\n").get_data(as_text=True)
    assert HIDDEN in page and f'href="/candidates/{hidden.id}"' in page


def test_correcting_a_bounced_address_to_someone_elses_does_not_name_them(db, web, riley, hidden):
    mine = f.candidate(name="Mine Bounced", email="wrong@example.com")
    mine.owner_id = riley.id
    application = f.application(position_=f.position(owner=riley), candidate_=mine)
    bounced = outbox.owe(application, "submitted")
    bounced.state = NState.BOUNCED.value
    task = outbox.open_task(
        kind="undeliverable",
        title="Email bounced",
        dedupe_key=outbox.undeliverable_task_key(bounced.id),
        candidate_id=mine.id,
        application_id=application.id,
        notification_id=bounced.id,
        assignee_id=riley.id,
    )
    db.session.commit()
    sign_in(web, riley)
    response = web.post(f"/queue/tasks/{task.id}/retry", data={"email": "harriet@example.com"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert HIDDEN not in page and "cannot see" in page


# -- "email me a new link" --------------------------------------------------------------------


def _jobs() -> list:
    queue = Queue(NOTIFICATIONS_QUEUE, connection=get_redis())
    return [(job.func_name, job.args) for job in queue.get_jobs()]


def _count(db, model) -> int:
    db.session.commit()
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def test_a_link_request_is_answered_alike_and_queued_alike_for_known_and_unknown_addresses(
    db, web, hidden
):
    """The work (finding the candidate, owing the email) happens in a job: the answer, and
    how long it takes, no longer depend on whether the address is on file."""
    before = (_count(db, Notification), _count(db, CandidateAction))
    known = web.post("/status/link", data={"email": "Harriet@Example.com"})
    unknown = web.post("/status/link", data={"email": "nobody@example.com"})
    assert known.status_code == unknown.status_code == 200
    assert known.get_data() == unknown.get_data()
    # The request itself looked nothing up and wrote nothing: one job each, same shape.
    assert (_count(db, Notification), _count(db, CandidateAction)) == before
    assert _jobs() == [
        ("workers.jobs.send_status_link", ("Harriet@Example.com",)),
        ("workers.jobs.send_status_link", ("nobody@example.com",)),
    ]


@pytest.mark.workers
def test_a_worker_sends_the_link_only_to_an_address_on_file(db, web, hidden, tmp_path, worker_env):
    web.post("/status/link", data={"email": "harriet@example.com"})
    web.post("/status/link", data={"email": "nobody@example.com"})
    db.session.commit()  # on SQLite an open transaction here would lock the worker out
    args = ["-m", "workers", "worker", "--burst", "--simple"]
    worker = Proc(args, worker_env, tmp_path / "w.log")
    try:
        wait_until(lambda: not worker.alive(), timeout=60, message="burst worker to finish")
    finally:
        worker.stop()
        print(worker.output()[-3000:])
    db.session.expire_all()
    owed = db.session.scalars(sa.select(Notification).where(Notification.kind == "status_link"))
    assert [n.candidate_id for n in owed] == [hidden.id]
