"""One definition of a business day (app/business_days.py), used by the reports, the engine
(when a delayed message may leave) and the pipeline (the reminder before a promised date)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from app import clock
from app.business_days import BusinessCalendar, get_calendar, parse_extra
from app.extensions import db
from app.models import OutcomeReason, Stage, Task
from app.pipeline import services
from app.reports import overdue
from tests import factories as f

LONDON = ZoneInfo("Europe/London")
# Thursday 24 December 2026, 19:00 in London (GMT): Friday 25 is Christmas Day, Saturday 26
# Boxing Day with its substitute bank holiday on Monday 28.
CHRISTMAS_EVE_EVENING = datetime(2026, 12, 24, 19, 0, tzinfo=UTC)


def test_shift_skips_weekends_and_keeps_the_time_of_day():
    cal = BusinessCalendar(LONDON)
    friday = datetime(2026, 11, 13, 11, 0, tzinfo=UTC)
    assert cal.shift(friday, 1) == datetime(2026, 11, 16, 11, 0, tzinfo=UTC)  # Monday
    assert cal.shift(datetime(2026, 11, 16, 10, tzinfo=UTC), -1) == datetime(
        2026, 11, 13, 10, tzinfo=UTC
    )
    saturday = datetime(2026, 11, 14, 10, tzinfo=UTC)
    assert cal.shift(saturday, -1) == datetime(2026, 11, 13, 10, tzinfo=UTC)
    assert cal.shift(friday, 0) == friday
    assert cal.days_between(friday, datetime(2026, 11, 17, 9, tzinfo=UTC)) == 2  # Mon, Tue


def test_public_holidays_and_agency_closures_are_not_business_days():
    cal = BusinessCalendar(LONDON, "GB", "ENG", parse_extra("2026-12-24, 2026-12-31"))
    assert not cal.is_business_day(date(2026, 12, 25))  # Christmas (Friday)
    assert not cal.is_business_day(date(2026, 12, 28))  # Boxing Day, substitute Monday
    assert not cal.is_business_day(date(2026, 12, 24))  # agency closure
    assert cal.is_business_day(date(2026, 12, 29))
    wednesday = datetime(2026, 12, 23, 15, tzinfo=UTC)
    # Thu 24 closed, Fri 25 and Mon 28 holidays, weekend: the next business day is Tue 29.
    assert cal.shift(wednesday, 1) == datetime(2026, 12, 29, 15, tzinfo=UTC)
    assert cal.days_between(wednesday, datetime(2026, 12, 29, 9, tzinfo=UTC)) == 1


def test_local_time_survives_the_clock_change():
    cal = BusinessCalendar(LONDON)
    before = datetime(2026, 10, 23, 8, 30, tzinfo=UTC)  # Friday 09:30 BST
    assert cal.shift(before, 1) == datetime(2026, 10, 26, 9, 30, tzinfo=UTC)  # Monday 09:30 GMT


def test_calendar_follows_configuration(make_app):
    app = make_app(HOLIDAY_COUNTRY="", EXTRA_HOLIDAYS="2026-11-16")
    with app.app_context():
        cal = get_calendar()
        assert cal.is_business_day(date(2026, 12, 25))  # no public holidays configured
        assert not cal.is_business_day(date(2026, 11, 16))
        t = overdue.thresholds(datetime(2026, 11, 18, 12, tzinfo=UTC))
        # Seven business days back from Wednesday, skipping the closure on Monday 16th.
        assert t.silent_before == datetime(2026, 11, 6, 12, tzinfo=UTC)
        assert t.sla_before == datetime(2026, 11, 17, 12, tzinfo=UTC)


# -- the engine: a delayed message waits for the next business morning -------------------------


def _rejection_due(app, at: datetime, timezone: str | None = None) -> datetime:
    with app.app_context(), clock.frozen(at):
        a = f.application(stage=Stage.INTERVIEW, candidate_=f.candidate(timezone=timezone))
        db.session.commit()
        n = services.move_stage(a, Stage.REJECTED, actor=None, reason=OutcomeReason.CLIENT_DECLINED)
        due = n.due_at
        db.session.remove()
    return due


@pytest.mark.parametrize(
    "settings,expected",
    [
        # Christmas Day, the weekend and the Boxing Day substitute: Tuesday 29, 09:00.
        ({}, datetime(2026, 12, 29, 9, 0, tzinfo=UTC)),
        # The agency's own closure on top: Wednesday 30.
        ({"EXTRA_HOLIDAYS": "2026-12-29"}, datetime(2026, 12, 30, 9, 0, tzinfo=UTC)),
        # No public holidays configured: weekends only, so Friday 25.
        ({"HOLIDAY_COUNTRY": ""}, datetime(2026, 12, 25, 9, 0, tzinfo=UTC)),
    ],
)
def test_a_rejection_owed_on_christmas_eve_waits_for_the_next_business_morning(
    app, make_app, settings, expected
):
    engine = make_app(BUSINESS_HOURS_ENFORCED=True, UNDO_WINDOW_SECONDS=1800, **settings)
    assert _rejection_due(engine, CHRISTMAS_EVE_EVENING, "Europe/London") == expected


def test_business_hours_are_the_candidates_own(app, make_app):
    engine = make_app(BUSINESS_HOURS_ENFORCED=True, UNDO_WINDOW_SECONDS=1800)
    # 19:30 UTC on Christmas Eve is 14:30 in New York: still their business day.
    due = _rejection_due(engine, CHRISTMAS_EVE_EVENING, "America/New_York")
    assert due == CHRISTMAS_EVE_EVENING + timedelta(minutes=30)


# -- the pipeline: the recruiter's reminder a business day before a promised date ---------------


def test_the_reminder_before_a_promised_date_skips_bank_holidays(db):
    a = f.application()
    db.session.commit()
    promised = datetime(2026, 12, 29, 15, 0, tzinfo=UTC)  # Tuesday after Christmas
    with clock.frozen(datetime(2026, 12, 21, 9, 0, tzinfo=UTC)):
        services.record_interview(
            a,
            actor=None,
            interview_at=datetime(2026, 12, 22, 10, 0, tzinfo=UTC),
            interviewers=None,
            promised_response_at=promised,
            client_contact=None,
            next_step=None,
        )
    task = db.session.scalar(sa.select(Task).where(Task.kind == "promised_date_due"))
    # Monday 28 is a bank holiday, then the weekend, then Christmas Day: Thursday 24.
    assert task.due_at == datetime(2026, 12, 24, 15, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("country", "subdivision"),
    [("GB", "ENG"), ("GB", "SCT"), ("US", "CA"), ("DE", "BY"), ("AX", None)],
)
def test_a_country_loaded_alone_has_the_packages_holidays(country, subdivision):
    """business_days imports one country's module (not all ~250); Åland's imports Finland's,
    so it goes the package's own way. Either way the dates are the package's."""
    import holidays

    from app.business_days import country_holidays

    ours = country_holidays(country, subdivision)
    theirs = holidays.country_holidays(country, subdiv=subdivision)
    for year in (2025, 2026, 2027):  # a year is worked out when a date of it is asked about
        assert (date(year, 1, 1) in ours) is (date(year, 1, 1) in theirs)
    assert dict(ours) == dict(theirs) and len(ours) > 20
