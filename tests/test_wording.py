"""Issue 17.8: words that said something untrue (windows under a minute, quiet hours called
business mornings, business hours mentioned when not enforced, raw UTC in the timeline, best
days missing from the trend) and the favicon every page asked for."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app import clock
from app.models import Stage
from app.notifications.send import deliver
from app.pipeline import services
from app.reports import overdue, queries
from tests import factories as f
from tests.web import Web, sign_in

NIGHT = datetime(2026, 12, 2, 22, 30, tzinfo=UTC)


def test_favicon_is_ours_and_every_page_links_it(client):
    with client.get("/favicon.ico") as response:
        assert response.status_code == 200
        assert response.data[:4] == b"\x00\x00\x01\x00"  # an ICO file
    page = client.get("/login").get_data(as_text=True)
    assert 'rel="icon"' in page and "favicon.svg" in page
    with client.get("/static/favicon.svg") as svg:
        assert svg.status_code == 200 and b"<svg" in svg.data


def test_the_timeline_names_the_hold_in_words_and_the_readers_time(app, db, make_app):
    app.config.update(QUIET_HOURS_ENFORCED=True, QUIET_HOURS_START=21, QUIET_HOURS_END=8)
    recruiter = f.user("recruiter")
    a = f.application(stage=Stage.SUBMITTED, position_=f.position(owner=recruiter))
    db.session.commit()
    with clock.frozen(NIGHT):
        n = services.move_stage(a, Stage.CLIENT_REVIEW, actor=None)
        n.due_at = NIGHT  # a retry that came due at night
        db.session.commit()
        assert deliver([n.id])["held"] == 1
        web = sign_in(Web(make_app().test_client()), recruiter)
        page = web.get(f"/candidates/{a.candidate_id}")
    text = page.get_data(as_text=True)
    assert "held for the candidate&#39;s quiet hours" in text or "held for the candidate's" in text
    assert "limit: 2026-12-03T08:00" not in text  # the old note's raw UTC stamp


@pytest.mark.app_config(BUSINESS_HOURS_ENFORCED=False, QUIET_HOURS_ENFORCED=True)
def test_business_hours_are_not_mentioned_when_not_enforced(db, make_app):
    manager = f.user("manager")
    db.session.commit()
    web = sign_in(Web(make_app().test_client()), manager)
    for url in ("/candidates/new", "/reports/sla"):
        page = web.get(url)
        assert page.status_code == 200, url
        assert "business hours" not in page.get_data(as_text=True), url


def test_a_day_with_nothing_overdue_is_a_zero_on_the_trend(app):
    with clock.frozen(datetime(2026, 12, 2, 12, 0, tzinfo=UTC)):
        overdue.refresh()
        series = queries.trend(30)
    assert [(day.isoformat(), sum(v.values())) for day, v in series] == [("2026-12-02", 0)]
