"""The app the RQ workers build (`create_app(worker=True)`, issue 18): without the REST API's
operations, the RQ dashboard, Flask-Migrate and the holidays of every other country, and
still rendering and sending every kind of message in every shipped language, with its
status and unsubscribe links, from a real worker process of each kind we ship."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
import sqlalchemy as sa

from app import clock, languages
from app.models import Notification, NState, Stage
from app.notifications import outbox
from app.notifications.kinds import KINDS
from app.notifications.render import render
from tests import factories as f
from tests.processes import ROOT, wait_until
from tests.test_candidate_messages import CONTEXT, REASONS
from tests.test_workers import env, procs, stub  # noqa: F401 - fixtures

# Imported by the web app (or by a page) and never by a job.
LEFT_OUT = (
    "pydantic",
    "app.api.spec",
    "app.api.routes",
    "flask_migrate",
    "alembic",
    "mako",
    "pygments",
    "rq_dashboard",
    "pygal",
    "holidays.countries",  # the package: it imports all ~250 countries
    "holidays.countries.united_states",
)

PROBE = """
import json, sys
from workers.__main__ import warm_up
from workers.context import get_app
from app.notifications.links import external_url

app = get_app()
with app.app_context():
    warm_up(app)
    # Run as the periodic jobs do: the idempotency purge lives in app.api.
    from app.api.idempotency import purge
    purge()
    links = [external_url("status.page", token="t.1"), external_url("decisions.page", token="d")]
print(json.dumps({"modules": sorted(sys.modules), "links": links}))
"""


def test_the_worker_app_leaves_out_what_only_pages_and_migrations_use(db, worker_env):
    out = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env={**worker_env, "PUBLIC_BASE_URL": "https://jobs.example.test/agency"},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    probe = json.loads(out.stdout.splitlines()[-1])
    modules = set(probe["modules"])
    assert [m for m in LEFT_OUT if m in modules] == []
    # What a job does need was loaded by the warm-up (the fork worker's horses inherit it).
    assert {"app.notifications.send", "app.notifications.sendgrid_backend", "holidays"} <= modules
    assert probe["links"] == [
        "https://jobs.example.test/agency/status/t.1",
        "https://jobs.example.test/agency/decide/d",
    ]


def test_the_web_app_still_serves_the_api_and_the_migrations(app, client):
    assert client.get("/api/openapi.json").status_code == 200
    assert "migrate" in app.extensions
    assert "rq_dashboard.queues_overview" in app.view_functions


def _owe_every_kind_in_every_language(db) -> dict[int, tuple[str, str]]:
    position = f.position(title="Night nurse")
    owed = {}
    for lang in languages.SHIPPED:
        for kind in sorted(KINDS):
            candidate = f.candidate(name=f"Ana {lang} {kind}")
            candidate.language = lang
            a = f.application(position_=position, candidate_=candidate, stage=Stage.INTERVIEW)
            db.session.flush()
            context = CONTEXT.get(kind, lambda now: {})(clock.now())
            n = outbox.owe(a, kind, reason=REASONS.get(kind), context=context)
            owed[n.id] = (kind, lang)
    db.session.commit()  # dispatched at the commit: one send job each
    return owed


def _sent(db, ids) -> bool:
    db.session.expire_all()
    states = db.session.scalars(sa.select(Notification.state).where(Notification.id.in_(ids)))
    done = set(states) == {NState.SENT.value}
    db.session.commit()
    return done


_URL = re.compile(r"https?://[^\s\"<>)]+")


@pytest.mark.app_config(UNDO_WINDOW_SECONDS=0)  # rejections and closures due at once too
@pytest.mark.parametrize("simple", [False, True], ids=["fork", "simple"])
def test_a_worker_sends_every_kind_in_every_language(db, stub, procs, simple):  # noqa: F811
    owed = _owe_every_kind_in_every_language(db)
    procs("worker", *(["--simple"] if simple else []))
    wait_until(lambda: _sent(db, list(owed)), timeout=120, message="every kind sent")
    assert stub.stats()["per_notification"] == {str(i): 1 for i in owed}
    seen = set()
    for record in stub.messages():
        n = db.session.get(Notification, int(record["notification_id"]))
        kind, lang = owed[n.id]
        seen.add((kind, lang))
        # The worker wrote what the full web app renders, in the candidate's language.
        expected = render(n)
        assert record["subject"] == expected.subject, (kind, lang)
        assert _URL.sub("<url>", record["text"]) == _URL.sub("<url>", expected.text), (kind, lang)
        links = _URL.findall(record["text"])
        assert any("/status/" in u for u in links), (kind, lang)
        assert all(u in record["html"] for u in links if "/status/" in u)
        if KINDS[kind].category == "optional":
            assert "/status/unsubscribe/" in record["headers"]["List-Unsubscribe"]
    assert seen == {(kind, lang) for kind in KINDS for lang in languages.SHIPPED}


@pytest.mark.parametrize("simple", [False, True], ids=["fork", "simple"])
def test_a_worker_delivers_a_signed_webhook(db, procs, simple):  # noqa: F811
    from app.models import WebhookDelivery
    from app.outbound import services as outbound
    from app.outbound import signing
    from tests.test_outbound_webhooks import Receiver, _endpoint, _move

    receiver = Receiver()
    try:
        endpoint = _endpoint(receiver.url)
        application_id = _move()
        assert outbound.sweep() == {"collected": 1, "enqueued": 1}  # a deliver_webhook job
        db.session.commit()
        procs("worker", *(["--simple"] if simple else []))
        wait_until(lambda: receiver.received, timeout=60, message="the webhook delivered")
    finally:
        receiver.close()
    headers, body, status = receiver.received[0]
    assert status == 204
    assert signing.verify(endpoint.secret, headers, body, now=int(headers["webhook-timestamp"]))
    assert json.loads(body)["data"]["application_id"] == application_id

    def recorded() -> bool:
        state = db.session.scalar(sa.select(WebhookDelivery.state))
        db.session.commit()  # the next look sees the worker's commit
        return state == "delivered"

    wait_until(recorded, message="the delivery recorded")
