"""Issue 17.4: every date a candidate is promised follows the business-day calendar of the
reports (HOLIDAY_COUNTRY, EXTRA_HOLIDAYS): never a bank holiday, a weekend or a closure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from app import clock
from app.extensions import db
from app.models import Notification, OutcomeReason, PositionStatus, Stage
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


# -- a promised date is the candidate's day (issue 18, make simulate's promises_kept_pct) ------

# Thursday 3 December 2026; London is on UTC. 17:00 in London is 22:30 in Kolkata, already in
# the candidate's quiet hours (21:00 to 08:00): "still deciding" sent once the date passed
# would reach them the next morning, after the day they were promised.
PROMISED = datetime(2026, 12, 3, 17, 0, tzinfo=UTC)
KOLKATA_QUIET = datetime(2026, 12, 3, 15, 30, tzinfo=UTC)  # 21:00 in Kolkata


@pytest.fixture
def promise_rules(app):
    app.config.update(
        QUIET_HOURS_ENFORCED=True,
        QUIET_HOURS_START=21,
        QUIET_HOURS_END=8,
        BUSINESS_HOURS_ENFORCED=True,
        BUSINESS_HOURS_START=9,
        BUSINESS_HOURS_END=18,
        UNDO_WINDOW_SECONDS=1800,
        CANDIDATE_DIGEST_WINDOW_SECONDS=300,
        MAX_STATUS_EMAILS_PER_DAY=3,
    )
    return app


def _promised(zone: str, promised: datetime = PROMISED):
    a = f.application(stage=Stage.CLIENT_REVIEW, candidate_=f.candidate(timezone=zone))
    db.session.commit()
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
    return a


def _owed(a, kind: str) -> list[Notification]:
    return list(
        db.session.scalars(
            sa.select(Notification)
            .where(Notification.application_id == a.id, Notification.kind == kind)
            .order_by(Notification.id)
        )
    )


def test_still_deciding_reaches_kolkata_on_the_promised_day_before_its_night(promise_rules):
    kolkata, london = _promised("Asia/Kolkata"), _promised("Europe/London")
    # An hour before Kolkata's quiet hours, nobody has been told anything yet ...
    assert services.sweep_promised_dates(KOLKATA_QUIET - timedelta(hours=1)) == 0
    # ... 45 minutes before them, the Kolkata candidate is owed "still deciding", due while
    # it is still the promised Thursday evening there; London's date has not passed.
    assert services.sweep_promised_dates(KOLKATA_QUIET - timedelta(minutes=45)) == 1
    (n,) = _owed(kolkata, "still_deciding")
    assert n.due_at < KOLKATA_QUIET
    assert "by Monday 7 December 2026" in render(n).text
    assert _owed(london, "still_deciding") == []
    # London hears once its date has passed, at 17:00 its own evening.
    assert services.sweep_promised_dates(PROMISED + timedelta(minutes=1)) == 1
    (n,) = _owed(london, "still_deciding")
    assert n.due_at == PROMISED + timedelta(minutes=6)


def test_sydney_hears_in_its_morning_of_the_promised_date(promise_rules):
    """17:00 in London is 04:00 on Friday in Sydney: their promised day is Friday, and
    08:00 there is in time."""
    sydney = _promised("Australia/Sydney")
    assert services.sweep_promised_dates(PROMISED + timedelta(minutes=1)) == 1
    (n,) = _owed(sydney, "still_deciding")
    assert n.due_at == datetime(2026, 12, 3, 21, 0, tzinfo=UTC)  # Friday 08:00 in Sydney


def test_an_outcome_decided_on_the_promised_day_is_not_held_to_the_next_morning(promise_rules):
    """Decided at 17:30 in Kolkata: with the undo window it would leave at 18:00, after their
    business hours, and wait for Friday 09:00. The promised day caps that wait (quiet hours
    still apply): it leaves before their night."""
    kolkata = _promised("Asia/Kolkata")
    decided = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)  # 17:30 in Kolkata
    with clock.frozen(decided):
        n = services.move_stage(
            kolkata, Stage.REJECTED, actor=None, reason=OutcomeReason.CLIENT_DECLINED
        )
    assert decided + timedelta(minutes=30) <= n.due_at < KOLKATA_QUIET


def test_without_a_promise_for_the_day_outcomes_still_wait_for_business_hours(promise_rules):
    """The cap is the promised day's, nothing else's: the same decision on an application
    whose date is next week waits for the Kolkata morning, as before; one decided too late
    for the promised evening does not go out in the candidate's night."""
    decided = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
    next_week = _promised("Asia/Kolkata", PROMISED + timedelta(days=7))
    late = _promised("Asia/Kolkata")
    with clock.frozen(decided):
        n = services.move_stage(
            next_week, Stage.REJECTED, actor=None, reason=OutcomeReason.CLIENT_DECLINED
        )
    friday_morning = datetime(2026, 12, 4, 3, 30, tzinfo=UTC)  # 09:00 in Kolkata
    assert n.due_at == friday_morning
    with clock.frozen(KOLKATA_QUIET):
        n = services.move_stage(
            late, Stage.REJECTED, actor=None, reason=OutcomeReason.CLIENT_DECLINED
        )
    assert n.due_at == friday_morning


def test_every_date_named_in_a_still_deciding_email_is_kept(promise_rules):
    """A client silent for weeks: each "still deciding" names the next date, and the sweep
    writes again by it. After three the dates are a week (five business days) apart."""
    london = _promised("Europe/London")
    moment, dates = PROMISED, []
    for _ in range(5):
        moment += timedelta(minutes=1)
        assert services.sweep_promised_dates(moment) == 1
        dates.append(db.session.get(type(london), london.id).promised_response_at)
        moment = dates[-1]
    gaps = [(b - a).days for a, b in zip([PROMISED, *dates], dates, strict=False)]
    # Thu 3 -> Mon 7 -> Wed 9 -> Fri 11 December (two business days), then five: Fri 18,
    # then Tue 29 (Christmas, and Boxing Day's Monday substitute, are not business days).
    assert gaps == [4, 2, 2, 7, 11]
    assert len(_owed(london, "still_deciding")) == 5
