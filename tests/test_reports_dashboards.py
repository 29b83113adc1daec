"""Business days, the SLA / promises / delivery / engine dashboards, and rq-dashboard for admins."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from rq import Queue

from app import clock
from app.extensions import db
from app.models import Notification, NState, OutcomeReason, ReconcilerRun, Stage
from app.notifications.events import apply_events
from app.notifications.send import deliver
from app.pipeline import services
from app.redis_conn import get_redis
from app.reports import dashboards, overdue
from tests import factories as f
from tests.web import Web

PASSWORD = "correct horse"
LONDON = ZoneInfo("Europe/London")


@pytest.fixture
def web(app, make_app):
    return Web(make_app().test_client())


def sign_in(web, role: str):
    user = f.user(role, password=PASSWORD)
    web.post("/login", data={"email": user.email, "password": PASSWORD})
    return user


# -- business days (the calendar itself: tests/test_business_days.py) ---------------------


def test_silence_counts_business_days_only(app, make_app):
    with clock.frozen(datetime(2026, 11, 9, 12, 30, tzinfo=UTC)) as clk:
        f.application(stage=Stage.SUBMITTED)  # created Monday 9 November, 12:30
        db.session.commit()
        clk.current = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)  # 6.99 business days later
        assert overdue.refresh()["items"] == 0
        clk.current = datetime(2026, 11, 18, 12, 31, tzinfo=UTC)
        assert overdue.refresh()["items"] == 1
    closed = make_app(EXTRA_HOLIDAYS="2026-11-17")  # a closure in between: not silent yet
    with closed.app_context(), clock.frozen(datetime(2026, 11, 18, 12, 31, tzinfo=UTC)):
        assert overdue.refresh()["items"] == 0
        db.session.remove()


# -- SLA and promises -----------------------------------------------------------------------


def _outcome(owned_at: datetime, sent_after: timedelta | None, *, position=None):
    with clock.frozen(owned_at) as clk:
        a = f.application(stage=Stage.INTERVIEW, position_=position)
        db.session.commit()
        n = services.move_stage(a, Stage.HIRED, actor=None, reason=OutcomeReason.HIRED)
        if sent_after is not None:
            clk.current = owned_at + sent_after
            deliver([n.id])
    return n


def test_sla_report_median_p95_and_share(app):
    monday = datetime(2026, 11, 16, 9, tzinfo=UTC)
    riley = f.user("recruiter", name="Riley")
    mine = f.position(owner=riley, client_=f.client("Northwind"))
    for hours in (1, 2, 3, 4, 30):
        _outcome(monday, timedelta(hours=hours), position=mine)
    _outcome(monday, None)  # never sent, and its business day is over: told late
    _outcome(monday + timedelta(days=2, hours=8), None)  # owed an hour ago: not due yet
    now = monday + timedelta(days=2, hours=9)
    with clock.frozen(now):
        report = dashboards.sla_report(4)
    overall = report.overall
    assert overall.count == 5
    assert overall.median == pytest.approx(3.0)
    assert overall.p95 == pytest.approx(30.0)
    assert (overall.told_in_sla, overall.due) == (4, 6)
    week = dict(report.weeks)[date(2026, 11, 16)]
    assert week.count == 5
    by_owner = dict(report.by_owner)
    assert by_owner["Riley"].count == 5 and by_owner["Riley"].told_in_sla == 4
    assert "Northwind" in dict(report.by_client)
    with clock.frozen(now):
        narrowed = dashboards.sla_report(4, owner_id=riley.id)
    assert narrowed.overall.due == 5


def test_percentile_is_nearest_rank():
    assert dashboards.percentile([], 0.5) is None
    assert dashboards.percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.0
    assert dashboards.percentile(list(range(1, 101)), 0.95) == 95


def test_promises_kept(app):
    with clock.frozen(datetime(2026, 11, 9, 9, tzinfo=UTC)) as clk:
        apps = [f.application(stage=Stage.CLIENT_REVIEW) for _ in range(3)]
        db.session.commit()
        for a in apps:
            n = services.record_interview(
                a,
                actor=None,
                interview_at=datetime(2026, 11, 10, 10, tzinfo=UTC),
                interviewers="Ada",
                promised_response_at=datetime(2026, 11, 12, 10, tzinfo=UTC),
                client_contact="Ada",
                next_step="Wait",
            )
            deliver([n.id])
        clk.current = datetime(2026, 11, 11, 9, tzinfo=UTC)
        services.move_stage(apps[0], Stage.OFFER, actor=None)  # decided in time
        services.move_stage(
            apps[1], Stage.REJECTED, actor=None, reason=OutcomeReason.CLIENT_DECLINED
        )
        clk.current = datetime(2026, 11, 12, 11, tzinfo=UTC)
        services.sweep_promised_dates(clk.current)  # the third one was missed
        clk.current = datetime(2026, 11, 18, 12, tzinfo=UTC)
        result = dashboards.promises_kept(4)
    assert (result.made, result.kept) == (3, 2)
    assert result.share == pytest.approx(2 / 3)


# -- delivery -------------------------------------------------------------------------------


def test_delivery_per_day_and_bounce_reasons(app):
    day = datetime(2026, 11, 17, 10, tzinfo=UTC)
    sent = [_outcome(day, timedelta(hours=1)) for _ in range(3)]
    failing = f.candidate(email=None)
    a = f.application(stage=Stage.INTERVIEW, candidate_=failing)
    db.session.commit()
    with clock.frozen(day) as clk:
        n = services.move_stage(a, Stage.HIRED, actor=None, reason=OutcomeReason.HIRED)
        clk.current = day + timedelta(hours=2)
        deliver([n.id])  # no address: failed
        events = [
            {"event": "delivered", "notification_id": str(sent[0].id)},
            {
                "event": "bounce",
                "type": "bounce",
                "notification_id": str(sent[1].id),
                "reason": "550 mailbox unavailable",
            },  # fmt: skip
            {"event": "dropped", "notification_id": str(sent[2].id), "reason": "Bounced Address"},
        ]
        for e in events:
            e.update(sg_event_id=uuid.uuid4().hex, timestamp=int(clk.current.timestamp()))
        apply_events(events)
        clk.current = datetime(2026, 11, 18, 12, tzinfo=UTC)
        table = dict(dashboards.delivery_per_day(7))
        reasons = dashboards.top_bounce_reasons(7)
    assert table[date(2026, 11, 17)] == {
        "sent": 3,
        "delivered": 1,
        "bounced": 1,
        "dropped": 1,
        "failed": 1,
    }
    assert table[date(2026, 11, 18)] == dict.fromkeys(table[date(2026, 11, 18)], 0)
    assert len(table) == 7
    assert {(e, r, n) for e, r, n in reasons} == {
        ("bounce", "550 mailbox unavailable", 1),
        ("dropped", "Bounced Address", 1),
    }


# -- engine ---------------------------------------------------------------------------------


def test_engine_health_reads_the_real_queues(app):
    q = Queue("notifications", connection=get_redis())
    q.enqueue("workers.jobs.send_notifications", [1], job_id="test-depth")
    db.session.add(
        ReconcilerRun(
            holder="host:1",
            started_at=clock.now(),
            finished_at=clock.now(),
            repaired=2,
            reclaimed=1,
        )
    )
    db.session.commit()
    health = dashboards.engine_health()
    depth = {queue["name"]: queue["depth"] for queue in health.queues}
    assert depth == {"notifications": 1, "maintenance": 0}
    assert health.redis_error is None
    assert health.workers == []
    assert health.runs[0].repaired == 2


def test_engine_page_reports_an_unreachable_redis(make_app, web):
    broken = Web(make_app(REDIS_URL="redis://127.0.0.1:1/0").test_client())
    sign_in(broken, "manager")
    page = broken.get("/reports/engine").get_data(as_text=True)
    assert 'data-testid="redis-error"' in page


def test_dashboard_pages_render_with_their_tables(web):
    _outcome(clock.now() - timedelta(hours=3), timedelta(hours=1))
    sign_in(web, "admin")
    for path, marks in (
        ("/reports/sla", ("weekly-latency", "weekly-promises", "sla-recruiters", "<svg")),
        ("/reports/delivery", ("delivery-table", "bounce-reasons", "<svg")),
        ("/reports/engine", ("queues", "workers", "reconciler-runs", "rq-link")),
        ("/reports/overdue", ("trend-table", "counts-recruiter", "<svg")),
    ):
        response = web.get(path)
        page = response.get_data(as_text=True)
        assert response.status_code == 200, path
        for mark in marks:
            assert mark in page, (path, mark)
        main = page.split("<main", 1)[1].split("</main>", 1)[0]
        assert "<script" not in main  # the charts are plain SVG: no script, nothing fetched
        assert 'href="http' not in main and 'src="http' not in main and "<!--" not in main


def test_managers_do_not_get_the_rq_link_but_see_reports_in_the_menu(web):
    sign_in(web, "manager")
    page = web.get("/reports/engine").get_data(as_text=True)
    assert 'data-testid="rq-link"' not in page
    assert 'href="/reports/overdue"' in page  # the navbar link


def test_recruiters_have_no_reports_menu(web):
    sign_in(web, "recruiter")
    assert 'href="/reports/overdue"' not in web.get("/").get_data(as_text=True)


# -- rq-dashboard ---------------------------------------------------------------------------


def test_rq_dashboard_is_for_admins_only(web):
    sign_in(web, "manager")
    assert web.get("/admin/rq/").status_code == 403
    assert web.get("/admin/rq/0/data/queues.json").status_code == 403


def test_rq_dashboard_uses_our_redis(web):
    Queue("notifications", connection=get_redis()).enqueue(
        "workers.jobs.send_notifications", [7], job_id="visible-job"
    )
    sign_in(web, "admin")
    page = web.get("/admin/rq/")
    assert page.status_code == 200 and "RQ dashboard" in page.get_data(as_text=True)
    queues = web.get("/admin/rq/0/data/queues.json").get_json()["queues"]
    assert {q["name"]: q["count"] for q in queues}["notifications"] == 1
    job = web.get("/admin/rq/0/data/job/visible-job.json").get_json()
    assert job["id"] == "visible-job"
    assert web.get("/admin/rq/1/view").status_code == 404  # no other Redis to pick


def test_rq_dashboard_actions_need_the_csrf_token(app, make_app):
    web = Web(make_app(WTF_CSRF_ENABLED=True).test_client())
    q = Queue("notifications", connection=get_redis())
    q.enqueue("workers.jobs.send_notifications", [8], job_id="to-delete")
    admin = f.user("admin", password=PASSWORD)
    page = web.get("/login").get_data(as_text=True)
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    web.post("/login", data={"email": admin.email, "password": PASSWORD, "csrf_token": token})
    web.get("/admin/rq/")
    cookie = web.client.get_cookie("_csrf_token", path="/admin/rq")
    assert cookie is not None and cookie.http_only is False
    assert web.post("/admin/rq/job/to-delete/delete").status_code == 400
    assert get_redis().exists("rq:job:to-delete")
    ok = web.post("/admin/rq/job/to-delete/delete", headers={"X-CSRFToken": cookie.value})
    assert ok.status_code == 200 and ok.get_json() == {"status": "OK"}
    assert not get_redis().exists("rq:job:to-delete")
    assert web.get("/admin/rq/requeue/notifications").status_code == 405  # no GET side effect


def test_outbox_state_unchanged_by_reading_reports(web):
    n = _outcome(clock.now() - timedelta(days=3), None)
    sign_in(web, "admin")
    for path in ("/reports/overdue", "/reports/sla", "/reports/delivery", "/reports/engine"):
        web.get(path)
    db.session.expire_all()
    assert db.session.get(Notification, n.id).state in (NState.PENDING, NState.QUEUED)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Notification)) == 1
