"""/metrics in one process: who may read it, and the gauges it reads from the database and
Redis at scrape time (the counters of real worker processes: test_metrics_workers.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from rq import Queue

from app import clock
from app.models import Notification, OutcomeReason, Stage
from app.notifications.reconcile import reconcile
from app.notifications.send import pause_sending, resume_sending
from app.pipeline import services
from app.reports import overdue
from tests import factories as f
from tests.metrics_text import AUTH, TOKEN, scrape
from tests.outage import redis_down


@pytest.fixture
def metrics_app(make_app):
    return make_app(METRICS_TOKEN=TOKEN)


@pytest.fixture
def scraper(metrics_app):
    return metrics_app.test_client()


def test_metrics_are_off_without_a_token(client):
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers=AUTH).status_code == 404


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}, {"Authorization": "Basic x"}],
)
def test_metrics_need_the_bearer_token(scraper, headers):
    response = scraper.get("/metrics", headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "closeloop_" not in response.get_data(as_text=True)


def _owe_some(db):
    """Two rejections (outcome messages, held for the undo window) and one status update
    (due now, handed to the queue)."""
    position = f.position()
    rejected = [f.application(position_=position) for _ in range(2)]
    moving = f.application(position_=position)
    db.session.commit()
    for a in rejected:
        services.move_stage(a, Stage.REJECTED, actor=None, reason=OutcomeReason.AGENCY_DECISION)
    services.move_stage(moving, Stage.CLIENT_REVIEW, actor=None)
    rows = db.session.execute(sa.select(Notification.state, Notification.kind)).all()
    db.session.commit()
    return rows


def test_the_outbox_by_state_and_kind_and_what_is_past_its_sla(app, db, scraper):
    before = scrape(scraper)
    assert before.value("closeloop_notifications_owed_past_sla") == 0
    assert before.value("closeloop_notifications_oldest_owed_age_seconds") == 0
    rows = _owe_some(db)
    assert sorted(state for state, _ in rows) == ["pending", "pending", "queued"]

    now = scrape(scraper)
    for state, kind in set(rows):
        expected = sum(1 for r in rows if r == (state, kind))
        assert now.value("closeloop_notifications_open", state=state, kind=kind) == expected
    assert now.value("closeloop_notifications_owed_past_sla") == 0
    assert now.value("closeloop_rq_jobs", queue="notifications", status="queued") == 1

    sla = app.config["NOTIFICATION_SLA_SECONDS"]
    with clock.frozen(clock.now() + timedelta(seconds=sla + 3600)):
        late = scrape(scraper)
    assert late.value("closeloop_notifications_owed_past_sla") == 3
    assert late.value("closeloop_notifications_oldest_owed_age_seconds") >= sla + 3600
    # The rejections were due after the undo window; the status update at once.
    assert late.value("closeloop_notifications_oldest_due_wait_seconds") >= sla + 3600 - 5


def test_queue_depth_and_the_age_of_the_oldest_job(app, scraper):
    from app.redis_conn import get_redis

    q = Queue("maintenance", connection=get_redis())
    for _ in range(3):
        q.enqueue("workers.jobs.reconcile")
    got = scrape(scraper)
    assert got.value("closeloop_rq_jobs", queue="maintenance", status="queued") == 3
    assert got.value("closeloop_rq_jobs", queue="notifications", status="queued") == 0
    assert got.value("closeloop_rq_oldest_queued_job_age_seconds", queue="maintenance") >= 0
    assert got.value("closeloop_rq_oldest_queued_job_age_seconds", queue="notifications") == 0
    # No worker runs in this test: the alert "no live worker" would fire.
    assert got.value("closeloop_rq_workers", queue="notifications") == 0


def test_reconciler_runs_and_repairs(app, db, scraper):
    assert scrape(scraper).value("closeloop_reconciler_last_success_timestamp_seconds") == 0
    a = f.application(stage=Stage.REJECTED)
    a.outcome_reason = OutcomeReason.AGENCY_DECISION  # terminal without a message: a repair
    db.session.commit()
    started = clock.now().timestamp()
    counts = reconcile()
    assert counts["repaired"] == 1
    got = scrape(scraper)
    assert got.value("closeloop_reconciler_last_success_timestamp_seconds") >= started
    assert got.value("closeloop_reconciler_last_run_failed") == 0
    assert got.value("closeloop_reconciler_repairs_last_hour", action="repaired") == 1


def test_sending_paused_by_a_configuration_error(app, scraper):
    assert scrape(scraper).value("closeloop_sending_paused") == 0
    pause_sending("SendGrid rejected our API key (401)")
    assert scrape(scraper).value("closeloop_sending_paused") == 1
    resume_sending()
    assert scrape(scraper).value("closeloop_sending_paused") == 0


def test_overdue_items_by_reason_from_the_last_refresh(app, db, scraper):
    _owe_some(db)
    assert scrape(scraper).value("closeloop_overdue_refreshed_timestamp_seconds") == 0
    with clock.frozen(clock.now() + timedelta(days=7)):
        overdue.refresh()
        got = scrape(scraper)
    # Every owed message is long past the report's SLA: three applications owed_unsent.
    assert got.value("closeloop_overdue_items", reason="owed_unsent") == 3
    assert got.value("closeloop_overdue_items", reason="silent") == 0
    assert got.value("closeloop_overdue_refreshed_timestamp_seconds") > 0


def test_a_source_that_is_down_is_reported_and_the_rest_still_answers(
    app, db, scraper, metrics_app
):
    _owe_some(db)
    with redis_down(metrics_app):
        got = scrape(scraper)
    assert got.value("closeloop_state_source_up", source="redis") == 0
    assert got.value("closeloop_state_source_up", source="database") == 1
    assert got.value("closeloop_notifications_open", state="queued", kind="client_review") == 1
    assert "closeloop_rq_jobs" not in got.names()


def test_webhook_refusals_are_counted_by_reason(app, make_app):
    hooked = make_app(METRICS_TOKEN=TOKEN, SENDGRID_WEBHOOK_PUBLIC_KEY="")
    web = hooked.test_client()
    before = scrape(web)
    for _ in range(2):
        assert web.post("/webhooks/sendgrid", data=b"[]").status_code == 503
    after = scrape(web)
    got = after.value("closeloop_webhook_refusals_total", reason="not_configured")
    assert got - before.value("closeloop_webhook_refusals_total", reason="not_configured") == 2
