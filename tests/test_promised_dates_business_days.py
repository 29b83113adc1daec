"""Issue 17.4: every date a candidate is promised follows the business-day calendar of the
reports (HOLIDAY_COUNTRY, EXTRA_HOLIDAYS): never a bank holiday, a weekend or a closure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from app import clock
from app.extensions import db
from app.models import Notification, PositionStatus, Stage
from app.notifications.render import render
from app.pipeline import services
from app.pipeline.lifecycle import close_position
from tests import factories as f

HOLD_DAY = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)  # Wednesday; +30 days: Fri 1 Jan 2027


def _hold_email_text() -> str:
    a = f.application(stage=Stage.SUBMITTED)
    db.session.commit()
    with clock.frozen(HOLD_DAY):
        close_position(a.position, actor=None, status=PositionStatus.ON_HOLD, reason="Budget")
        n = db.session.scalar(
            sa.select(Notification).where(Notification.kind == "position_on_hold")
        )
        return render(n).text


def test_the_on_hold_email_never_promises_news_on_new_years_day(app):
    text = _hold_email_text()
    assert "Friday 1 January 2027" not in text
    assert "by Monday 4 January 2027" in text


@pytest.mark.app_config(EXTRA_HOLIDAYS="2027-01-04")
def test_an_agency_closure_moves_the_promise_too(app):
    assert "by Tuesday 5 January 2027" in _hold_email_text()


@pytest.mark.app_config(HOLIDAY_COUNTRY="")
def test_weekends_only_when_no_country_is_set(app):
    assert "by Friday 1 January 2027" in _hold_email_text()


def test_still_deciding_pushes_the_date_by_business_days(app):
    """The sweep's new date: two business days after the missed one, over the holiday."""
    a = f.application(stage=Stage.SUBMITTED)
    db.session.commit()
    promised = datetime(2026, 12, 31, 12, 0, tzinfo=UTC)  # Thursday
    with clock.frozen(promised - timedelta(days=2)):
        services.record_interview(
            a,
            actor=None,
            interview_at=promised - timedelta(days=1),
            interviewers=None,
            promised_response_at=promised,
            client_contact=None,
            next_step=None,
        )
    services.sweep_promised_dates(promised + timedelta(hours=1))
    n = db.session.scalar(sa.select(Notification).where(Notification.kind == "still_deciding"))
    assert "by Tuesday 5 January 2027" in render(n).text  # not Saturday 2 January
