"""Idempotency-Key: a replay gets the first answer and nothing is done twice; the same key
with another body is 422; a duplicate sent while the first is still being handled is 409
(two threads, PostgreSQL); keys expire after API_IDEMPOTENCY_HOURS."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app import clock
from app.extensions import db
from app.models import Application, IdempotencyKey, Notification, Stage
from tests import factories
from tests.api_client import Api


@pytest.fixture
def owner(db):
    user = factories.user("recruiter")
    db.session.commit()
    return user


@pytest.fixture
def api(client, owner):
    return Api(client, owner)


def _application(owner) -> Application:
    a = factories.application(position_=factories.position(owner=owner), stage=Stage.SUBMITTED)
    db.session.commit()
    return a


def _owed(application_id: int) -> int:
    db.session.commit()
    return db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Notification)
        .where(Notification.application_id == application_id)
    )


REJECT = {"to_stage": "rejected", "reason": "agency_decision"}


def test_a_retry_gets_the_first_answer_and_the_candidate_one_message(api, owner):
    application = _application(owner)
    url = f"/api/v1/applications/{application.id}/move"
    key = {"Idempotency-Key": "ats-move-1"}
    first = api.post(url, json=REJECT, headers=key)
    assert first.status_code == 200
    assert _owed(application.id) == 1
    again = api.post(url, json=REJECT, headers=key)
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json() and again.headers["ETag"] == first.headers["ETag"]
    assert _owed(application.id) == 1
    # Without the key, the retry is a new request, refused by the rules (already rejected).
    assert api.post(url, json=REJECT).status_code == 409
    assert _owed(application.id) == 1


def test_a_refusal_is_replayed_too(api):
    key = {"Idempotency-Key": "ats-bad-1"}
    first = api.post("/api/v1/clients", json={"name": ""}, headers=key)
    assert first.status_code == 422
    again = api.post("/api/v1/clients", json={"name": ""}, headers=key)
    assert again.status_code == 422 and again.headers["Idempotent-Replayed"] == "true"
    assert again.mimetype == "application/problem+json"


def test_the_same_key_with_another_body_is_422(api):
    key = {"Idempotency-Key": "ats-client-1"}
    assert api.post("/api/v1/clients", json={"name": "Acme"}, headers=key).status_code == 201
    other = api.post("/api/v1/clients", json={"name": "Globex"}, headers=key)
    assert other.status_code == 422
    assert other.get_json()["errors"][0]["field"] == "Idempotency-Key"
    names = api.get("/api/v1/clients").get_json()["data"]
    assert [c["name"] for c in names] == ["Acme"]


def test_keys_are_per_user(api, client, owner):
    colleague = factories.user("recruiter")
    db.session.commit()
    key = {"Idempotency-Key": "shared-name"}
    assert api.post("/api/v1/clients", json={"name": "Acme"}, headers=key).status_code == 201
    theirs = Api(client, colleague).post("/api/v1/clients", json={"name": "Initech"}, headers=key)
    assert theirs.status_code == 201


def test_an_expired_key_acts_again(api, app):
    key = {"Idempotency-Key": "ats-old"}
    assert api.post("/api/v1/clients", json={"name": "Acme"}, headers=key).status_code == 201
    db.session.execute(
        sa.update(IdempotencyKey).values(expires_at=clock.now() - timedelta(seconds=1))
    )
    db.session.commit()
    # Acted on anew: the name is taken now, so the answer is the service's refusal.
    assert api.post("/api/v1/clients", json={"name": "Acme"}, headers=key).status_code == 422
    from app.api.idempotency import purge

    db.session.execute(
        sa.update(IdempotencyKey).values(expires_at=clock.now() - timedelta(seconds=1))
    )
    db.session.commit()
    assert purge() == 1


def test_a_bad_key_is_400(api):
    response = api.post(
        "/api/v1/clients", json={"name": "Acme"}, headers={"Idempotency-Key": "x" * 201}
    )
    assert response.status_code == 400


def test_two_threads_at_once_one_acts_the_other_is_409(app, make_app, owner):
    """The first request claims the key and then waits on the application's row lock (held
    here); the duplicate arrives meanwhile and is told 409. When the lock goes, the first
    finishes, and a later retry gets its answer. One message is owed."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises whole requests: two cannot be in flight at once")
    application = _application(owner)
    first_api = Api(make_app().test_client(), owner)
    second_api = Api(make_app().test_client(), owner, token=first_api.token)
    url = f"/api/v1/applications/{application.id}/move"
    etag = first_api.get(f"/api/v1/applications/{application.id}").headers["ETag"]
    headers = {"Idempotency-Key": "ats-race", "If-Match": etag}
    results = {}
    with db.engine.connect() as blocker:
        blocker.execute(
            sa.select(Application.id).where(Application.id == application.id).with_for_update()
        )

        def first():
            with first_api.client.application.app_context():
                results["first"] = first_api.client.post(
                    url,
                    json=REJECT,
                    headers={"Authorization": f"Bearer {first_api.token}", **headers},
                )

        thread = threading.Thread(target=first)
        thread.start()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # the first has claimed the key
            with db.engine.connect() as look:
                if look.scalar(sa.select(sa.func.count()).select_from(IdempotencyKey)):
                    break
            time.sleep(0.05)
        with second_api.client.application.app_context():
            results["second"] = second_api.client.post(
                url, json=REJECT, headers={"Authorization": f"Bearer {second_api.token}", **headers}
            )
        blocker.rollback()
    thread.join(timeout=30)
    assert results["second"].status_code == 409
    assert results["second"].headers["Retry-After"] == "1"
    assert results["first"].status_code == 200
    replay = second_api.post(url, json=REJECT, headers=headers)
    assert replay.status_code == 200 and replay.headers["Idempotent-Replayed"] == "true"
    assert _owed(application.id) == 1
