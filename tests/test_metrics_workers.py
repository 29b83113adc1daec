"""Metrics and request ids with real parts: RQ fork workers (each job in a work horse), the
local SendGrid-compatible server, JSON logs. The web's /metrics adds up what the worker's
processes counted (prometheus-client's multiprocess mode), the worker serves the same
counters itself, and one request id leads from the click to SendGrid's X-Message-Id."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request

import pytest
import sqlalchemy as sa

from app.models import Notification, NState, Stage
from app.pipeline import services
from devtools.sendgrid_stub import SendGridStub
from tests import factories as f
from tests.metrics_text import AUTH, TOKEN, Scrape, scrape
from tests.processes import Proc, stop_all, wait_until
from tests.web import Web, sign_in

pytestmark = pytest.mark.workers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def stub():
    with SendGridStub(api_key="test-key") as s:
        yield s


@pytest.fixture
def multiproc_dir(tmp_path):
    path = tmp_path / "prometheus"
    path.mkdir()
    return path


@pytest.fixture
def worker(tmp_path, worker_env, stub, multiproc_dir):
    started: list[Proc] = []

    def start(**env) -> Proc:
        p = Proc(
            ["-m", "workers", "worker"],
            {
                **worker_env,
                "EMAIL_BACKEND": "sendgrid",
                "SENDGRID_API_KEY": "test-key",
                "SENDGRID_API_HOST": stub.url,
                "PROMETHEUS_MULTIPROC_DIR": str(multiproc_dir),
                **env,
            },
            tmp_path / f"worker-{len(started)}.log",
        )
        started.append(p)
        return p

    yield start
    stop_all(started)
    for p in started:
        print(f"--- {p.log_path.name} ---\n{p.output()[-4000:]}")


@pytest.fixture
def scraper(make_app, multiproc_dir):
    return make_app(METRICS_TOKEN=TOKEN, PROMETHEUS_MULTIPROC_DIR=str(multiproc_dir)).test_client()


def _sent(db, ids) -> bool:
    db.session.expire_all()
    states = set(db.session.scalars(sa.select(Notification.state).where(Notification.id.in_(ids))))
    db.session.commit()  # never hold SQLite's write lock while the worker runs
    return states == {NState.SENT.value}


def _owe(db, n: int) -> list[int]:
    position = f.position()
    apps = [f.application(position_=position, stage=Stage.INTERVIEW) for _ in range(n)]
    db.session.commit()
    ids = [services.move_stage(a, Stage.OFFER, actor=None).id for a in apps]
    db.session.commit()
    return ids


def test_a_real_send_moves_the_counters_on_the_web_and_on_the_worker(
    app, db, stub, worker, scraper, multiproc_dir
):
    # Nothing has counted yet: no process has written a file.
    assert scrape(scraper).value("closeloop_sends_total", 0, outcome="accepted") == 0
    port = free_port()
    worker(METRICS_PORT=str(port), METRICS_TOKEN=TOKEN)
    # Three changes, three jobs, each run by its own work horse.
    for _ in range(3):
        ids = _owe(db, 1)
        wait_until(lambda ids=ids: _sent(db, ids), message="sent")

    after = scrape(scraper)
    assert after.value("closeloop_sends_total", outcome="accepted") == 3
    assert after.value("closeloop_sends_total", outcome="transient") == 0
    assert after.value("closeloop_sendgrid_request_duration_seconds_count") == 3
    assert after.value("closeloop_sendgrid_request_duration_seconds_sum") > 0
    assert after.value("closeloop_notifications_open", 0, state="queued", kind="offer") == 0
    assert after.value("closeloop_rq_workers", queue="notifications") == 1
    assert stub.stats()["requests_by_status"] == {"202": 3}

    # The worker's own server: the same counters, and only with the token.
    url = f"http://127.0.0.1:{port}/metrics"
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(url, timeout=5)  # noqa: S310 - our own local server
    assert refused.value.code == 401
    refused.value.close()
    request = urllib.request.Request(url, headers=AUTH)  # noqa: S310
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
        own = Scrape(response.read().decode())
    assert own.value("closeloop_sends_total", outcome="accepted") == 3
    assert "closeloop_notifications_open" not in own.names()  # state gauges: the web's

    # Three horses, yet one file of counters for all of them beside the worker's own.
    counter_files = sorted(p.name for p in multiproc_dir.glob("counter_*.db"))
    assert len(counter_files) == 2 and counter_files[1].endswith("_horse.db"), counter_files


def test_a_failed_send_is_counted_by_its_outcome(app, db, stub, worker, scraper):
    stub.set_faults(script=[500])  # the first request fails, the retry is accepted
    worker(SEND_BACKOFF_SECONDS="0.5")
    ids = _owe(db, 1)
    wait_until(lambda: _sent(db, ids), message="sent after the retry")
    got = scrape(scraper)
    assert got.value("closeloop_sends_total", outcome="transient") == 1
    assert got.value("closeloop_sends_total", outcome="accepted") == 1


def test_a_request_id_follows_the_click_into_the_row_the_job_and_the_provider_id(
    app, db, stub, worker, make_app
):
    me = f.user(name="Rita Recruiter")
    candidate = f.candidate(name="Nina North", email="nina.north@example.org")
    a = f.application(position_=f.position(owner=me), candidate_=candidate)
    web = Web(make_app().test_client())
    sign_in(web, me)
    request_id = "lb-7f3a9c2e-41d0"
    response = web.post(
        f"/applications/{a.id}/move?to=client_review",
        data={"confirm": "1"},
        headers={"X-Request-ID": request_id},
    )
    assert response.status_code == 302
    assert response.headers["X-Request-ID"] == request_id
    db.session.expire_all()
    n = db.session.scalar(sa.select(Notification).where(Notification.application_id == a.id))
    assert n.request_id == request_id
    db.session.commit()

    p = worker(LOG_FORMAT="json")
    wait_until(lambda: _sent(db, [n.id]), message="sent")
    db.session.expire_all()
    provider_id = db.session.get(Notification, n.id).provider_message_id
    db.session.commit()
    assert provider_id

    wait_until(lambda: provider_id in p.output(), timeout=10, message="the send logged")
    lines = [json.loads(line) for line in p.output().splitlines() if line.startswith("{")]
    ours = [entry for entry in lines if entry["request_id"] == request_id]
    sent = [entry for entry in ours if provider_id in entry["message"]]
    assert sent, "\n".join(json.dumps(e) for e in lines[-20:])
    assert str(n.id) in sent[0]["message"] and sent[0]["component"] == "worker"
    assert "n***@example.org" in sent[0]["message"]
    # The address itself never reaches the log.
    assert "nina.north@example.org" not in p.output()
