"""The SLA and delivery dashboards served from their precomputed snapshot show exactly the
figures the straightforward computation gives (app/reports/snapshots.py); a snapshot that
does not cover the request, or is stale, is not used."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from app import clock
from app.extensions import db
from app.models import OutcomeReason, Stage
from app.notifications.events import apply_events
from app.notifications.send import deliver
from app.pipeline import services
from app.reports import snapshots
from tests import factories as f
from tests.web import Web
from workers.schedule import SCHEDULE

PASSWORD = "correct horse"
MONDAY = datetime(2026, 11, 16, 9, tzinfo=UTC)
NOW = MONDAY + timedelta(days=9, hours=3)  # Wednesday of the next week


@pytest.fixture
def web(app, make_app):
    web = Web(make_app().test_client())
    user = f.user("manager", password=PASSWORD)
    web.post("/login", data={"email": user.email, "password": PASSWORD})
    return web


def _outcome(owned_at, sent_after, *, position=None, reason=OutcomeReason.HIRED):
    with clock.frozen(owned_at) as clk:
        a = f.application(stage=Stage.INTERVIEW, position_=position)
        db.session.commit()
        stage = Stage.HIRED if reason == OutcomeReason.HIRED else Stage.REJECTED
        n = services.move_stage(a, stage, actor=None, reason=reason)
        if sent_after is not None:
            clk.current = owned_at + sent_after
            deliver([n.id])
    return n


def _promise(made_at, promised, *, kept: bool):
    with clock.frozen(made_at) as clk:
        a = f.application(stage=Stage.CLIENT_REVIEW)
        db.session.commit()
        n = services.record_interview(
            a,
            actor=None,
            interview_at=made_at + timedelta(days=1),
            interviewers="Ada",
            promised_response_at=promised,
            client_contact="Ada",
            next_step="Wait",
        )
        deliver([n.id])
        if kept:
            clk.current = promised - timedelta(hours=2)
            services.move_stage(a, Stage.OFFER, actor=None)
        else:
            clk.current = promised + timedelta(hours=1)
            services.sweep_promised_dates(clk.current)


@pytest.fixture
def history(app):
    """Two recruiters, two clients, outcomes told fast, late and not at all, promises kept and
    missed, and deliveries, bounces, drops and a failure over two weeks."""
    riley, sam = f.user("recruiter", name="Riley"), f.user("recruiter", name="Sam")
    north = f.position(owner=riley, client_=f.client("Northwind"))
    south = f.position(owner=sam, client_=f.client("Southgate"))
    sent = []
    for day, hours, position in (
        (0, 1, north), (0, 2, north), (0, 30, south), (1, 5, south), (2, 70, north),
        (7, 1, south), (7, 3, north), (8, 4, north),
    ):  # fmt: skip
        sent.append(
            _outcome(MONDAY + timedelta(days=day), timedelta(hours=hours), position=position)
        )
    _outcome(MONDAY + timedelta(days=1), None, position=south)  # never told: late
    _outcome(NOW - timedelta(hours=1), None, position=north)  # owed an hour ago: not due yet
    _promise(MONDAY, MONDAY + timedelta(days=3), kept=True)
    _promise(MONDAY, MONDAY + timedelta(days=4), kept=False)
    _promise(MONDAY + timedelta(days=7), MONDAY + timedelta(days=8), kept=False)
    failing = f.candidate(email=None)
    a = f.application(stage=Stage.INTERVIEW, candidate_=failing)
    db.session.commit()
    with clock.frozen(MONDAY + timedelta(days=8)) as clk:
        n = services.move_stage(a, Stage.HIRED, actor=None, reason=OutcomeReason.HIRED)
        clk.current += timedelta(hours=1)
        deliver([n.id])  # no address: failed
        events = [
            {"event": "delivered", "notification_id": str(sent[0].id)},
            {"event": "delivered", "notification_id": str(sent[5].id)},
            {"event": "bounce", "type": "bounce", "notification_id": str(sent[1].id),
             "reason": "550 mailbox unavailable"},
            {"event": "dropped", "notification_id": str(sent[6].id), "reason": "Bounced Address"},
        ]  # fmt: skip
        for e in events:
            e.update(sg_event_id=uuid.uuid4().hex, timestamp=int(clk.current.timestamp()))
        apply_events(events)
    db.session.commit()
    return riley


def main_of(web, path: str) -> str:
    page = web.get(path).get_data(as_text=True)
    main = page.split("<main", 1)[1].split("</main>", 1)[0]
    main = re.sub(r'<p [^>]*data-testid="as-of".*?</p>', "", main, flags=re.S)
    return re.sub(r"chart-[0-9a-f-]{36}", "chart-id", main)  # each chart's own random id


PAGES = (
    "/reports/sla",
    "/reports/delivery",
    "/reports/delivery?days=7",
    "/reports/delivery?days=90",
)


def test_pages_from_the_snapshot_show_the_figures_computed_live(web, history):
    with clock.frozen(NOW):
        live = {path: main_of(web, path) for path in PAGES}
        assert 'data-testid="as-of"' not in web.get("/reports/sla").get_data(as_text=True)
        snapshots.refresh()
        for path in PAGES:
            page = web.get(path).get_data(as_text=True)
            assert 'data-testid="as-of"' in page, path
            assert main_of(web, path) == live[path], path
    # The figures are not all zeros: the comparison means something.
    assert "6 of 10 due" in live["/reports/sla"]
    assert "550 mailbox unavailable" in live["/reports/delivery"]


def test_the_snapshot_holds_the_straightforward_figures(app, history):
    from app.reports import dashboards

    with clock.frozen(NOW):
        straight = dashboards.sla_report(snapshots.SLA_WEEKS)
        promises = dashboards.promises_kept(4)
        delivery = dashboards.delivery_per_day(30)
        snapshots.refresh()
        fast = snapshots.sla_report(snapshots.SLA_WEEKS).value
        fast_promises = snapshots.promises_kept(4).value
        fast_delivery = snapshots.delivery_per_day(30).value

    def figures(latency):
        return (latency.count, latency.median, latency.p95, latency.told_in_sla, latency.due)

    assert figures(fast.overall) == figures(straight.overall)
    assert figures(straight.overall)[0] == 8 and straight.overall.due == 10
    assert [(w, figures(s)) for w, s in fast.weeks] == [(w, figures(s)) for w, s in straight.weeks]
    for fast_rows, rows in (
        (fast.by_owner, straight.by_owner),
        (fast.by_client, straight.by_client),
    ):
        assert [(n, figures(s)) for n, s in fast_rows] == [(n, figures(s)) for n, s in rows]
    assert {"Riley", "Sam"} <= {n for n, _ in fast.by_owner}
    assert fast_promises == promises and (promises.made, promises.kept) == (3, 1)
    assert fast_delivery == delivery
    assert sum(per["bounced"] + per["dropped"] + per["failed"] for _, per in delivery) == 3


def test_a_filter_or_another_window_is_computed_live(web, history):
    riley = history
    with clock.frozen(NOW):
        snapshots.refresh()
        assert snapshots.sla_report(4) is None
        assert snapshots.sla_report(snapshots.SLA_WEEKS, owner_id=riley.id) is None
        page = web.get(f"/reports/sla?recruiter={riley.id}").get_data(as_text=True)
        assert "Weekly series for Riley" in page
        assert (
            'data-testid="sla-recruiters"' in page
            and "Sam" not in page.split('data-testid="sla-recruiters"')[1].split("</table>")[0]
        )


def test_figures_move_on_at_the_next_refresh_and_a_stale_snapshot_is_not_used(web, history, app):
    with clock.frozen(NOW) as clk:
        snapshots.refresh()
        before = main_of(web, "/reports/sla")
        _outcome(NOW - timedelta(hours=2), timedelta(hours=1))  # one more told, after the refresh
        clk.current = NOW
        assert main_of(web, "/reports/sla") == before  # as of the refresh, which the page says
        snapshots.refresh()
        after = main_of(web, "/reports/sla")
        assert after != before
        _outcome(NOW - timedelta(hours=2), timedelta(hours=1))
        clk.current = NOW + timedelta(seconds=3 * app.config["DASHBOARD_REFRESH_SECONDS"] + 1)
        assert snapshots.sla_report(snapshots.SLA_WEEKS) is None  # too old: computed live
        page = web.get("/reports/sla").get_data(as_text=True)
        assert 'data-testid="as-of"' not in page


def test_a_snapshot_of_another_week_or_sla_setting_is_not_used(app, make_app, history):
    with clock.frozen(NOW) as clk:
        snapshots.refresh()
        clk.current = NOW + timedelta(days=6)  # next week: the window moved
        other = make_app(DASHBOARD_REFRESH_SECONDS=10 * 86400)
        with other.app_context():
            assert snapshots.sla_report(snapshots.SLA_WEEKS) is None
            assert snapshots.promises_kept(4) is None
            assert snapshots.delivery_per_day(30) is None
    stricter = make_app(OVERDUE_SLA_BUSINESS_DAYS=3)
    with stricter.app_context(), clock.frozen(NOW):
        assert snapshots.sla_report(snapshots.SLA_WEEKS) is None
        assert snapshots.delivery_per_day(30) is not None
        db.session.remove()


def test_the_scheduler_refreshes_the_snapshots():
    entry = next(p for p in SCHEDULE if p.func == "app.reports.snapshots:refresh")
    assert entry.every == "DASHBOARD_REFRESH_SECONDS" and entry.queue == "maintenance"
